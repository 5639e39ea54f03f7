"""Backpressure: read watermarks bound memory, write watermarks drive drain()."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
import zmq

from helpers import endpoint_of, settle_tasks, wait_until

pytestmark = pytest.mark.anyio


async def flood(peer: zmq.Socket[Any], msg: list[bytes], count: int) -> int:
    """Send up to ``count`` messages without blocking; return how many ZeroMQ accepted."""
    sent = 0
    for _ in range(count):
        try:
            peer.send_multipart(msg, zmq.NOBLOCK)
        except zmq.Again:
            break
        sent += 1
    return sent


@pytest.mark.parametrize("msg", [[b"x" * 100], [b""]], ids=["100B", "empty"])
async def test_read_buffer_stays_under_high_watermark(
    zmq_stream_factory: Any, msg: list[bytes]
) -> None:
    """Above high the reader stops; ZeroMQ's HWM then pushes back; empty messages count too."""
    high = 1000
    pull = await zmq_stream_factory(zmq.PULL, bind="inproc://read-flood", high_read=high)
    peer = zmq.Context.instance().socket(zmq.PUSH)
    try:
        peer.connect("inproc://read-flood")
        sent = await flood(peer, msg, 20000)
        await wait_until(lambda: pull.statistics().reading_paused)
        await settle_tasks(20)
        stats = pull.statistics()
        size = len(msg[0]) or 1
        assert high < stats.read_buffer_bytes <= high + size
        assert stats.read_buffer_messages == stats.read_buffer_bytes // size
        # Everything ZeroMQ accepted still arrives, in order, once the consumer reads.
        with anyio.fail_after(10):
            for _ in range(sent):
                assert await pull.read() == msg
        assert not pull.statistics().reading_paused
    finally:
        peer.close(linger=0)


async def test_reading_resumes_at_low_watermark(zmq_stream_factory: Any) -> None:
    """The reader resumes once the buffer falls to low, not before."""
    pull = await zmq_stream_factory(zmq.PULL, bind="inproc://resume", high_read=1000, low_read=500)
    peer = zmq.Context.instance().socket(zmq.PUSH)
    try:
        peer.connect("inproc://resume")
        await flood(peer, [b"y" * 100], 100)
        await wait_until(lambda: pull.statistics().reading_paused)
        with anyio.fail_after(5):
            while pull.statistics().read_buffer_bytes > 500:
                assert pull.statistics().reading_paused
                await pull.read()
        assert not pull.statistics().reading_paused
        with anyio.fail_after(5):
            for _ in range(99 - 5):  # ten were buffered at pause time, minus five read above
                await pull.read()
    finally:
        peer.close(linger=0)


async def test_set_read_buffer_limits_resumes_reading(zmq_stream_factory: Any) -> None:
    """Raising the limits of a paused stream lets the reader go on."""
    pull = await zmq_stream_factory(zmq.PULL, bind="inproc://relimit", high_read=100)
    peer = zmq.Context.instance().socket(zmq.PUSH)
    try:
        peer.connect("inproc://relimit")
        await flood(peer, [b"z" * 10], 100)
        await wait_until(lambda: pull.statistics().reading_paused)
        pull.set_read_buffer_limits(high=10_000)
        await wait_until(lambda: pull.statistics().read_buffer_messages == 100)
        assert not pull.statistics().reading_paused
    finally:
        peer.close(linger=0)


async def test_pause_and_resume_reading(zmq_stream_factory: Any) -> None:
    """transport.pause_reading() stops intake (idempotently); resume_reading() restarts it."""
    pull = await zmq_stream_factory(zmq.PULL, bind="inproc://pause")
    peer = zmq.Context.instance().socket(zmq.PUSH)
    try:
        peer.connect("inproc://pause")
        pull.transport.pause_reading()
        pull.transport.pause_reading()
        assert pull.statistics().reading_paused
        reading = asyncio.create_task(pull.read())
        peer.send_multipart([b"held"])
        # The message has reached the socket, and the loop has turned: nothing took it.
        await wait_until(lambda: bool(pull.transport.getsockopt(zmq.EVENTS) & zmq.POLLIN))
        await settle_tasks()
        assert not reading.done()
        assert pull.statistics().read_buffer_messages == 0
        pull.transport.resume_reading()
        pull.transport.resume_reading()
        with anyio.fail_after(5):
            assert await reading == [b"held"]
    finally:
        peer.close(linger=0)


async def test_drain_returns_at_once_below_high(zmq_stream_factory: Any) -> None:
    """drain() does not wait while the write buffer is at or below its high watermark."""
    push = await zmq_stream_factory(zmq.PUSH, high_write=100)
    push.write([b"x" * 100])  # buffered (no peer), exactly at high
    drain = asyncio.create_task(push.drain())
    await settle_tasks()
    assert drain.done()
    await drain


async def test_drain_waits_until_low(zmq_stream_factory: Any) -> None:
    """Above high, every concurrent drain() waits until the buffer falls to low."""
    push = await zmq_stream_factory(zmq.PUSH, high_write=1000, low_write=200)
    for _ in range(20):
        push.write([b"x" * 100])
    assert push.transport.get_write_buffer_size() == 2000
    drains = [asyncio.create_task(push.drain()) for _ in range(3)]
    await settle_tasks()
    assert not any(d.done() for d in drains)
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    await push.transport.connect(endpoint_of(pull))
    with anyio.fail_after(5):
        await asyncio.gather(*drains)
        assert push.transport.get_write_buffer_size() <= 200
        for _ in range(20):
            assert await pull.read() == [b"x" * 100]


async def test_cancelling_one_drain_leaves_the_others(zmq_stream_factory: Any) -> None:
    """A cancelled drain() does not disturb other drain() calls."""
    push = await zmq_stream_factory(zmq.PUSH, high_write=10)
    push.write([b"x" * 100])
    first, second = asyncio.create_task(push.drain()), asyncio.create_task(push.drain())
    await settle_tasks()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    await push.transport.connect(endpoint_of(pull))
    with anyio.fail_after(5):
        await second


async def test_set_write_buffer_limits(zmq_stream_factory: Any) -> None:
    """Changing write limits applies at once, both ways."""
    push = await zmq_stream_factory(zmq.PUSH)
    transport = push.transport
    transport.set_write_buffer_limits(high=50)
    assert transport.get_write_buffer_limits() == (12, 50)
    push.write([b"x" * 60])
    drain = asyncio.create_task(push.drain())
    await settle_tasks()
    assert not drain.done()
    transport.set_write_buffer_limits(high=1000, low=100)
    await settle_tasks()
    assert drain.done()
    await drain
    with pytest.raises(ValueError, match="write high watermark"):
        transport.set_write_buffer_limits(high=1, low=5)


async def test_write_side_memory_is_bounded_by_drain(zmq_stream_factory: Any) -> None:
    """write(); await drain() never lets the buffer grow past high + one message."""
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*", high_read=4096)
    push = await zmq_stream_factory(zmq.PUSH, high_write=8192)
    push.transport.setsockopt(zmq.SNDHWM, 4)
    await push.transport.connect(endpoint_of(pull))
    peak = 0

    async def produce() -> None:
        nonlocal peak
        for i in range(2000):
            push.write([b"%06d" % i, b"p" * 1024])
            peak = max(peak, push.transport.get_write_buffer_size())
            await push.drain()

    with anyio.fail_after(30):
        producer = asyncio.create_task(produce())
        for i in range(2000):
            assert (await pull.read())[0] == b"%06d" % i
            if i % 100 == 0:
                await asyncio.sleep(0.001)  # a slow consumer
        await producer
    assert 0 < peak <= 8192 + 1030
