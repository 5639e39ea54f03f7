"""Socket errors: stored, raised as OSError with the ZeroMQ errno, no waiter left hanging.

A message the socket refuses is not a socket error: see test_refusals.py.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import anyio
import pytest
import zmq

from helpers import FailingSocket, endpoint_of, settle_tasks

pytestmark = pytest.mark.anyio


async def test_error_wakes_pending_reads(make_stream: Any) -> None:
    """read() and read_event() waiting when a fatal error happens raise it instead of hanging.

    The fatal error is a failure after part of a multipart message was taken (simulated:
    libzmq itself refuses messages at their first frame only, which does not end the stream).
    """
    dealer = await make_stream(zmq.DEALER, bind="tcp://127.0.0.1:*")
    await dealer.transport.enable_monitor()
    with anyio.fail_after(5):
        reader = asyncio.create_task(dealer.read())
        events = asyncio.create_task(dealer.read_event())
        await settle_tasks()
        dealer._writer._sock = FailingSocket(1, zmq.EHOSTUNREACH)
        dealer.write([b"torn", b"message"])
        for task in (reader, events):
            with pytest.raises(OSError) as info:
                await task
            assert info.value.errno == zmq.EHOSTUNREACH
        for operation in (dealer.read, dealer.drain, dealer.read_event):
            with pytest.raises(OSError) as info:
                await operation()
            assert info.value is dealer.exception()
        assert dealer.transport is None  # a fatal error closes the stream
        await dealer.wait_closed()


async def test_req_rep_lockstep_works(make_stream: Any) -> None:
    """The legal REQ/REP sequence is unaffected."""
    rep = await make_stream(zmq.REP, bind="tcp://127.0.0.1:*")
    req = await make_stream(zmq.REQ, connect=endpoint_of(rep))
    with anyio.fail_after(5):
        for i in range(20):
            req.write([b"q%d" % i])
            assert await rep.read() == [b"q%d" % i]
            rep.write([b"a%d" % i])
            assert await req.read() == [b"a%d" % i]
    assert req.exception() is None


async def test_bad_socket_options(make_stream: Any) -> None:
    """getsockopt/setsockopt failures are OSError with the errno and name the option."""
    stream = await make_stream(zmq.DEALER)
    with pytest.raises(OSError) as info:
        stream.transport.setsockopt(999999, 1)
    assert info.value.errno == zmq.EINVAL
    assert "999999" in str(info.value)
    with pytest.raises(OSError, match="SUBSCRIBE"):
        stream.transport.setsockopt(zmq.SUBSCRIBE, b"x")  # not a SUB socket: EINVAL
    with pytest.raises(OSError) as info:
        stream.transport.getsockopt(999999)
    assert info.value.errno == zmq.EINVAL
    # The stream is still fine.
    assert stream.exception() is None
    stream.transport.setsockopt(zmq.LINGER, 0)
    assert stream.transport.getsockopt(zmq.LINGER) == 0


async def test_unbind_and_disconnect(make_stream: Any) -> None:
    """unbind/disconnect update the endpoint sets; unknown endpoints are OSError (ENOENT)."""
    server = await make_stream(zmq.PULL, bind=["tcp://127.0.0.1:*", "tcp://127.0.0.1:*"])
    first, second = sorted(server.transport.bindings())
    await server.transport.unbind(first)
    assert server.transport.bindings() == {second}
    client = await make_stream(zmq.PUSH, connect=second)
    await client.transport.disconnect(second)
    assert client.transport.connections() == set()
    with pytest.raises(OSError) as info:
        await client.transport.disconnect(second)
    assert info.value.errno == errno.ENOENT
    with pytest.raises(TypeError, match="endpoint"):
        await client.transport.connect(b"tcp://127.0.0.1:1")  # type: ignore[arg-type]


async def test_unexpected_reader_failure_reaches_read(make_stream: Any) -> None:
    """A bug-class exception inside the reader is stored and raised by read(), not lost."""
    pull = await make_stream(zmq.PULL, bind="inproc://reader-crash")
    peer = zmq.Context.instance().socket(zmq.PUSH)

    def broken_feed(messages: object, sizes: object, total: int) -> None:
        raise ZeroDivisionError("boom")

    pull._reader._feed = broken_feed
    try:
        peer.connect("inproc://reader-crash")
        pending = asyncio.create_task(pull.read())
        await settle_tasks()
        peer.send_multipart([b"x"])
        with anyio.fail_after(5), pytest.raises(ZeroDivisionError):
            await pending
        assert isinstance(pull.exception(), ZeroDivisionError)
    finally:
        peer.close(linger=0)
