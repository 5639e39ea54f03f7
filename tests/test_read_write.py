"""read() and write() over real sockets: transports, socket types, message shapes, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
import zmq

import zmqstreams

from helpers import endpoint_of, settle_tasks, task_names, wait_until

pytestmark = pytest.mark.anyio

Pair = tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]


async def test_pair_round_trip(zmq_pair: Pair) -> None:
    """A multipart message goes both ways over inproc, ipc and tcp."""
    server, client = zmq_pair
    with anyio.fail_after(5):
        client.write([b"hello", b"world"])
        assert await server.read() == [b"hello", b"world"]
        server.write((b"back",))
        assert await client.read() == [b"back"]


async def test_many_messages_arrive_in_order(zmq_pair: Pair) -> None:
    """Thousands of messages written back to back arrive complete and in order."""
    server, client = zmq_pair
    count = 5000

    async def produce() -> None:
        for i in range(count):
            client.write([b"%d" % i, b"x" * (i % 100)])
            await client.drain()

    with anyio.fail_after(20):
        producer = asyncio.create_task(produce())
        for i in range(count):
            assert await server.read() == [b"%d" % i, b"x" * (i % 100)]
        await producer


async def test_frames_of_every_bytes_like_type(zmq_pair: Pair) -> None:
    """bytes, bytearray and memoryview frames are sent as their bytes; read gives bytes."""
    server, client = zmq_pair
    with anyio.fail_after(5):
        client.write([b"a", bytearray(b"b"), memoryview(b"cde")[1:], b""])
        msg = await server.read()
    assert msg == [b"a", b"b", b"de", b""]
    assert all(type(frame) is bytes for frame in msg)


async def test_large_frames(zmq_pair: Pair) -> None:
    """A 4 MiB frame arrives intact."""
    server, client = zmq_pair
    big = bytes(range(256)) * (4 * 4096)
    with anyio.fail_after(10):
        client.write([big, b"tail"])
        await client.drain()
        assert await server.read() == [big, b"tail"]


BAD_MESSAGES: list[tuple[Any, str]] = [
    ("text", "list or tuple"),
    (b"bytes", "list or tuple"),
    (None, "list or tuple"),
    ([], "at least one frame"),
    ((), "at least one frame"),
    ((f for f in [b"a"]), "list or tuple"),
    ({b"a": b"b"}, "list or tuple"),
    ([b"ok", "text"], "frame 1"),
    ([b"ok", 3], "frame 1"),
    ([None], "frame 0"),
]


@pytest.mark.parametrize(("msg", "match"), BAD_MESSAGES)
async def test_bad_message_is_type_error_and_sends_nothing(
    zmq_pair: Pair, msg: Any, match: str
) -> None:
    """write() of a malformed message raises TypeError naming the problem; nothing is sent."""
    server, client = zmq_pair
    with pytest.raises(TypeError, match=match):
        client.write(msg)
    with anyio.fail_after(5):
        client.write([b"next"])
        assert await server.read() == [b"next"]  # nothing of the bad message came first
    assert client.exception() is None


async def test_bad_message_while_buffering_keeps_order(zmq_stream_factory: Any) -> None:
    """A rejected message in the middle of buffered writes does not disturb the others."""
    push = await zmq_stream_factory(zmq.PUSH)  # not connected: every write is buffered
    push.write([b"1"])
    with pytest.raises(TypeError):
        push.write([b"2", 2])
    push.write([b"3"])
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    await push.transport.connect(endpoint_of(pull))
    with anyio.fail_after(5):
        assert [await pull.read(), await pull.read()] == [[b"1"], [b"3"]]


async def test_buffered_bytearray_is_copied(zmq_stream_factory: Any) -> None:
    """Mutating a bytearray after write() cannot change what is sent."""
    push = await zmq_stream_factory(zmq.PUSH)
    data = bytearray(b"original")
    view_source = bytearray(b"viewed")
    push.write([data, memoryview(view_source)])
    assert push.transport.get_write_buffer_size() == len(b"original") + len(b"viewed")
    data[:] = b"CHANGED!"
    view_source[:] = b"XXXXXX"
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    await push.transport.connect(endpoint_of(pull))
    with anyio.fail_after(5):
        assert await pull.read() == [b"original", b"viewed"]


async def test_writer_task_only_while_buffered(zmq_stream_factory: Any) -> None:
    """A send-only stream has no task when idle; the writer lives while messages wait."""
    push = await zmq_stream_factory(zmq.PUSH)
    assert task_names() == set()
    for i in range(10):
        push.write([b"%d" % i])
    assert task_names() == {"zmqstreams-writer"}
    assert push.statistics().write_buffer_messages == 10
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    await push.transport.connect(endpoint_of(pull))
    with anyio.fail_after(5):
        assert [await pull.read() for _ in range(10)] == [[b"%d" % i] for i in range(10)]
        await wait_until(lambda: "zmqstreams-writer" not in task_names())
    assert push.transport.get_write_buffer_size() == 0


async def test_fast_path_sends_without_a_task(zmq_stream_factory: Any) -> None:
    """While the socket can take messages, write() sends at once: no buffer, no writer task."""
    pull = await zmq_stream_factory(zmq.PULL, bind="inproc://fast-path")
    push = await zmq_stream_factory(zmq.PUSH, connect="inproc://fast-path")
    for i in range(100):
        push.write([b"%d" % i])
        assert push.transport.get_write_buffer_size() == 0
    assert "zmqstreams-writer" not in task_names()
    with anyio.fail_after(5):
        assert [await pull.read() for _ in range(100)] == [[b"%d" % i] for i in range(100)]


@pytest.mark.parametrize("kind", [zmq.PUSH, zmq.PUB])
async def test_send_only_types_start_no_reader(zmq_stream_factory: Any, kind: int) -> None:
    """PUSH and PUB cannot receive, so their streams never start a reader."""
    await zmq_stream_factory(kind, bind="tcp://127.0.0.1:*")
    await settle_tasks()
    assert task_names() == set()


async def test_write_order_across_fast_path_and_buffer(zmq_stream_factory: Any) -> None:
    """Messages keep their order when the socket fills up and writes switch to the buffer."""
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*", high_read=1024)
    push = await zmq_stream_factory(zmq.PUSH)
    push.transport.setsockopt(zmq.SNDHWM, 10)
    await push.transport.connect(endpoint_of(pull))
    count = 3000
    with anyio.fail_after(20):
        for i in range(count):
            push.write([b"%d" % i])
        assert push.transport.get_write_buffer_size() > 0  # some had to be buffered
        for i in range(count):
            assert await pull.read() == [b"%d" % i]


async def test_async_for_yields_until_closed(zmq_pair: Pair) -> None:
    """async for reads messages and stops when the stream closes."""
    server, client = zmq_pair
    got: list[list[bytes]] = []

    async def consume() -> None:
        async for msg in server:
            got.append(msg)
            if len(got) == 3:
                server.close()

    with anyio.fail_after(5):
        task = asyncio.create_task(consume())
        for i in range(3):
            client.write([b"%d" % i])
        await task
    assert got == [[b"0"], [b"1"], [b"2"]]


async def test_async_with_closes_and_waits() -> None:
    """async with await create_zmq_stream(...) closes the stream on exit."""
    async with await zmqstreams.create_zmq_stream(zmq.PAIR, bind="tcp://127.0.0.1:*") as stream:
        transport = stream.transport
        assert transport is not None
    assert stream.transport is None
    assert transport.is_closing()
    assert stream.get_extra_info("zmq_socket").closed


async def test_large_bytearray_mutated_after_fast_path_write(
    zmq_stream_factory: Any, tmp_path: Any
) -> None:
    """A 1 MiB bytearray handed to ZeroMQ at once is copied too: later mutation is not sent."""
    address = f"ipc://{tmp_path}/mutate"
    push = await zmq_stream_factory(
        zmq.PUSH, connect=address
    )  # the pipe exists: sends go to ZeroMQ
    buffers = [bytearray(b"a" * (1 << 20)) for _ in range(3)]
    for buf in buffers:
        push.write([buf])
    assert push.transport.get_write_buffer_size() == 0
    for buf in buffers:
        buf[:] = b"b" * (1 << 20)
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    with anyio.fail_after(5):
        for _ in buffers:
            assert await pull.read() == [b"a" * (1 << 20)]
