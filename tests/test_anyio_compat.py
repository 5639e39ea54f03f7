"""anyio interop: streams inside task groups, cancel scopes around read(), ZmqObjectStream."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel
import pytest
import zmq

import zmqstreams
from zmqstreams.anyio_compat import ZmqObjectStream
from zmqstreams.testing import StreamFactory, socket_faults

pytestmark = pytest.mark.anyio


Pair = tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]


async def closed_pair(zmq_stream_factory: StreamFactory) -> Pair:
    server = await zmq_stream_factory(zmq.PAIR, bind="tcp://127.0.0.1:*")
    client = await zmq_stream_factory(zmq.PAIR, connect=next(iter(server.transport.bindings())))  # type: ignore[union-attr]
    return server, client


# ------------------------------------------------------------------ streams under anyio


async def test_streams_work_in_a_task_group(zmq_pair: Pair) -> None:
    """A producer and a consumer in one anyio task group exchange every message in order."""
    server, client = zmq_pair
    received: list[list[bytes]] = []

    async def produce() -> None:
        for i in range(200):
            client.write([b"%d" % i])
            await client.drain()

    async def consume() -> None:
        async for msg in server:
            received.append(msg)
            if len(received) == 200:
                return

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            tg.start_soon(consume)
    assert received == [[b"%d" % i] for i in range(200)]


async def test_cancelling_a_task_group_keeps_pending_messages(zmq_pair: Pair) -> None:
    """A read() cancelled by its task group's scope consumed nothing; the next read() gets it."""
    server, client = zmq_pair
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.read)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
        client.write([b"after"])
        assert await server.read() == [b"after"]


async def _read_all_with_timeouts(
    client: zmqstreams.ZmqStream, read_or_time_out: Callable[[], Awaitable[list[bytes]]]
) -> tuple[list[list[bytes]], int]:
    """Read N messages while a tiny timeout keeps cancelling read(); return them and the count.

    ``read_or_time_out`` wraps the receiving stream's read() in a timeout (TimeoutError).
    """
    n = 2000
    received: list[list[bytes]] = []
    timeouts = 0

    async def produce() -> None:
        for i in range(n):
            client.write([b"msg", b"%d" % i])
            if i % 100 == 0:
                await anyio.sleep(0.01)  # gaps in which read() is certain to time out
            elif i % 7 == 0:
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        for _ in range(1_000_000):  # bounded: ends long before this on any machine
            if len(received) == n:
                break
            try:
                received.append(await read_or_time_out())
            except TimeoutError:
                timeouts += 1
    return received, timeouts


async def test_fail_after_around_read_loses_nothing(zmq_pair: Pair) -> None:
    """anyio.fail_after with a tiny deadline around read() never loses or reorders a message."""
    server, client = zmq_pair

    async def read_or_time_out() -> list[bytes]:
        with anyio.fail_after(0.0005):
            return await server.read()

    with anyio.fail_after(20):
        received, timeouts = await _read_all_with_timeouts(client, read_or_time_out)
    assert received == [[b"msg", b"%d" % i] for i in range(2000)]
    assert timeouts > 0, "the test must actually cancel read()"
    assert server.statistics().read_buffer_messages == 0


async def test_asyncio_timeout_around_read_loses_nothing(zmq_pair: Pair) -> None:
    """asyncio.timeout with a tiny deadline around read() never loses or reorders a message."""
    server, client = zmq_pair

    async def read_or_time_out() -> list[bytes]:
        async with asyncio.timeout(0.0005):
            return await server.read()

    with anyio.fail_after(20):
        received, timeouts = await _read_all_with_timeouts(client, read_or_time_out)
    assert received == [[b"msg", b"%d" % i] for i in range(2000)]
    assert timeouts > 0


def test_importing_zmqstreams_does_not_import_anyio() -> None:
    """anyio is loaded only by zmqstreams.anyio_compat."""
    code = "import sys, zmqstreams; assert 'anyio' not in sys.modules, 'anyio was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ------------------------------------------------------------------ ZmqObjectStream


async def test_object_stream_is_an_anyio_object_stream(zmq_stream_factory: StreamFactory) -> None:
    server, _client = await closed_pair(zmq_stream_factory)
    adapter = ZmqObjectStream(server)
    assert isinstance(adapter, anyio.abc.ObjectStream)
    assert adapter.stream is server
    assert "open" in repr(adapter)
    await adapter.aclose()
    assert "closed" in repr(adapter)


async def test_object_stream_rejects_non_streams() -> None:
    with pytest.raises(TypeError, match="stream must be a ZmqStream, got str"):
        ZmqObjectStream("nope")  # type: ignore[arg-type]


async def test_object_stream_send_and_receive(zmq_stream_factory: StreamFactory) -> None:
    server, client = await closed_pair(zmq_stream_factory)
    with anyio.fail_after(5):
        async with ZmqObjectStream(server) as rx, ZmqObjectStream(client) as tx:
            await tx.send([b"a", b"b"])
            await tx.send([b""])
            assert await rx.receive() == [b"a", b"b"]
            assert await rx.receive() == [b""]
            await rx.send([b"back"])
            assert await tx.receive() == [b"back"]


async def test_object_stream_send_waits_for_drain(zmq_stream_factory: StreamFactory) -> None:
    """send() returns only once the write buffer is below its high watermark."""
    # A DEALER with no peer cannot send: everything stays in the write buffer.
    dealer = await zmq_stream_factory(zmq.DEALER, high_write=10, low_write=0)
    adapter = ZmqObjectStream(dealer)
    await adapter.send([b"12345"])  # below high: returns at once
    sent = False

    async def send_above_high() -> None:
        nonlocal sent
        await adapter.send([b"x" * 100])  # now above high: waits for the peer
        sent = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(send_above_high)
        await anyio.wait_all_tasks_blocked()
        assert not sent
        tg.cancel_scope.cancel()
    assert dealer.statistics().write_buffer_messages == 2
    dealer.transport.abort()  # type: ignore[union-attr]
    await adapter.aclose()


async def test_object_stream_iterates_until_end_of_stream(
    zmq_stream_factory: StreamFactory,
) -> None:
    """async for over the adapter ends when the underlying stream closes."""
    server, client = await closed_pair(zmq_stream_factory)
    rx = ZmqObjectStream(server)
    got: list[list[bytes]] = []

    async def consume() -> None:
        async for msg in rx:
            got.append(msg)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            client.write([b"1"])
            client.write([b"2"])
            while len(got) < 2:
                await anyio.sleep(0.001)
            server.close()  # closed by its owner, not through the adapter: end of stream
    assert got == [[b"1"], [b"2"]]
    with pytest.raises(anyio.EndOfStream):
        await rx.receive()
    await rx.aclose()


async def test_pending_receive_ends_with_end_of_stream_when_stream_closes(
    zmq_stream_factory: StreamFactory,
) -> None:
    server, _client = await closed_pair(zmq_stream_factory)
    rx = ZmqObjectStream(server)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:

            async def receive() -> None:
                with pytest.raises(anyio.EndOfStream):
                    await rx.receive()

            tg.start_soon(receive)
            await anyio.wait_all_tasks_blocked()
            server.close()
    await rx.aclose()


async def test_pending_receive_ends_with_closed_resource_on_aclose(
    zmq_stream_factory: StreamFactory,
) -> None:
    server, _client = await closed_pair(zmq_stream_factory)
    rx = ZmqObjectStream(server)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:

            async def receive() -> None:
                with pytest.raises(anyio.ClosedResourceError):
                    await rx.receive()

            tg.start_soon(receive)
            await anyio.wait_all_tasks_blocked()
            await rx.aclose()
    assert server.transport is None


async def test_operations_after_aclose_raise_closed_resource(
    zmq_stream_factory: StreamFactory,
) -> None:
    server, _client = await closed_pair(zmq_stream_factory)
    adapter = ZmqObjectStream(server)
    await adapter.aclose()
    await adapter.aclose()  # idempotent
    with pytest.raises(anyio.ClosedResourceError):
        await adapter.receive()
    with pytest.raises(anyio.ClosedResourceError):
        await adapter.send([b"x"])


async def test_send_on_a_stream_closed_by_its_owner_is_broken(
    zmq_stream_factory: StreamFactory,
) -> None:
    server, _client = await closed_pair(zmq_stream_factory)
    adapter = ZmqObjectStream(server)
    server.close()
    with pytest.raises(anyio.BrokenResourceError) as info:
        await adapter.send([b"x"])
    assert isinstance(info.value.__cause__, zmqstreams.ZmqStreamClosed)
    await adapter.aclose()


async def test_refused_message_is_an_os_error(zmq_stream_factory: StreamFactory) -> None:
    """A REP socket that sends first: send() raises the OSError (EFSM); nothing is broken."""
    rep = await zmq_stream_factory(zmq.REP, bind="tcp://127.0.0.1:*")
    adapter = ZmqObjectStream(rep)
    with pytest.raises(OSError) as info:
        await adapter.send([b"first"])
    assert info.value.errno == zmq.EFSM
    assert rep.exception() is None
    req = await zmq_stream_factory(zmq.REQ, connect=next(iter(rep.transport.bindings())))  # type: ignore[union-attr]
    req.write([b"question"])
    with anyio.fail_after(5):
        assert await adapter.receive() == [b"question"]
        await adapter.send([b"answer"])
        assert await req.read() == [b"answer"]
    await adapter.aclose()


async def test_socket_error_is_a_broken_resource(zmq_stream_factory: StreamFactory) -> None:
    """A failure that ends the stream: send() and receive() report it as broken."""
    push = await zmq_stream_factory(zmq.PUSH, bind="inproc://anyio-torn")
    adapter = ZmqObjectStream(push)
    with socket_faults(push) as faults:
        faults.fail_sends(zmq.EHOSTUNREACH, after_frames=1)
        with pytest.raises(anyio.BrokenResourceError) as info:
            await adapter.send([b"torn", b"message"])
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == zmq.EHOSTUNREACH
    with pytest.raises(anyio.BrokenResourceError) as info:
        await adapter.receive()
    assert info.value.__cause__ is push.exception()
    await adapter.aclose()


async def test_malformed_message_raises_type_error(zmq_stream_factory: StreamFactory) -> None:
    server, client = await closed_pair(zmq_stream_factory)
    tx, rx = ZmqObjectStream(client), ZmqObjectStream(server)
    with pytest.raises(TypeError, match="frame 0 of msg must be bytes"):
        await tx.send(["text"])  # type: ignore[list-item]
    await tx.send([b"still usable"])
    with anyio.fail_after(5):
        assert await rx.receive() == [b"still usable"]
    await tx.aclose()
    await rx.aclose()


async def test_concurrent_receive_is_busy(zmq_stream_factory: StreamFactory) -> None:
    server, _client = await closed_pair(zmq_stream_factory)
    rx = ZmqObjectStream(server)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(rx.receive)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(anyio.BusyResourceError):
                await rx.receive()
            tg.cancel_scope.cancel()
    await rx.aclose()


async def test_send_eof_is_not_supported(zmq_stream_factory: StreamFactory) -> None:
    server, _client = await closed_pair(zmq_stream_factory)
    adapter = ZmqObjectStream(server)
    with pytest.raises(NotImplementedError, match="half-closed"):
        await adapter.send_eof()
    await adapter.aclose()


async def test_aclose_flushes_accepted_messages(zmq_stream_factory: StreamFactory) -> None:
    """Messages that send() accepted are delivered even though aclose() follows at once."""
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    push = await zmq_stream_factory(zmq.PUSH, connect=next(iter(pull.transport.bindings())))  # type: ignore[union-attr]
    tx = ZmqObjectStream(push)
    with anyio.fail_after(5):
        for i in range(50):
            await tx.send([b"%d" % i])
        await tx.aclose()
        assert [await pull.read() for _ in range(50)] == [[b"%d" % i] for i in range(50)]


async def test_cancelled_aclose_still_closes(zmq_stream_factory: StreamFactory) -> None:
    """If aclose() is cancelled while flushing, the flush is abandoned and the socket closed."""
    dealer = await zmq_stream_factory(zmq.DEALER)
    dealer.transport.setsockopt(zmq.LINGER, -1)  # type: ignore[union-attr]
    dealer.write([b"never sent"])  # no peer and no LINGER limit: only an abort ends the flush
    adapter = ZmqObjectStream(dealer)
    with anyio.fail_after(5):
        with anyio.CancelScope() as scope:
            scope.cancel()  # aclose() is cancelled at its first wait, mid-flush
            await adapter.aclose()
        await dealer.wait_closed()
    assert dealer.transport is None
    with pytest.raises(anyio.ClosedResourceError):
        await adapter.receive()
