"""Streams that a test opens and the plugin closes: ``zmq_stream_factory``, and the connected
pairs of ``zmq_pair_factory`` and ``zmq_pair`` on fresh endpoints.

Every stream is closed, and waited for, after the test, even when it fails, so a failing
test does not leak sockets into the next one.  A PUB/SUB pair is handed over only once
messages get through (the slow-joiner delay is over).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import pytest
import zmq

from .._factory import create_zmq_stream
from .._stream import ZmqStream
from ._endpoints import Endpoints

__all__ = (
    "CLOSE_TIMEOUT",
    "PairFactory",
    "StreamFactory",
    "zmq_pair",
    "zmq_pair_factory",
    "zmq_stream_factory",
)

#: Seconds that teardown waits for the streams of ``zmq_stream_factory`` to finish closing.
CLOSE_TIMEOUT = 5.0


class StreamFactory:
    """``await zmq_stream_factory(zmq_type, **kwargs)``: ``create_zmq_stream()`` that remembers
    its streams, to close them all at the end of the test."""

    def __init__(self) -> None:
        self._streams: list[ZmqStream[Any]] = []

    async def __call__(self, zmq_type: int, /, **kwargs: Any) -> ZmqStream[Any]:
        stream: ZmqStream[Any] = await create_zmq_stream(zmq_type, **kwargs)
        self._streams.append(stream)
        return stream

    async def aclose(self) -> None:
        """Close every stream, then wait (at most ``CLOSE_TIMEOUT`` s) until they are closed."""
        for stream in self._streams:
            stream.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                for stream in self._streams:
                    await stream.wait_closed()
        except TimeoutError:
            pytest.fail(f"streams did not finish closing within {CLOSE_TIMEOUT} s", pytrace=False)


class PairFactory:
    """``await zmq_pair_factory(bind_type, connect_type)``: ``(bound, connected)`` streams."""

    def __init__(self, streams: StreamFactory, endpoints: Endpoints) -> None:
        self._streams = streams
        self._endpoints = endpoints

    async def __call__(
        self,
        bind_type: int,
        connect_type: int,
        /,
        *,
        endpoint: str | None = None,
        bind_kwargs: Mapping[str, Any] | None = None,
        connect_kwargs: Mapping[str, Any] | None = None,
        subscribe: Iterable[bytes] = (b"",),
    ) -> tuple[ZmqStream, ZmqStream]:
        """Bind a ``bind_type`` stream to ``endpoint`` (default: a fresh one of ``zmq_transport``)
        and connect a ``connect_type`` stream to it; the kwargs go to ``create_zmq_stream()``.

        A SUB side subscribes to each prefix of ``subscribe`` (everything by default).  A PUB/SUB
        pair is returned once a message gets through (the slow-joiner delay is over); the probe
        messages used to find out are all read, none is left for the test.
        """
        bound = await self._streams(
            bind_type, bind=endpoint or self._endpoints.new(), **(bind_kwargs or {})
        )
        assert bound.transport is not None
        address = next(iter(bound.transport.bindings()))
        connected = await self._streams(connect_type, connect=address, **(connect_kwargs or {}))
        prefixes = list(subscribe)
        for stream, zmq_type in ((bound, bind_type), (connected, connect_type)):
            if zmq_type == zmq.SUB:
                assert stream.transport is not None
                for prefix in prefixes:
                    stream.transport.subscribe(prefix)
        if {bind_type, connect_type} == {zmq.PUB, zmq.SUB} and prefixes:
            pub, sub = (bound, connected) if bind_type == zmq.PUB else (connected, bound)
            await _wait_subscribed(pub, sub, prefixes[0])
        return bound, connected


@pytest.fixture
async def zmq_stream_factory(zmq_backend: str) -> AsyncIterator[StreamFactory]:
    """``await zmq_stream_factory(zmq.PUSH, connect=...)``: ``create_zmq_stream()`` whose
    streams are closed, and waited for, after the test, even when it fails."""
    factory = StreamFactory()
    try:
        yield factory
    finally:
        await factory.aclose()


@pytest.fixture
def zmq_pair_factory(zmq_stream_factory: StreamFactory, _zmq_endpoints: Endpoints) -> PairFactory:
    """``await zmq_pair_factory(zmq.ROUTER, zmq.DEALER)``: a stream of the first type bound to a
    fresh endpoint of ``zmq_transport`` and one of the second type connected to it (see
    `PairFactory`)."""
    return PairFactory(zmq_stream_factory, _zmq_endpoints)


async def _wait_subscribed(pub: ZmqStream, sub: ZmqStream, prefix: bytes) -> None:
    """Publish numbered probes until one arrives, then read the ones sent after it.

    Once a probe got through, every later one will (one PUB to one SUB keeps the order), so
    reading up to the last probe sent leaves nothing of ours in the SUB stream.
    """
    async with asyncio.timeout(CLOSE_TIMEOUT):
        for number in itertools.count():
            last = [prefix + b"\0zmqstreams-testing-probe-%d" % number]
            pub.write(last)
            try:
                async with asyncio.timeout(0.01):
                    got = await sub.read()
            except TimeoutError:
                continue
            while got != last:
                got = await sub.read()
            return


@pytest.fixture
async def zmq_pair(zmq_pair_factory: PairFactory) -> tuple[ZmqStream, ZmqStream]:
    """Two connected PAIR streams over ``zmq_transport``: ``server, client = zmq_pair``."""
    return await zmq_pair_factory(zmq.PAIR, zmq.PAIR)
