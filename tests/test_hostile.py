"""Hostile or oversized input: MAXMSGSIZE, and memory bounds under 200 MB write and read floods."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
import zmq
from _helpers_proc import Peer, rss, wait_event

import zmqstreams

from helpers import measured

pytestmark = pytest.mark.anyio

#: Memory is not a property of the loop: the floods run on asyncio only.
ASYNCIO_ONLY = pytest.mark.parametrize("anyio_backend", [("asyncio", {})], ids=["asyncio"])

LIMIT = 1024  # MAXMSGSIZE for the hostile-peer test, in bytes

FLOOD_BYTES = 200 * 1024 * 1024
FLOOD_MESSAGE = 64 * 1024
FLOOD_COUNT = FLOOD_BYTES // FLOOD_MESSAGE  # 3200 messages
#: ZeroMQ's own queues are capped with small HWMs so that what is measured is the stream's.
HWM = 4
#: Generous bound on peak RSS growth: the stream buffers are 64 KiB, ZeroMQ's a few messages.
RSS_BOUND = 48 * 1024 * 1024


def _endpoint(kind: str, tmp_path: Path) -> str:
    return "tcp://127.0.0.1:*" if kind == "tcp" else f"ipc://{tmp_path}/hostile.sock"


async def _drain_events(stream: zmqstreams.ZmqStream) -> list[zmqstreams.SocketEvent]:
    """Monitor events already delivered, without waiting for more."""
    events = []
    while True:
        try:
            async with asyncio.timeout(0):
                events.append(await stream.read_event())
        except TimeoutError:
            return events


@pytest.mark.parametrize("kind", ["tcp", "ipc"])
@pytest.mark.parametrize("how", ["setsockopt", "zmq_sock"])
async def test_oversized_frame_disconnects_peer_only(kind: str, how: str, tmp_path: Path) -> None:
    """MAXMSGSIZE: an oversized frame is never returned, its sender is cut off, others go on."""
    if how == "setsockopt":
        server = await zmqstreams.create_zmq_stream(zmq.PULL)
        assert server.transport is not None
        server.transport.setsockopt(zmq.MAXMSGSIZE, LIMIT)
        await server.transport.enable_monitor()
        address = await server.transport.bind(_endpoint(kind, tmp_path))
    else:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PULL)
        sock.setsockopt(zmq.MAXMSGSIZE, LIMIT)
        server = await zmqstreams.create_zmq_stream(
            zmq.PULL, zmq_sock=sock, bind=_endpoint(kind, tmp_path)
        )
        assert server.transport is not None
        await server.transport.enable_monitor()
        address = next(iter(server.transport.bindings()))
    good = await zmqstreams.create_zmq_stream(zmq.PUSH)
    assert good.transport is not None
    await good.transport.enable_monitor()
    await good.transport.connect(address)
    hostile: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUSH)
    try:
        good.write([b"good-0", b"x" * (LIMIT - 6)])  # exactly at the limit: accepted
        async with asyncio.timeout(5):
            assert await server.read() == [b"good-0", b"x" * (LIMIT - 6)]
        await wait_event(server, zmq.EVENT_HANDSHAKE_SUCCEEDED)  # the good peer's

        hostile.connect(address)
        for attempt in range(2):  # it reconnects after being cut off, and is cut off again
            hostile.send(b"h" * (LIMIT + 1), zmq.NOBLOCK)
            await wait_event(server, zmq.EVENT_DISCONNECTED, within=3)
            assert server.statistics().read_buffer_messages == 0, attempt

        for n in range(1, 50):
            good.write([b"good-%d" % n])
        async with asyncio.timeout(5):
            for n in range(1, 50):
                assert await server.read() == [b"good-%d" % n]
        assert server.statistics().read_buffer_messages == 0
        assert server.exception() is None
        assert zmq.EVENT_DISCONNECTED not in {e.event for e in await _drain_events(good)}
    finally:
        hostile.close(linger=0)
        for stream in (good, server):
            stream.close()
        async with asyncio.timeout(5):
            for stream in (good, server):
                await stream.wait_closed()


def _payload(n: int) -> bytes:
    """A fresh, touched 64 KiB payload (a shared one would hide a buffer in RSS)."""
    return n.to_bytes(8, "big") * (FLOOD_MESSAGE // 8)


async def _flood_pair() -> tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]:
    """A PULL stream bound on tcp and a PUSH stream connected to it, both with HWM = 4."""
    reader = await zmqstreams.create_zmq_stream(zmq.PULL)
    writer = await zmqstreams.create_zmq_stream(zmq.PUSH)
    assert reader.transport is not None
    assert writer.transport is not None
    reader.transport.setsockopt(zmq.RCVHWM, HWM)
    writer.transport.setsockopt(zmq.SNDHWM, HWM)
    address = await reader.transport.bind("tcp://127.0.0.1:*")
    await writer.transport.connect(address)
    return reader, writer


async def _close_all(*streams: zmqstreams.ZmqStream) -> None:
    for stream in streams:
        stream.close()
    async with asyncio.timeout(5):
        for stream in streams:
            await stream.wait_closed()


@ASYNCIO_ONLY
@pytest.mark.slow
@pytest.mark.zmqstreams_timeout(60)
async def test_write_flood_with_drain_stays_bounded(record_property: Any) -> None:
    """write(); await drain() of 200 MB of 64 KiB messages to a slow reader keeps memory bounded."""
    reader, writer = await _flood_pair()
    assert writer.transport is not None
    _low, high = writer.transport.get_write_buffer_limits()
    gc.collect()
    base = peak = rss()
    max_buffered = 0

    async def slow_reader() -> int:
        got = 0
        while got < FLOOD_COUNT:
            msg = await reader.read()
            assert len(msg[0]) == FLOOD_MESSAGE
            got += 1
            if got % 8 == 0:
                await asyncio.sleep(0.001)
        return got

    try:
        consumer = asyncio.create_task(slow_reader())
        async with asyncio.timeout(45):
            for n in range(FLOOD_COUNT):
                writer.write([_payload(n)])
                max_buffered = max(max_buffered, writer.statistics().write_buffer_bytes)
                await writer.drain()
                if n % 16 == 0:
                    peak = max(peak, rss())
            assert await consumer == FLOOD_COUNT
    finally:
        await _close_all(writer, reader)
    growth = peak - base
    measured(
        record_property,
        f"write flood: {FLOOD_COUNT} x 64 KiB, peak RSS growth {growth / 2**20:.1f} MiB, "
        f"max write buffer {max_buffered // 1024} KiB (high watermark {high // 1024} KiB)",
        write_flood_rss_growth=growth,
        write_flood_max_buffered=max_buffered,
    )
    assert max_buffered <= high + FLOOD_MESSAGE
    assert growth < RSS_BOUND, f"RSS grew by {growth / 2**20:.1f} MiB"


@ASYNCIO_ONLY
@pytest.mark.slow
@pytest.mark.zmqstreams_timeout(60)
async def test_read_flood_is_bounded_by_watermarks(record_property: Any) -> None:
    """A 200 MB flood from another process into a slow reader buffers only what watermarks allow."""
    reader = await zmqstreams.create_zmq_stream(zmq.PULL)
    assert reader.transport is not None
    reader.transport.setsockopt(zmq.RCVHWM, HWM)
    address = await reader.transport.bind("tcp://127.0.0.1:*")
    high = 256 * 1024
    reader.set_read_buffer_limits(high=high)
    gc.collect()
    base = peak = rss()
    max_buffered = 0
    paused_seen = False
    # The producer is another process: nothing but ZeroMQ's HWMs and our reader holds it back.
    peer = await Peer.start("flood", address, str(FLOOD_COUNT), str(FLOOD_MESSAGE))
    try:
        async with asyncio.timeout(45):
            for got in range(1, FLOOD_COUNT + 1):
                stats = reader.statistics()
                max_buffered = max(max_buffered, stats.read_buffer_bytes)
                paused_seen = paused_seen or stats.reading_paused
                msg = await reader.read()
                assert len(msg[0]) == FLOOD_MESSAGE
                if got % 16 == 0:
                    peak = max(peak, rss())
                    await asyncio.sleep(0.002)  # slow consumer
            assert await reader.read() == [b"END"]
    finally:
        await _close_all(reader)
        await peer.aclose()
    growth = peak - base
    measured(
        record_property,
        f"read flood: {FLOOD_COUNT} x 64 KiB, peak RSS growth {growth / 2**20:.1f} MiB, "
        f"max read buffer {max_buffered // 1024} KiB (high watermark {high // 1024} KiB)",
        read_flood_rss_growth=growth,
        read_flood_max_buffered=max_buffered,
    )
    assert max_buffered <= high + FLOOD_MESSAGE
    assert growth < RSS_BOUND, f"RSS grew by {growth / 2**20:.1f} MiB"
    assert paused_seen, "the flood never filled the read buffer: the test proves nothing"
