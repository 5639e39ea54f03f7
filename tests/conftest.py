"""Our tests use the plugin we ship: ``zmqstreams.testing`` gives the leak check around every
async test, the time limit, the stream fixtures (``zmq_stream_factory``, ``zmq_pair``,
``zmq_endpoint``) and the fault seam (``socket_faults``).

anyio's pytest plugin runs the async tests (``pytest.mark.anyio``), on the default asyncio loop
and on uvloop: the plugin's ``ANYIO_BACKENDS``.
"""

from __future__ import annotations

from typing import Any

import pytest

from zmqstreams.testing import ANYIO_BACKENDS

pytest_plugins = ["zmqstreams.testing"]


@pytest.fixture(params=ANYIO_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param  # type: ignore[no-any-return]
