"""ZeroMQ's edge-triggered fd: synchronous calls must never leave a pending read() hanging."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio

import zmqstreams

from helpers import settle_tasks

pytestmark = pytest.mark.anyio


@pytest.fixture
async def dealer_and_peer(zmq_stream_factory: Any, request: pytest.FixtureRequest) -> Any:
    address = f"inproc://edges-{id(request)}"
    stream = await zmq_stream_factory(zmq.DEALER, bind=address)
    peer = zmq.Context.instance().socket(zmq.DEALER)
    peer.connect(address)
    yield stream, peer
    peer.close(linger=0)


async def pending_read(stream: zmqstreams.ZmqStream) -> asyncio.Task[list[bytes]]:
    task = asyncio.create_task(stream.read())
    await settle_tasks()  # the stream's reader is now waiting for readiness
    assert not task.done()
    return task


async def test_getsockopt_events_does_not_swallow_wakeup(dealer_and_peer: Any) -> None:
    """transport.getsockopt(zmq.EVENTS) right after a message arrives: the read still ends."""
    stream, peer = dealer_and_peer
    for i in range(20):
        task = await pending_read(stream)
        peer.send_multipart([b"%d" % i])
        assert stream.transport.getsockopt(zmq.EVENTS) & zmq.POLLIN
        stream.transport.getsockopt(zmq.EVENTS)
        with anyio.fail_after(2):
            assert await task == [b"%d" % i]


async def test_repr_does_not_swallow_wakeup(dealer_and_peer: Any) -> None:
    """repr(transport) and repr(stream) never read EVENTS behind the reader's back."""
    stream, peer = dealer_and_peer
    for i in range(20):
        task = await pending_read(stream)
        peer.send_multipart([b"%d" % i])
        assert "ZmqTransport" in repr(stream.transport)
        assert "ZmqStream" in repr(stream)
        with anyio.fail_after(2):
            assert await task == [b"%d" % i]


async def test_write_fast_path_does_not_swallow_wakeup(dealer_and_peer: Any) -> None:
    """A synchronous send right after a message arrives: the pending read still ends."""
    stream, peer = dealer_and_peer
    for i in range(50):
        task = await pending_read(stream)
        peer.send_multipart([b"in%d" % i])
        stream.write([b"out%d" % i])
        with anyio.fail_after(2):
            assert await task == [b"in%d" % i]
    with anyio.fail_after(2):
        got = [await asyncio.to_thread(peer.recv_multipart) for _ in range(50)]
    assert got == [[b"out%d" % i] for i in range(50)]


async def test_burst_of_writes_rearms_once_per_loop_turn(
    dealer_and_peer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes while a read() is pending re-arm pyzmq's watcher once per loop turn, not once per
    write (reading EVENTS through zmq.asyncio costs more than a send); the read still ends and
    every write arrives."""
    stream, peer = dealer_and_peer
    sock = stream.get_extra_info("zmq_socket")
    assert isinstance(sock, zmq.asyncio.Socket)
    events_reads = 0
    original_get = zmq.asyncio.Socket.get

    def counting_get(self: zmq.asyncio.Socket, option: int) -> Any:
        nonlocal events_reads
        if self is sock and option == zmq.EVENTS:
            events_reads += 1
        return original_get(self, option)

    monkeypatch.setattr(zmq.asyncio.Socket, "get", counting_get)
    task = await pending_read(stream)
    events_reads = 0
    for i in range(100):
        stream.write([b"out%d" % i])
    await settle_tasks()
    assert events_reads == 1
    peer.send_multipart([b"in"])
    with anyio.fail_after(2):
        assert await task == [b"in"]
        got = [await asyncio.to_thread(peer.recv_multipart) for _ in range(100)]
    assert got == [[b"out%d" % i] for i in range(100)]


@pytest.mark.parametrize("kind", [zmq.PAIR, zmq.DEALER])
async def test_inproc_peer_binds_first(zmq_stream_factory: Any, kind: int) -> None:
    """The peer binds inproc before the stream connects (aiozmq#155): no missed wake-up."""
    address = f"inproc://bind-first-{kind}"
    peer = zmq.Context.instance().socket(kind)
    peer.bind(address)
    try:
        stream = await zmq_stream_factory(kind, connect=address)
        peer.send_multipart([b"first"])
        with anyio.fail_after(2):
            assert await stream.read() == [b"first"]
            stream.write([b"reply"])
            assert await asyncio.to_thread(peer.recv_multipart) == [b"reply"]
            task = await pending_read(stream)
            peer.send_multipart([b"second"])
            assert await task == [b"second"]
    finally:
        peer.close(linger=0)


async def test_bind_and_connect_do_not_swallow_wakeup(dealer_and_peer: Any) -> None:
    """bind()/connect() process ZeroMQ commands too; a pending read still ends."""
    stream, peer = dealer_and_peer
    task = await pending_read(stream)
    peer.send_multipart([b"x"])
    await stream.transport.bind("tcp://127.0.0.1:*")
    with anyio.fail_after(2):
        assert await task == [b"x"]


async def test_bidirectional_flood_with_small_hwm(zmq_stream_factory: Any) -> None:
    """Both sides write and read at once with tiny HWMs: reader and writer never starve."""
    count = 3000
    a = await zmq_stream_factory(zmq.DEALER, high_read=256, high_write=256)
    a.transport.setsockopt(zmq.SNDHWM, 2)
    a.transport.setsockopt(zmq.RCVHWM, 2)
    endpoint = await a.transport.bind("tcp://127.0.0.1:*")
    b = await zmq_stream_factory(zmq.DEALER, high_read=256, high_write=256)
    b.transport.setsockopt(zmq.SNDHWM, 2)
    b.transport.setsockopt(zmq.RCVHWM, 2)
    await b.transport.connect(endpoint)

    async def send(stream: zmqstreams.ZmqStream) -> None:
        for i in range(count):
            stream.write([b"%d" % i])
            await stream.drain()

    async def receive(stream: zmqstreams.ZmqStream) -> list[int]:
        return [int((await stream.read())[0]) for _ in range(count)]

    with anyio.fail_after(60):
        _, _, got_a, got_b = await asyncio.gather(send(a), send(b), receive(a), receive(b))
    assert got_a == got_b == list(range(count))
