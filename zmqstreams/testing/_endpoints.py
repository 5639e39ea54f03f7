"""Fresh endpoints to bind, one transport at a time: ``zmq_transport`` (inproc, ipc and tcp in
turn) and ``zmq_endpoint``, so tests never collide on a name, a path or a port.

An ipc endpoint lives in a temporary directory, made short enough for ``sockaddr_un``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
import zmq

__all__ = ("Endpoints", "_zmq_endpoints", "zmq_endpoint", "zmq_transport")

_TRANSPORTS = [
    pytest.param("inproc", id="inproc"),
    pytest.param(
        "ipc",
        id="ipc",
        marks=pytest.mark.skipif(not zmq.has("ipc"), reason="libzmq has no ipc transport"),
    ),
    pytest.param("tcp", id="tcp"),
]

_names = itertools.count()


@pytest.fixture(params=_TRANSPORTS)
def zmq_transport(request: pytest.FixtureRequest) -> str:
    """The transport of ``zmq_endpoint`` and the pair fixtures: inproc, ipc and tcp in turn.

    Choose others with ``@pytest.mark.parametrize("zmq_transport", ["tcp"])``.
    """
    return str(request.param)


class Endpoints:
    """Fresh bindable endpoints of one transport."""

    def __init__(self, transport: str, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.transport = transport
        self._tmp_path_factory = tmp_path_factory
        #: Short directories made outside pytest's temp tree, removed by ``cleanup()``.
        self._short_dirs: list[str] = []

    def new(self) -> str:
        if self.transport == "inproc":
            return f"inproc://zmqstreams-testing-{os.getpid()}-{next(_names)}"
        if self.transport == "ipc":
            directory = str(self._tmp_path_factory.mktemp("ipc"))
            if len(directory) > 90:  # an ipc path must fit in sockaddr_un (about 107 bytes)
                directory = tempfile.mkdtemp(prefix="zs-")
                self._short_dirs.append(directory)
            return f"ipc://{directory}/s{next(_names)}"
        if self.transport == "tcp":
            return "tcp://127.0.0.1:*"
        raise pytest.UsageError(f"zmq_transport: unknown transport {self.transport!r}")

    def cleanup(self) -> None:
        for directory in self._short_dirs:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def _zmq_endpoints(
    zmq_transport: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoints]:
    endpoints = Endpoints(zmq_transport, tmp_path_factory)
    yield endpoints
    endpoints.cleanup()


@pytest.fixture
def zmq_endpoint(_zmq_endpoints: Endpoints) -> str:
    """A fresh bindable endpoint: ``inproc://<unique>``, ``ipc://<temp dir>/…`` or
    ``tcp://127.0.0.1:*`` (bind it, then read the port from ``transport.bindings()``)."""
    return _zmq_endpoints.new()
