"""A stream belongs to its event loop: other threads write through ``write_threadsafe()``, any
other use from a thread or another loop is refused before it touches anything, and a stream that
outlived its loop can still be closed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import os
import threading
from typing import Any

import pytest
import zmq

import zmqstreams

from helpers import wait_until

pytestmark = pytest.mark.anyio


def _address(name: str) -> str:
    return f"inproc://threads-{name}-{os.getpid()}-{id(object())}"


async def _pair(
    zmq_stream_factory: Any, **push_kwargs: Any
) -> tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]:
    address = _address("pair")
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    push = await zmq_stream_factory(zmq.PUSH, connect=address, **push_kwargs)
    return push, pull


# ---------------------------------------------------------------- write() from a thread


async def test_write_from_another_thread_is_refused_before_anything(
    zmq_stream_factory: Any,
) -> None:
    """write() from a thread raises RuntimeError naming write_threadsafe(); nothing is sent,
    queued or counted, so a retry cannot send the message twice."""
    push, pull = await _pair(zmq_stream_factory)

    def from_thread() -> RuntimeError | None:
        try:
            push.write([b"from the wrong thread"])
        except RuntimeError as exc:
            return exc
        return None

    error = await asyncio.to_thread(from_thread)
    assert error is not None
    assert "another thread" in str(error)
    assert "write_threadsafe()" in str(error)
    assert push.statistics().messages_written == 0
    assert push.transport is not None
    assert push.transport.get_write_buffer_size() == 0
    push.write([b"first"])  # the first message the peer gets is this one
    async with asyncio.timeout(5):
        assert await pull.read() == [b"first"]


async def test_write_threadsafe_from_two_threads_keeps_each_order(zmq_stream_factory: Any) -> None:
    """Two producer threads, 20k messages each: every message arrives once, each thread's in
    its order, with no crash (libzmq sockets are not thread-safe: only the loop touches it)."""
    push, pull = await _pair(zmq_stream_factory)
    count = 20_000

    def produce(tag: bytes) -> None:
        pending: list[concurrent.futures.Future[None]] = []
        for n in range(count):
            pending.append(push.write_threadsafe([tag, b"%d" % n]))
            if len(pending) == 1000:  # bounded: wait for a batch, as a producer would
                for future in pending:
                    future.result(timeout=10)
                pending.clear()
        for future in pending:
            future.result(timeout=10)

    producers = [asyncio.to_thread(produce, tag) for tag in (b"a", b"b")]
    seen = {b"a": -1, b"b": -1}

    async def consume() -> None:
        for _ in range(2 * count):
            tag, number = await pull.read()
            assert int(number) == seen[tag] + 1, (tag, number, seen)
            seen[tag] = int(number)

    async with asyncio.timeout(120):
        await asyncio.gather(*producers, consume())
    assert seen == {b"a": count - 1, b"b": count - 1}
    assert push.statistics().messages_written == 2 * count


async def test_write_threadsafe_gives_a_thread_backpressure(zmq_stream_factory: Any) -> None:
    """The future completes only once the write buffer is at or below high_write: a producer
    that waits on it cannot run ahead of a consumer that is not reading."""
    address = _address("slow")
    pull = await zmq_stream_factory(zmq.PULL, bind=address, options={zmq.RCVHWM: 1})
    push = await zmq_stream_factory(
        zmq.PUSH, connect=address, high_write=1000, options={zmq.SNDHWM: 1}
    )
    pull.transport.pause_reading()
    first = await asyncio.to_thread(push.write_threadsafe, [b"x" * 500])
    await asyncio.to_thread(first.result, 5)  # the socket took it
    futures = await asyncio.to_thread(
        lambda: [push.write_threadsafe([b"x" * 500]) for _ in range(20)]
    )
    await wait_until(lambda: push.statistics().write_buffer_bytes > 1000)
    assert not all(future.done() for future in futures), "no backpressure"
    pull.transport.resume_reading()
    for _ in range(21):
        async with asyncio.timeout(5):
            await pull.read()
    for future in futures:
        await asyncio.to_thread(future.result, 5)


async def test_write_threadsafe_checks_the_message_in_the_calling_thread(
    zmq_stream_factory: Any,
) -> None:
    """A bad message raises in the producer thread at once; a mutable frame is copied there, so
    the thread may reuse it; a refused message is the future's exception."""
    address = _address("router")
    router = await zmq_stream_factory(zmq.ROUTER, bind=address, options={zmq.ROUTER_MANDATORY: 1})
    dealer = await zmq_stream_factory(zmq.DEALER, connect=address)

    def produce() -> tuple[BaseException | None, BaseException | None]:
        try:
            router.write_threadsafe([b"no routing id"])
        except ValueError as exc:
            shape_error: BaseException | None = exc
        else:
            shape_error = None
        refused = router.write_threadsafe([b"nobody", b"there"]).exception(timeout=5)
        return shape_error, refused

    shape_error, refused = await asyncio.to_thread(produce)
    assert isinstance(shape_error, ValueError)
    assert "ROUTER" in str(shape_error)
    assert isinstance(refused, OSError)
    assert refused.errno == zmq.EHOSTUNREACH
    dealer.write([b"hello"])
    async with asyncio.timeout(5):
        identity, _ = await router.read()

    buffer = bytearray(b"original")

    def reuse_the_buffer() -> None:
        future = router.write_threadsafe([identity, buffer])
        buffer[:] = b"changed!"  # at once, before the loop sent it
        future.result(timeout=5)

    await asyncio.to_thread(reuse_the_buffer)
    async with asyncio.timeout(5):
        assert await dealer.read() == [b"original"]


async def test_write_threadsafe_in_the_loop_is_refused(zmq_stream_factory: Any) -> None:
    """In the stream's own loop, waiting on the future would block the loop: RuntimeError."""
    push, _pull = await _pair(zmq_stream_factory)
    with pytest.raises(RuntimeError, match="use write\\(\\)"):
        push.write_threadsafe([b"x"])


async def test_write_threadsafe_cancelled_before_the_loop_took_it_is_not_sent(
    zmq_stream_factory: Any,
) -> None:
    """A future the thread cancels before the loop ran the write: that message is not sent."""
    push, pull = await _pair(zmq_stream_factory)
    loop = asyncio.get_running_loop()
    gate = threading.Event()
    loop.call_soon(gate.wait, 5)  # hold the loop while the thread writes and cancels

    def produce() -> bool:
        cancelled = push.write_threadsafe([b"cancelled"])
        kept = push.write_threadsafe([b"kept"])
        result = cancelled.cancel()
        gate.set()
        kept.result(timeout=5)
        return result

    assert await asyncio.to_thread(produce)
    async with asyncio.timeout(5):
        assert await pull.read() == [b"kept"]


async def test_write_threadsafe_futures_end_when_the_stream_closes(zmq_stream_factory: Any) -> None:
    """A thread waiting on backpressure is released when the stream closes: the message was
    not flushed (ConnectionResetError), never a future left pending for good."""
    push = await zmq_stream_factory(
        zmq.PUSH, connect="tcp://127.0.0.1:1", high_write=10, options={zmq.IMMEDIATE: 1}
    )
    push.transport.setsockopt(zmq.LINGER, 0)
    future = await asyncio.to_thread(push.write_threadsafe, [b"x" * 100])
    await wait_until(lambda: push.statistics().write_buffer_messages == 1)
    assert not future.done()
    push.close()
    error = await asyncio.to_thread(future.exception, 5)
    assert isinstance(error, ConnectionResetError)
    later = await asyncio.to_thread(push.write_threadsafe, [b"after close"])
    assert isinstance(await asyncio.to_thread(later.exception, 5), zmqstreams.ZmqStreamClosed)


# ---------------------------------------------------------------- another loop


def _made_in_an_earlier_run(address: str) -> zmqstreams.ZmqStream:
    async def make() -> zmqstreams.ZmqStream:
        return await zmqstreams.create_zmq_stream(zmq.PAIR, connect=address)

    return asyncio.run(make())


async def test_stream_from_an_earlier_asyncio_run() -> None:
    """A stream made in one asyncio.run() and used in the next: every I/O call says its loop is
    closed, before sending anything; close() still releases its socket; no loop error."""
    address = _address("earlier")
    peer = zmq.Context.instance().socket(zmq.PAIR)
    peer.bind(address)
    try:
        stream = await asyncio.to_thread(_made_in_an_earlier_run, address)
        with pytest.raises(RuntimeError, match="event loop is closed"):
            stream.write([b"never sent"])
        with pytest.raises(RuntimeError, match="event loop is closed"):
            await stream.read()
        with pytest.raises(RuntimeError, match="event loop is closed"):
            await stream.drain()
        stream.close()
        stream.close()
        sock = stream.get_extra_info("zmq_socket")
        assert sock.closed
        async with asyncio.timeout(5):
            await stream.wait_closed()
        assert not peer.poll(0), "the refused write reached the peer"
    finally:
        peer.close(linger=0)


async def test_stream_used_in_another_running_loop() -> None:
    """A stream whose loop is alive but idle, used from another loop run in the same thread."""
    address = _address("idle")
    outcome: dict[str, Any] = {}

    def owner() -> None:
        loop_a = asyncio.new_event_loop()
        stream = loop_a.run_until_complete(zmqstreams.create_zmq_stream(zmq.PAIR, bind=address))

        async def elsewhere() -> None:
            try:
                stream.write([b"x"])
            except RuntimeError as exc:
                outcome["write"] = exc
            try:
                stream.close()
            except RuntimeError as exc:
                outcome["close"] = exc

        asyncio.run(elsewhere())
        outcome["open_after"] = stream.transport is not None
        stream.close()  # plain code in loop A's thread, A idle: allowed
        loop_a.run_until_complete(asyncio.wait_for(stream.wait_closed(), 5))
        loop_a.close()

    await asyncio.to_thread(owner)
    assert "another event loop" in str(outcome["write"])
    assert "another event loop" in str(outcome["close"])
    assert outcome["open_after"]


# The plugin's leak check would hold the abandoned stream (to report it): let it go.
@pytest.mark.zmqstreams_leak_check(streams=False)
async def test_abandoned_stream_collected_in_another_thread() -> None:
    """An open stream that a thread drops last is released in its own loop (ResourceWarning)."""
    stream = await zmqstreams.create_zmq_stream(zmq.PAIR, bind=_address("abandoned"))
    sock = stream.get_extra_info("zmq_socket")
    holder = [stream]
    del stream

    def drop() -> None:
        holder.clear()
        gc.collect()

    with pytest.warns(ResourceWarning, match="unclosed stream"):
        await asyncio.to_thread(drop)
    await wait_until(lambda: sock.closed)


def test_create_outside_a_running_loop_creates_no_socket() -> None:
    """Driving create_zmq_stream() by hand, outside a loop: RuntimeError and no socket left."""
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        coro = zmqstreams.create_zmq_stream(zmq.DEALER)
        with pytest.raises(RuntimeError):
            coro.send(None)
        coro.close()
    assert len(os.listdir("/proc/self/fd")) <= fds  # each socket would hold an eventfd


# ---------------------------------------------------------------- cancellation bookkeeping


async def test_read_ended_by_close_in_a_task_that_swallowed_a_cancel(
    zmq_stream_factory: Any,
) -> None:
    """A task that once caught CancelledError keeps cancelling() > 0; its read(), ended by
    close(), raises ZmqStreamClosed (not CancelledError), and pause_reading() does not end
    it at all."""
    address = _address("swallow")
    pair = await zmq_stream_factory(zmq.PAIR, bind=address)
    peer = await zmq_stream_factory(zmq.PAIR, connect=address)
    started = asyncio.Event()

    async def swallower() -> list[Any]:
        with contextlib.suppress(asyncio.CancelledError):  # swallowed: cancelling() stays 1
            await asyncio.sleep(10)
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 1
        started.set()
        outcomes: list[Any] = [await pair.read()]  # survives pause_reading()
        try:
            await pair.read()
        except zmqstreams.ZmqStreamClosed as exc:
            outcomes.append(exc)
        return outcomes

    task = asyncio.create_task(swallower())
    await asyncio.sleep(0)
    task.cancel()
    async with asyncio.timeout(5):
        await started.wait()
    for _ in range(3):
        await asyncio.sleep(0)
    pair.transport.pause_reading()
    for _ in range(3):
        await asyncio.sleep(0)
    assert not task.done()
    pair.transport.resume_reading()
    peer.write([b"after resume"])
    await wait_until(lambda: pair.statistics().messages_read == 1)
    for _ in range(3):
        await asyncio.sleep(0)
    pair.close()
    async with asyncio.timeout(5):
        first, second = await task
    assert first == [b"after resume"]
    assert isinstance(second, zmqstreams.ZmqStreamClosed)
