"""create_zmq_stream(): arguments, adopted sockets, endpoints and failures that leave nothing."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio

import zmqstreams

from helpers import endpoint_of, task_names

pytestmark = pytest.mark.anyio


async def round_trip(a: zmqstreams.ZmqStream, b: zmqstreams.ZmqStream) -> None:
    with anyio.fail_after(5):
        a.write([b"ping"])
        assert await b.read() == [b"ping"]


async def test_bind_returns_stream_with_resolved_endpoint(zmq_stream_factory: Any) -> None:
    """A wildcard port is resolved in bindings() and in getsockopt(LAST_ENDPOINT) (a str)."""
    stream = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    (endpoint,) = stream.transport.bindings()
    assert endpoint.startswith("tcp://127.0.0.1:")
    assert not endpoint.endswith("*")
    assert int(endpoint.rsplit(":", 1)[1]) > 0
    assert stream.transport.getsockopt(zmq.LAST_ENDPOINT) == endpoint
    assert isinstance(stream.transport.bindings(), set)


@pytest.mark.parametrize("kind", ["list", "tuple", "generator"])
async def test_bind_and_connect_accept_iterables(zmq_stream_factory: Any, kind: str) -> None:
    """bind/connect take a str or any iterable of str."""
    endpoints = ["tcp://127.0.0.1:*", "tcp://127.0.0.1:*"]
    value: Any = {"list": list, "tuple": tuple, "generator": iter}[kind](endpoints)
    server = await zmq_stream_factory(zmq.PULL, bind=value)
    bound = server.transport.bindings()
    assert len(bound) == 2
    client = await zmq_stream_factory(zmq.PUSH, connect=iter(sorted(bound)))
    assert client.transport.connections() == bound
    with anyio.fail_after(5):
        for i in range(4):
            client.write([b"%d" % i])
        assert sorted([(await server.read())[0] for _ in range(4)]) == [b"0", b"1", b"2", b"3"]


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("bind", 123),
        ("bind", b"tcp://127.0.0.1:*"),
        ("bind", [b"tcp://127.0.0.1:*"]),
        ("connect", None.__class__),
        ("connect", [1]),
        ("connect", {"tcp://a:1": 1}.values()),
    ],
)
async def test_bad_endpoint_types_are_type_errors(argument: str, value: Any) -> None:
    """Anything but a str or an iterable of str is a TypeError naming the argument."""
    with pytest.raises(TypeError, match=argument):
        await zmqstreams.create_zmq_stream(zmq.PAIR, **{argument: value})


@pytest.mark.parametrize("zmq_type", ["PAIR", 1.0, None, True])
async def test_bad_zmq_type_is_type_error(zmq_type: Any) -> None:
    """zmq_type must be an int."""
    with pytest.raises(TypeError, match="zmq_type"):
        await zmqstreams.create_zmq_stream(zmq_type)


async def test_unknown_zmq_type_is_os_error() -> None:
    """An int that is no socket type is refused by ZeroMQ: OSError with EINVAL."""
    with pytest.raises(OSError) as info:
        await zmqstreams.create_zmq_stream(12345)
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"high_read": 1, "low_read": 2}, ValueError, "read high watermark"),
        ({"low_read": -1}, ValueError, "read low watermark"),
        ({"high_write": 1, "low_write": 2}, ValueError, "write high watermark"),
        ({"high_write": "1"}, TypeError, "write high watermark"),
        ({"events_backlog": -5}, ValueError, "events_backlog"),
        ({"events_backlog": 2.5}, TypeError, "events_backlog"),
    ],
)
async def test_bad_limits(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    """Watermarks and events_backlog are validated before any socket exists."""
    with pytest.raises(error, match=match):
        await zmqstreams.create_zmq_stream(zmq.PAIR, **kwargs)


async def test_limits_are_applied(zmq_stream_factory: Any) -> None:
    """high/low read and write watermarks reach the stream and its transport."""
    stream = await zmq_stream_factory(zmq.DEALER, high_read=1000, low_write=100)
    assert stream.get_read_buffer_limits() == (250, 1000)
    assert stream.transport.get_write_buffer_limits() == (100, 400)


async def test_default_write_limits(zmq_stream_factory: Any) -> None:
    """Write watermarks default to 16 KiB low and 64 KiB high."""
    stream = await zmq_stream_factory(zmq.DEALER)
    assert stream.transport.get_write_buffer_limits() == (16 * 1024, 64 * 1024)


async def test_loop_argument_is_accepted(zmq_stream_factory: Any) -> None:
    """loop= is accepted for aiozmq compatibility."""
    stream = await zmq_stream_factory(zmq.PAIR, loop=asyncio.get_running_loop())
    assert stream.transport is not None


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_adopts_existing_socket(zmq_stream_factory: Any, flavour: str) -> None:
    """zmq_sock may be a plain or a zmq.asyncio socket, sharing inproc with Context.instance()."""
    ctx = zmq.Context.instance()
    if flavour == "sync":
        sock: zmq.Socket[Any] = ctx.socket(zmq.PAIR)
    else:
        sock = zmq.asyncio.Context(ctx).socket(zmq.PAIR)
    address = f"inproc://adopt-{flavour}-{id(sock)}"
    stream = await zmq_stream_factory(zmq.PAIR, zmq_sock=sock, bind=address)
    assert stream.get_extra_info("zmq_socket") is sock
    assert stream.get_extra_info("zmq_type") == zmq.PAIR
    peer = ctx.socket(zmq.PAIR)
    try:
        peer.connect(address)
        peer.send_multipart([b"from", b"peer"])
        with anyio.fail_after(5):
            assert await stream.read() == [b"from", b"peer"]
            stream.write([b"to peer"])
            assert await asyncio.to_thread(peer.recv_multipart) == [b"to peer"]
    finally:
        peer.close(linger=0)
    stream.close()
    await stream.wait_closed()
    assert sock.closed


async def test_adopted_socket_type_mismatch_is_value_error() -> None:
    """zmq_sock must be of zmq_type."""
    sock = zmq.Context.instance().socket(zmq.PUSH)
    try:
        with pytest.raises(ValueError, match="zmq_type"):
            await zmqstreams.create_zmq_stream(zmq.PULL, zmq_sock=sock)
    finally:
        sock.close(linger=0)


async def test_adopted_socket_not_a_socket() -> None:
    """zmq_sock must be a zmq.Socket."""
    with pytest.raises(TypeError, match="zmq_sock"):
        await zmqstreams.create_zmq_stream(zmq.PAIR, zmq_sock=object())  # type: ignore[arg-type]


async def test_adopted_closed_socket_is_os_error() -> None:
    """A closed zmq_sock gives an OSError with ENOTSOCK."""
    sock = zmq.Context.instance().socket(zmq.PAIR)
    sock.close()
    with pytest.raises(OSError) as info:
        await zmqstreams.create_zmq_stream(zmq.PAIR, zmq_sock=sock)
    assert info.value.errno == zmq.ENOTSOCK


async def test_failed_bind_closes_socket_and_leaves_nothing(zmq_stream_factory: Any) -> None:
    """EADDRINUSE: OSError with the errno, the socket is closed, the next stream works."""
    taken = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    endpoint = endpoint_of(taken)
    sock = zmq.asyncio.Context(zmq.Context.instance()).socket(zmq.PULL)
    with pytest.raises(OSError) as info:
        await zmqstreams.create_zmq_stream(zmq.PULL, zmq_sock=sock, bind=endpoint)
    assert info.value.errno == errno.EADDRINUSE
    assert endpoint in str(info.value)
    assert sock.closed
    assert task_names() == {"zmqstreams-reader"}  # only the first stream's reader
    # The fd number just freed is likely reused by the next socket: it must work normally.
    for _ in range(3):
        server = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
        client = await zmq_stream_factory(zmq.PUSH, connect=endpoint_of(server))
        await round_trip(client, server)


async def test_failed_connect_is_os_error() -> None:
    """A malformed endpoint: OSError with ZeroMQ's errno, and nothing leaks."""
    with pytest.raises(OSError) as info:
        await zmqstreams.create_zmq_stream(zmq.PUSH, connect="nosuchproto://x")
    assert info.value.errno == errno.EPROTONOSUPPORT


async def test_second_bind_of_many_failing_closes(zmq_stream_factory: Any) -> None:
    """If the second of several binds fails, the first binding goes with the socket."""
    taken = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    with pytest.raises(OSError):
        await zmqstreams.create_zmq_stream(zmq.PULL, bind=["tcp://127.0.0.1:*", endpoint_of(taken)])
