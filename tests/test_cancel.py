"""Cancelling read(): by task.cancel() or by a timeout, nothing is lost or reordered."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import anyio
import pytest
import zmq

import zmqstreams

from helpers import settle_tasks

pytestmark = pytest.mark.anyio

Pair = tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]


async def test_cancel_pending_read_then_read_again(zmq_pair: Pair) -> None:
    """A cancelled read() consumes nothing; the next read() gets the message."""
    server, client = zmq_pair
    with anyio.fail_after(5):
        task = asyncio.create_task(server.read())
        await settle_tasks()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        client.write([b"after cancel"])
        assert await server.read() == [b"after cancel"]


@pytest.mark.parametrize("delay", [0, 0.0001, 0.001])
async def test_timeouts_around_read_lose_nothing(zmq_pair: Pair, delay: float) -> None:
    """asyncio.timeout around every read() of a busy stream: all messages, in order, once."""
    server, client = zmq_pair
    count = 3000
    received: list[int] = []
    timeouts = 0

    async def produce() -> None:
        for i in range(count):
            client.write([b"%d" % i])
            await client.drain()
            if i % 50 == 0:
                # Bursts with gaps longer than the timeout, so that reads time out while
                # waiting as well as around arrivals, however fast the read path is.
                await asyncio.sleep(2 * delay + 0.001)

    with anyio.fail_after(30):
        producer = asyncio.create_task(produce())
        while len(received) < count:
            try:
                async with asyncio.timeout(delay):
                    msg = await server.read()
            except TimeoutError:
                timeouts += 1
                continue
            received.append(int(msg[0]))
        await producer
    assert received == list(range(count))
    assert timeouts > 0  # the cancellation path was exercised


async def test_task_cancel_races_with_arrival(zmq_pair: Pair) -> None:
    """Cancelling reads at random points while messages arrive never drops one."""
    server, client = zmq_pair
    count = 500
    received: list[int] = []
    with anyio.fail_after(30):
        for i in range(count):
            client.write([b"%d" % i])
            task = asyncio.create_task(server.read())
            await asyncio.sleep(0)  # let the read start, and maybe be woken
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                received.append(int((await task)[0]))
        while len(received) < count:
            received.append(int((await server.read())[0]))
    assert received == list(range(count))


async def test_anyio_fail_after_around_read(zmq_pair: Pair) -> None:
    """anyio's cancel scopes around read() lose nothing either."""
    server, client = zmq_pair
    for i in range(200):
        client.write([b"%d" % i])
    got: list[int] = []
    with anyio.fail_after(10):
        while len(got) < 200:
            with anyio.move_on_after(0.0001):
                got.append(int((await server.read())[0]))
    assert got == list(range(200))


async def test_cancel_read_event(zmq_stream_factory: Any) -> None:
    """A cancelled read_event() loses no event."""
    stream = await zmq_stream_factory(zmq.DEALER)
    await stream.transport.enable_monitor()
    with anyio.fail_after(5):
        task = asyncio.create_task(stream.read_event())
        await settle_tasks()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
        await stream.transport.connect(next(iter(router.transport.bindings())))
        event = await stream.read_event()
    assert isinstance(event, zmqstreams.SocketEvent)
