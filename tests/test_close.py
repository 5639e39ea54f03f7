"""close(), abort() and wait_closed(): idempotent, never blocking, flushing within LINGER."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
import zmq

import zmqstreams

from helpers import endpoint_of, first_closed, settle_tasks, task_names

pytestmark = pytest.mark.anyio

Pair = tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]


async def test_close_is_idempotent_and_detaches_transport(zmq_pair: Pair) -> None:
    """close() twice is fine; transport becomes None; the socket is closed after wait_closed."""
    server, _ = zmq_pair
    transport = server.transport
    assert transport is not None
    sock = server.get_extra_info("zmq_socket")
    server.close()
    server.close()
    assert server.transport is None
    assert transport.is_closing()
    with anyio.fail_after(5):
        await server.wait_closed()
        await server.wait_closed()
    assert sock.closed


async def test_close_wakes_pending_read_with_stream_closed(zmq_pair: Pair) -> None:
    """A pending read() ends with ZmqStreamClosed, never a bare CancelledError."""
    server, _ = zmq_pair
    with anyio.fail_after(5):
        reader = asyncio.create_task(server.read())
        events = asyncio.create_task(server.read_event())
        await settle_tasks()
        server.close()
        with pytest.raises(zmqstreams.ZmqStreamClosed):
            await reader
        with pytest.raises(zmqstreams.ZmqStreamClosed):
            await events


async def test_operations_after_close(zmq_pair: Pair) -> None:
    """After close: read/read_event raise ZmqStreamClosed, write too, drain ConnectionResetError."""
    server, client = zmq_pair
    client.write([b"unread"])
    with anyio.fail_after(5):
        while server.statistics().read_buffer_messages == 0:
            await asyncio.sleep(0.001)
    server.close()  # drops the unread message: the user closed the stream
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        await server.read()
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        await server.read_event()
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        server.write([b"x"])
    with pytest.raises(ConnectionResetError):
        await server.drain()
    assert server.at_closing()
    assert server.exception() is None


async def test_close_does_not_block_and_flushes_accepted_writes(
    zmq_stream_factory: Any, tmp_path: Any
) -> None:
    """Writes buffered before close() are delivered once a peer appears, within LINGER."""
    address = f"ipc://{tmp_path}/late-peer"
    push = await zmq_stream_factory(zmq.PUSH)
    push.transport.setsockopt(zmq.SNDHWM, 1)
    push.transport.setsockopt(zmq.RECONNECT_IVL, 10)
    push.transport.setsockopt(zmq.LINGER, 5000)
    await push.transport.connect(address)
    for i in range(50):
        push.write([b"%d" % i])
    transport = push.transport
    assert transport.get_write_buffer_size() > 0
    push.close()
    # close() returned without waiting for the flush: it cannot have happened yet (no peer).
    assert transport.get_write_buffer_size() > 0
    assert not push.get_extra_info("zmq_socket").closed
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        push.write([b"too late"])
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    with anyio.fail_after(10):
        assert [await pull.read() for _ in range(50)] == [[b"%d" % i] for i in range(50)]
        await push.wait_closed()


async def test_pending_drain_returns_when_flush_completes(
    zmq_stream_factory: Any, tmp_path: Any
) -> None:
    """A drain() pending at close() returns once the buffer is flushed."""
    address = f"ipc://{tmp_path}/drain-flush"
    push = await zmq_stream_factory(zmq.PUSH, high_write=10)
    push.transport.setsockopt(zmq.SNDHWM, 1)
    push.transport.setsockopt(zmq.RECONNECT_IVL, 10)
    await push.transport.connect(address)
    for i in range(20):
        push.write([b"%02d" % i])
    drain = asyncio.create_task(push.drain())
    await settle_tasks()
    assert not drain.done()
    push.close()
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    with anyio.fail_after(10):
        await drain
        assert [await pull.read() for _ in range(20)] == [[b"%02d" % i] for i in range(20)]
        await push.wait_closed()


async def test_unflushable_data_is_dropped_after_linger(zmq_stream_factory: Any) -> None:
    """No peer: wait_closed() returns after LINGER; a pending drain gets ConnectionResetError.

    LINGER is checked by order, not by a stopwatch: a stream with LINGER = 100 ms finishes
    closing before one with 1000 ms closed just before it.
    """
    slower = await zmq_stream_factory(zmq.PUSH)
    slower.transport.setsockopt(zmq.LINGER, 1000)
    slower.write([b"nobody"])
    push = await zmq_stream_factory(zmq.PUSH, high_write=10)
    push.transport.setsockopt(zmq.LINGER, 100)
    for _ in range(5):
        push.write([b"nobody"])
    drain = asyncio.create_task(push.drain())
    await settle_tasks()
    slower_transport = slower.transport
    slower.close()
    push.close()
    with anyio.fail_after(5):
        assert await first_closed(push, slower) is push
        with pytest.raises(ConnectionResetError):
            await drain
    slower_transport.abort()  # its LINGER is not what is tested: do not wait for it


async def test_abort_drops_buffer_and_closes_at_once(zmq_stream_factory: Any) -> None:
    """abort(): the buffer is dropped and the socket closed without waiting."""
    push = await zmq_stream_factory(zmq.PUSH)
    push.transport.setsockopt(zmq.LINGER, -1)
    for _ in range(5):
        push.write([b"dropped"])
    transport = push.transport
    transport.abort()
    assert transport.get_write_buffer_size() == 0
    assert push.get_extra_info("zmq_socket").closed
    with anyio.fail_after(1):
        await push.wait_closed()


async def test_abort_after_close_stops_the_flush(zmq_stream_factory: Any) -> None:
    """abort() during a close() flush with infinite LINGER ends it at once."""
    push = await zmq_stream_factory(zmq.PUSH)
    push.transport.setsockopt(zmq.LINGER, -1)
    push.write([b"stuck"])
    transport = push.transport
    push.close()
    await settle_tasks()
    assert not push.get_extra_info("zmq_socket").closed  # still flushing
    transport.abort()
    with anyio.fail_after(2):
        await push.wait_closed()
    assert push.get_extra_info("zmq_socket").closed


async def test_close_ends_every_task(zmq_stream_factory: Any) -> None:
    """After wait_closed() no task of the stream is left (reader, writer, monitor, closer)."""
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    dealer = await zmq_stream_factory(zmq.DEALER)
    await dealer.transport.enable_monitor()
    await dealer.transport.connect(endpoint_of(router))
    dealer.write([b"hi"])
    with anyio.fail_after(5):
        await router.read()
    assert {"zmqstreams-reader", "zmqstreams-monitor"} <= task_names()
    for stream in (router, dealer):
        stream.close()
    with anyio.fail_after(5):
        await router.wait_closed()
        await dealer.wait_closed()
    assert task_names() == set()


async def test_close_with_pending_read_and_user_cancel(zmq_pair: Pair) -> None:
    """Closing from one task while another reads: the reader sees ZmqStreamClosed only."""
    server, client = zmq_pair
    results: list[object] = []

    async def reader() -> None:
        try:
            while True:
                results.append(await server.read())
        except zmqstreams.ZmqStreamClosed:
            results.append("closed")

    with anyio.fail_after(5):
        task = asyncio.create_task(reader())
        client.write([b"one"])
        while not results:
            await asyncio.sleep(0.001)
        server.close()
        await task
    assert results == [[b"one"], "closed"]


async def test_transport_close_closes_the_stream(zmq_pair: Pair) -> None:
    """transport.close() is the same as stream.close()."""
    server, _ = zmq_pair
    transport = server.transport
    assert transport is not None
    transport.close()
    assert server.transport is None
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        await server.read()
    with anyio.fail_after(5):
        await server.wait_closed()


async def test_closed_stream_rejects_endpoint_calls(zmq_stream_factory: Any) -> None:
    """bind/connect/enable_monitor on a closed transport fail clearly."""
    stream = await zmq_stream_factory(zmq.DEALER)
    transport = stream.transport
    stream.close()
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        await transport.bind("tcp://127.0.0.1:*")
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        await transport.connect("tcp://127.0.0.1:1")
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        await transport.enable_monitor()
    with pytest.raises(zmqstreams.ZmqStreamClosed, match="getsockopt"):
        transport.getsockopt(zmq.LINGER)
    with pytest.raises(zmqstreams.ZmqStreamClosed, match="setsockopt"):
        transport.setsockopt(zmq.LINGER, 0)
    assert transport.get_extra_info("zmq_type") == zmq.DEALER
