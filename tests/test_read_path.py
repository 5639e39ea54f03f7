"""The read path over real sockets: a read() that claims the receive in flight, and its edges.

A ``read()`` that finds the buffer empty awaits the socket's receive future itself.  These tests
pin what that must never change: a cancellation that races with the arrival keeps the message,
every wake-up (pause, feed_msg, set_exception) reaches such a read(), a receive that ends
without a message is no failure, and the background reader resumes after such a read().
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio
import pytest
import zmq

import zmqstreams
from zmqstreams.testing import pending_receive

from helpers import settle_tasks, wait_until

pytestmark = pytest.mark.anyio

Pair = tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]


def _claimed_receive(stream: zmqstreams.ZmqStream) -> asyncio.Future[Any]:
    """The receive future a pending read() awaits (the plugin's seam, for the races below)."""
    claimed = pending_receive(stream)
    assert claimed is not None, "the pending read() did not claim the receive"
    return claimed


async def test_cancel_in_the_turn_the_message_arrives_keeps_it(
    zmq_pair: Pair, anyio_backend: Any
) -> None:
    """read() cancelled after its receive got the message, before it resumed: nothing lost.

    The race is built, not hoped for: the loop is blocked while the message arrives and a
    zero-delay timer falls due, so one loop turn runs pyzmq's fd handler (which completes the
    receive) and then the timer (which cancels the read).
    """
    server, client = zmq_pair
    loop = asyncio.get_running_loop()
    with anyio.fail_after(5):
        for attempt in range(20):  # the I/O thread may be slow to deliver: try again, bounded
            task = asyncio.create_task(server.read())
            await settle_tasks()
            claimed = _claimed_receive(server)
            raced: list[bool] = []

            def cancel(
                task: asyncio.Task[list[bytes]] = task,
                claimed: Any = claimed,
                raced: list[bool] = raced,
            ) -> None:
                raced.append(claimed.done())
                task.cancel()

            client.write([b"%d" % attempt])
            loop.call_later(0, cancel)
            # Block the loop on purpose: the message arrives and the timer falls due meanwhile.
            time.sleep(0.02)  # noqa: ASYNC251
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await server.read() == [b"%d" % attempt]
            if raced == [True]:
                break
        else:
            pytest.skip("the message never arrived in the same turn as the cancellation")
    assert server.exception() is None


@pytest.mark.parametrize("how", ["pause_reading", "feed_msg", "set_exception"])
async def test_wake_ups_reach_a_read_that_claimed_the_receive(zmq_pair: Pair, how: str) -> None:
    """pause_reading(), feed_msg() and set_exception() act on a read() awaiting the socket."""
    server, client = zmq_pair
    transport = server.transport
    assert transport is not None
    with anyio.fail_after(5):
        task = asyncio.create_task(server.read())
        await settle_tasks()
        _claimed_receive(server)
        if how == "pause_reading":
            transport.pause_reading()
            client.write([b"while paused"])
            await settle_tasks(20)
            assert not task.done()  # paused: nothing is taken from the socket
            assert server.statistics().reading_paused
            transport.resume_reading()
            assert await task == [b"while paused"]
        elif how == "feed_msg":
            server.feed_msg([b"fed"])
            assert await task == [b"fed"]
        else:
            error = OSError(zmq.EFSM, "injected")
            server.set_exception(error)
            with pytest.raises(OSError) as info:
                await task
            assert info.value is error


async def test_intake_resumes_after_a_read_that_waited(zmq_pair: Pair) -> None:
    """After a read() that awaited the socket returns, later messages are still buffered."""
    server, client = zmq_pair
    with anyio.fail_after(5):
        task = asyncio.create_task(server.read())
        await settle_tasks()
        client.write([b"first"])
        assert await task == [b"first"]
        for i in range(5):
            client.write([b"later %d" % i])
        # Nobody reads: the background reader must take them (watched through statistics).
        await wait_until(lambda: server.statistics().read_buffer_messages == 5)
        assert [await server.read() for _ in range(5)] == [[b"later %d" % i] for i in range(5)]


async def test_request_reply_keeps_order_over_many_round_trips(zmq_pair: Pair) -> None:
    """Ping-pong through claimed receives: every reply, in order, nothing buffered left over."""
    server, client = zmq_pair

    async def echo() -> None:
        for _ in range(500):
            server.write(await server.read())

    with anyio.fail_after(20):
        echoing = asyncio.create_task(echo())
        for i in range(500):
            client.write([b"%d" % i, b"x" * (i % 7)])
            assert await client.read() == [b"%d" % i, b"x" * (i % 7)]
        await echoing
    assert client.statistics().read_buffer_messages == 0
    assert server.statistics().messages_read == 500


async def test_stale_correlated_reply_does_not_end_a_req_stream(zmq_stream_factory: Any) -> None:
    """REQ_CORRELATE drops a late reply after reporting it readable: the stream lives on.

    libzmq signals POLLIN for the stale reply, then discards it, so the pending receive ends
    with EAGAIN; that is "nothing yet", not a socket failure.
    """
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    endpoint = next(iter(router.transport.bindings()))
    req = await zmq_stream_factory(zmq.REQ)
    req.transport.setsockopt(zmq.REQ_RELAXED, 1)
    req.transport.setsockopt(zmq.REQ_CORRELATE, 1)
    await req.transport.connect(endpoint)
    with anyio.fail_after(5):
        req.write([b"first"])
        first = await router.read()  # [identity, request id, b"", b"first"]
        req.write([b"second"])  # REQ_RELAXED: a new request, the first one abandoned
        second = await router.read()
        reading = asyncio.create_task(req.read())
        await settle_tasks()
        waiting_on = _claimed_receive(req)
        router.write([*first[:-1], b"late reply to first"])
        # The stale reply alone: the receive it woke must end without a message, not an error.
        await wait_until(waiting_on.done)
        await settle_tasks()
        assert not reading.done()
        assert req.exception() is None
        router.write([*second[:-1], b"reply to second"])
        assert await reading == [b"reply to second"]
    assert req.exception() is None


async def test_a_read_that_finds_the_buffer_empty_is_a_scheduling_point(
    zmq_stream_factory: Any,
) -> None:
    """Even when every message is ready before read() asks, other tasks run between reads.

    A synchronous peer on inproc puts each message in the pipe before ``read()`` is called,
    so no read has to wait.  A task spawned before the reads must still run at every one of
    them: a task that is always served at once must not starve the loop (the monitor example
    relies on this to print its events during the exchange).
    """
    ctx = zmq.Context.instance()
    endpoint = f"inproc://scheduling-point-{id(zmq_stream_factory)}"
    peer = ctx.socket(zmq.PAIR)
    peer.linger = 0
    peer.bind(endpoint)
    try:
        stream = await zmq_stream_factory(zmq.PAIR, connect=endpoint)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        with anyio.fail_after(5):
            peer.send(b"warm-up")
            assert await stream.read() == [b"warm-up"]
            ticker = asyncio.create_task(tick())
            try:
                for i in range(20):
                    peer.send(b"%d" % i)
                    before = ticks
                    assert await stream.read() == [b"%d" % i]
                    assert ticks > before, f"read #{i} returned without letting other tasks run"
            finally:
                ticker.cancel()
    finally:
        peer.close(0)
