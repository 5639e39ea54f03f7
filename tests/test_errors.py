"""Socket errors: stored, raised as OSError with the ZeroMQ errno, no waiter left hanging."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import anyio
import pytest
import zmq

from helpers import endpoint_of, settle_tasks

pytestmark = pytest.mark.anyio


async def test_rep_writing_first_stores_efsm(make_stream: Any) -> None:
    """A REP socket that writes first: EFSM is stored and raised by read/drain/read_event."""
    rep = await make_stream(zmq.REP, bind="tcp://127.0.0.1:*")
    rep.write([b"not a reply"])  # never raises itself
    error = rep.exception()
    assert isinstance(error, OSError)
    assert error.errno == zmq.EFSM
    assert isinstance(error.__cause__, zmq.ZMQError)
    for operation in (rep.read, rep.drain, rep.read_event):
        with pytest.raises(OSError) as info:
            await operation()
        assert info.value.errno == zmq.EFSM
    assert rep.transport is None  # a fatal error closes the stream
    with anyio.fail_after(5):
        await rep.wait_closed()


async def test_error_wakes_pending_reads(make_stream: Any) -> None:
    """read() and read_event() waiting when the error happens raise it instead of hanging."""
    req = await make_stream(zmq.REQ, bind="tcp://127.0.0.1:*")
    rep = await make_stream(zmq.REP, connect=endpoint_of(req))
    with anyio.fail_after(5):
        reader = asyncio.create_task(rep.read())
        events = asyncio.create_task(rep.read_event())
        await settle_tasks()
        rep.write([b"bad"])
        for task in (reader, events):
            with pytest.raises(OSError) as info:
                await task
            assert info.value.errno == zmq.EFSM


async def test_req_sending_twice(make_stream: Any) -> None:
    """REQ that sends twice without a reply gets EFSM on the second write."""
    rep = await make_stream(zmq.REP, bind="tcp://127.0.0.1:*")
    req = await make_stream(zmq.REQ, connect=endpoint_of(rep))
    req.write([b"one"])
    req.write([b"two"])
    error = req.exception()
    assert isinstance(error, OSError)
    assert error.errno == zmq.EFSM


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


async def test_write_to_receive_only_socket(make_stream: Any) -> None:
    """PULL cannot send: ENOTSUP is stored like any socket error."""
    pull = await make_stream(zmq.PULL, bind="tcp://127.0.0.1:*")
    pull.write([b"x"])
    error = pull.exception()
    assert isinstance(error, OSError)
    assert error.errno == zmq.ENOTSUP


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

    def broken_feed(batch: object, total: int) -> None:
        raise ZeroDivisionError("boom")

    pull._feed_batch = broken_feed
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
