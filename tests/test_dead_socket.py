"""A socket closed behind the stream's back, or whose context was terminated, is never touched
again: no message goes to, or comes from, an unrelated socket that libzmq placed where the dead
one was, and the stream ends clearly (``ZmqStreamClosed``, or the ``OSError`` of ``ETERM``).

libzmq frees a closed socket and may put a new one at the same address, so a raw handle to the
old one reaches the new one.  Each test below creates such unrelated sockets right after the
close, to give that reuse every chance.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
import zmq
import zmq.asyncio

import zmqstreams

from helpers import wait_until

pytestmark = pytest.mark.anyio

#: How many unrelated sockets to create after a close: enough for libzmq to reuse the memory.
UNRELATED = 32


def _unique(name: str) -> str:
    return f"inproc://dead-socket-{name}-{os.getpid()}-{id(object())}"


def socket_of(origin: str, zmq_type: int) -> Any:
    """``zmq_sock=`` for a stream of ``origin``: ``None`` (created by zmqstreams), or a socket
    the caller made, ``zmq.asyncio`` or plain."""
    if origin == "adopted-async":
        return zmq.asyncio.Context(zmq.Context.instance()).socket(zmq_type)
    if origin == "adopted-plain":
        return zmq.Context.instance().socket(zmq_type)
    return None


class Unrelated:
    """PUB/SUB and PUSH/PULL pairs that have nothing to do with the stream under test."""

    def __init__(self) -> None:
        ctx = zmq.Context.instance()
        self.sockets: list[zmq.Socket[Any]] = []
        self.subs: list[tuple[zmq.Socket[Any], zmq.Socket[Any]]] = []
        self.pulls: list[tuple[zmq.Socket[Any], zmq.Socket[Any]]] = []
        for n in range(UNRELATED // 2):
            pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
            sub.subscribe(b"")
            address = _unique(f"pub{n}")
            pub.bind(address)
            sub.connect(address)
            self.subs.append((pub, sub))
            push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
            address = _unique(f"push{n}")
            pull.bind(address)
            push.connect(address)
            push.send(b"unrelated %d" % n)  # waits in the PULL, for a thief to take
            self.pulls.append((push, pull))
        for pair in (*self.subs, *self.pulls):
            self.sockets.extend(pair)

    def assert_untouched(self) -> None:
        """Every SUB's first message is its own PUB's, and every PULL still holds its message."""
        for n, (pub, sub) in enumerate(self.subs):
            # inproc PUB/SUB subscriptions are in place once connect() returned
            pub.send(b"sentinel %d" % n)
            assert sub.poll(5000), "the sentinel did not arrive"
            assert sub.recv() == b"sentinel %d" % n, "a SUB received a message not its own"
        for n, (_push, pull) in enumerate(self.pulls):
            assert pull.poll(5000), f"PULL {n} lost its message"
            assert pull.recv() == b"unrelated %d" % n

    def close(self) -> None:
        for sock in self.sockets:
            sock.close(linger=0)


@pytest.mark.parametrize("origin", ["created", "adopted-async", "adopted-plain"])
async def test_write_after_socket_closed_behind_its_back(origin: str) -> None:
    """A write after the socket was closed raises ZmqStreamClosed at once and reaches nobody.

    With ``adopted-plain`` nothing tells the stream of the close (no future is cancelled): the
    write itself must find out, with no polling window.  PUB, a type with no reader task, was
    where such a write used to reach an unrelated SUB.
    """
    zmq_sock = socket_of(origin, zmq.PUB)
    pub = await zmqstreams.create_zmq_stream(zmq.PUB, zmq_sock=zmq_sock, bind=_unique("pub"))
    pub.get_extra_info("zmq_socket").close(linger=0)
    unrelated = Unrelated()
    try:
        with pytest.raises(zmqstreams.ZmqStreamClosed, match="closed behind the stream's back"):
            pub.write([b"must reach nobody"])
        with pytest.raises(zmqstreams.ZmqStreamClosed):
            pub.write([b"nor this"])
        assert pub.statistics().messages_written == 0
        unrelated.assert_untouched()
        async with asyncio.timeout(5):
            await pub.wait_closed()
        assert pub.exception() is None
    finally:
        unrelated.close()


@pytest.mark.parametrize("origin", ["created", "adopted-async", "adopted-plain"])
async def test_paused_reader_never_reads_a_dead_socket(origin: str) -> None:
    """A PULL whose reading is paused by a full buffer, closed behind its back: read() returns
    exactly the messages it had buffered, then raises ZmqStreamClosed, stealing nothing from
    the unrelated sockets created meanwhile and never hanging."""
    zmq_sock = socket_of(origin, zmq.PULL)
    address = _unique("pull")
    pull = await zmqstreams.create_zmq_stream(
        zmq.PULL, zmq_sock=zmq_sock, bind=address, high_read=100
    )
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.connect(address)
    try:
        for n in range(50):
            push.send(b"ours %02d" % n)  # 7 bytes each: the reader pauses after 15
        await wait_until(lambda: pull.statistics().reading_paused)
        buffered = pull.statistics().read_buffer_messages
        assert 0 < buffered < 50
        pull.get_extra_info("zmq_socket").close(linger=0)
        unrelated = Unrelated()
        try:
            received = []

            async def read_all() -> None:
                while True:
                    received.append(await pull.read())

            async with asyncio.timeout(5):
                with pytest.raises(zmqstreams.ZmqStreamClosed):
                    await read_all()
            assert received == [[b"ours %02d" % n] for n in range(len(received))]
            assert len(received) >= buffered
            unrelated.assert_untouched()
            async with asyncio.timeout(5):
                await pull.wait_closed()
        finally:
            unrelated.close()
    finally:
        push.close(linger=0)


@pytest.mark.parametrize("origin", ["created", "adopted-async", "adopted-plain"])
async def test_pending_read_ends_when_socket_closed_behind_its_back(origin: str) -> None:
    """A read() waiting when the socket is closed raises ZmqStreamClosed (for a caller's plain
    socket, whose close wakes nothing, within the owner watch's period)."""
    zmq_sock = socket_of(origin, zmq.PAIR)
    pair = await zmqstreams.create_zmq_stream(zmq.PAIR, zmq_sock=zmq_sock, bind=_unique("pair"))
    pending = asyncio.create_task(pair.read())
    for _ in range(3):
        await asyncio.sleep(0)
    pair.get_extra_info("zmq_socket").close(linger=0)
    unrelated = Unrelated()
    try:
        async with asyncio.timeout(5):
            with pytest.raises(zmqstreams.ZmqStreamClosed):
                await pending
            await pair.wait_closed()
        unrelated.assert_untouched()
    finally:
        unrelated.close()


@pytest.mark.parametrize("origin", ["created", "adopted-plain"])
async def test_close_flushing_then_socket_closed_behind_its_back(origin: str) -> None:
    """close() with writes still buffered, then the socket closed under it: wait_closed()
    returns (nothing is left to flush into), and the unflushed messages go nowhere."""
    zmq_sock = socket_of(origin, zmq.PUSH)
    if zmq_sock is not None:
        zmq_sock.linger = -1  # the flush would otherwise wait forever for the absent peer
    push = await zmqstreams.create_zmq_stream(
        zmq.PUSH,
        zmq_sock=zmq_sock,
        connect="tcp://127.0.0.1:1",  # nobody listens there
        high_write=10,
        options={zmq.IMMEDIATE: 1},  # no pipe until a peer is there: every message waits
    )
    for n in range(20):
        push.write([b"never delivered %d" % n])  # the peer is absent: they wait in the buffer
    assert push.statistics().write_buffer_messages > 0
    push.close()  # a flush that cannot finish
    push.get_extra_info("zmq_socket").close(linger=0)
    unrelated = Unrelated()
    try:
        async with asyncio.timeout(5):
            await push.wait_closed()
        unrelated.assert_untouched()
        assert push.exception() is None
    finally:
        unrelated.close()


async def test_context_terminated_under_monitored_stream() -> None:
    """Another thread terminates the context of a stream with a monitor: write() raises the
    OSError of ETERM (never a raw zmq.ContextTerminated), the stream ends, its monitor PAIR is
    closed with it, and term() returns."""
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    stream = await zmqstreams.create_zmq_stream(zmq.DEALER, zmq_sock=sock, bind="tcp://127.0.0.1:*")
    assert stream.transport is not None
    await stream.transport.enable_monitor()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    # pyzmq's own fd callbacks report the termination to the loop (a documented trap).
    reported: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, ctx: reported.append(ctx.get("exception")))
    terminating = asyncio.create_task(asyncio.to_thread(context.term))
    try:
        raised: list[BaseException] = []

        def ended() -> bool:
            try:
                stream.write([b"poke"])
            except Exception as exc:
                raised.append(exc)
            return bool(raised)

        await wait_until(ended)
        # The write that found ETERM raises it; if the reader found it first, the write finds
        # the stream closed.  Either way, never a raw zmq error.
        (first,) = raised
        error = stream.exception()
        assert type(error) is OSError, repr(error)
        assert error.errno == zmq.ETERM
        assert first is error or type(first) is zmqstreams.ZmqStreamClosed, repr(first)
        with pytest.raises(zmqstreams.ZmqStreamClosed):
            stream.write([b"more"])
        async with asyncio.timeout(5):
            await stream.wait_closed()
            await terminating  # nothing of ours (socket, monitor PAIR) holds the context
        assert all(isinstance(exc, zmq.ContextTerminated) for exc in reported), reported
    finally:
        loop.set_exception_handler(previous)
        if not terminating.done():
            stream.close()
            sock.close(linger=0)
            async with asyncio.timeout(5):
                await terminating


@pytest.mark.parametrize("origin", ["created", "adopted-plain"])
async def test_write_queued_behind_others_after_socket_closed(origin: str) -> None:
    """A write() that would only join the write buffer (no libzmq call) still finds out that the
    socket was closed behind the stream's back: ZmqStreamClosed, never a message accepted into
    a buffer that can no longer be sent."""
    push = await zmqstreams.create_zmq_stream(
        zmq.PUSH,
        zmq_sock=socket_of(origin, zmq.PUSH),
        connect="tcp://127.0.0.1:1",
        options={zmq.IMMEDIATE: 1},
    )
    push.write([b"waits in the buffer"])
    assert push.statistics().write_buffer_messages == 1
    push.get_extra_info("zmq_socket").close(linger=0)
    with pytest.raises(zmqstreams.ZmqStreamClosed, match="closed behind the stream's back"):
        push.write([b"would wait behind it"])  # in the same turn: nothing else noticed yet
    async with asyncio.timeout(5):
        await push.wait_closed()
