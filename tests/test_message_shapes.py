"""Only messages the socket can carry: a message is checked whole before its first frame goes
out, so nothing can tear it or glue it to the next one, and the socket type's rules (ROUTER,
STREAM, types that only send or only receive) are enforced with an error naming the type.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
import zmq

import zmqstreams

pytestmark = pytest.mark.anyio


def _address(name: str) -> str:
    return f"inproc://shapes-{name}-{os.getpid()}-{id(object())}"


async def _dealer_pair(
    zmq_stream_factory: Any,
) -> tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]:
    address = _address("dealers")
    a = await zmq_stream_factory(zmq.DEALER, bind=address)
    b = await zmq_stream_factory(zmq.DEALER, connect=address)
    return a, b


@pytest.mark.parametrize(
    "frame",
    [
        memoryview(b"abcdefgh")[::2],
        memoryview(bytearray(b"abcdefgh"))[::-1],
    ],
    ids=["strided", "reversed"],
)
async def test_non_contiguous_frame_is_refused_before_anything_is_sent(
    zmq_stream_factory: Any, frame: memoryview
) -> None:
    """A non-contiguous frame anywhere in the message: ValueError, nothing of the message sent
    (its first frame would otherwise glue itself to the next message), stream usable."""
    a, b = await _dealer_pair(zmq_stream_factory)
    with pytest.raises(ValueError, match=r"frame 1 of msg .* not C-contiguous"):
        a.write([b"HEAD", frame])
    assert a.statistics().messages_written == 0
    a.write([b"next", b"message"])
    async with asyncio.timeout(5):
        assert await b.read() == [b"next", b"message"]
    assert a.exception() is None


async def test_contiguous_views_are_sent(zmq_stream_factory: Any) -> None:
    """C-contiguous memoryviews (slices without a step, multi-dimensional) are fine frames."""
    a, b = await _dealer_pair(zmq_stream_factory)
    grid = memoryview(bytearray(b"0123456789ab")).cast("B", (3, 4))
    a.write([memoryview(b"abcdefgh")[2:5], grid])
    async with asyncio.timeout(5):
        assert await b.read() == [b"cde", b"0123456789ab"]


@pytest.mark.parametrize("frames", [1, 3])
async def test_stream_socket_takes_exactly_id_and_data(
    zmq_stream_factory: Any, frames: int
) -> None:
    """A STREAM socket sends [routing_id, data] only: any other count is a ValueError, and
    the peer keeps getting later messages (the socket is not put out of phase)."""
    server = await zmq_stream_factory(zmq.STREAM, bind="tcp://127.0.0.1:*")
    (endpoint,) = server.transport.bindings()
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as client:
        async with asyncio.timeout(5):
            routing_id, empty = await server.read()  # the connection notice
        assert empty == b""
        message = [routing_id, b"one", b"two"][:frames]
        shape = r"STREAM socket sends messages of \[routing_id, data\]"
        with pytest.raises(ValueError, match=shape):
            server.write(message)
        server.write([routing_id, b"hello"])
        assert await asyncio.to_thread(client.recv, 100) == b"hello"
        client.sendall(b"ping")
        async with asyncio.timeout(5):
            assert await server.read() == [routing_id, b"ping"]


async def test_router_needs_a_routing_id_and_a_frame(zmq_stream_factory: Any) -> None:
    """A one-frame ROUTER message, which libzmq would drop silently (even with
    ROUTER_MANDATORY), is a ValueError and is not counted as written."""
    address = _address("router")
    router = await zmq_stream_factory(zmq.ROUTER, bind=address)
    dealer = await zmq_stream_factory(zmq.DEALER, connect=address)
    dealer.write([b"hi"])
    async with asyncio.timeout(5):
        identity, _ = await router.read()
    with pytest.raises(ValueError, match="ROUTER socket sends messages of"):
        router.write([b"reply"])
    assert router.statistics().messages_written == 0
    router.write([identity, b""])  # an empty body is a message
    async with asyncio.timeout(5):
        assert await dealer.read() == [b""]


@pytest.mark.parametrize("kind", ["PUSH", "PUB"])
async def test_read_on_a_type_that_cannot_receive(zmq_stream_factory: Any, kind: str) -> None:
    """read() on a PUSH or PUB raises OSError(ENOTSUP) naming the type at once, instead of
    waiting forever; the stream stays usable for writing."""
    stream = await zmq_stream_factory(getattr(zmq, kind), bind=_address(kind))
    for _ in range(2):
        with pytest.raises(OSError, match=f"{kind} sockets cannot receive") as info:
            async with asyncio.timeout(5):
                await stream.read()
        assert info.value.errno == zmq.ENOTSUP
    stream.write([b"still writes"])
    assert stream.exception() is None


@pytest.mark.parametrize("kind", ["PULL", "SUB"])
async def test_write_on_a_type_that_cannot_send(zmq_stream_factory: Any, kind: str) -> None:
    """write() on a PULL or SUB raises OSError(ENOTSUP) naming the type; the stream goes on."""
    stream = await zmq_stream_factory(getattr(zmq, kind), bind=_address(kind))
    with pytest.raises(OSError, match=f"{kind} sockets cannot send") as info:
        stream.write([b"x"])
    assert info.value.errno == zmq.ENOTSUP
    assert stream.exception() is None
    assert stream.transport is not None
    assert not stream.transport.is_closing()


@pytest.mark.parametrize(
    ("message", "error", "match"),
    [
        (b"bytes", TypeError, "msg must be a list or tuple"),
        ([], TypeError, "at least one frame"),
        ([b"ok", "text"], TypeError, "frame 1 of msg must be bytes"),
        ([b"ok", 7], TypeError, "frame 1 of msg must be bytes"),
    ],
)
async def test_malformed_messages_send_nothing(
    zmq_stream_factory: Any, message: Any, error: type[Exception], match: str
) -> None:
    """Each malformed message raises naming what is wrong, before its first frame is sent."""
    a, b = await _dealer_pair(zmq_stream_factory)
    with pytest.raises(error, match=match):
        a.write(message)
    a.write([b"after"])
    async with asyncio.timeout(5):
        assert await b.read() == [b"after"]
