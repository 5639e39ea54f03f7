"""Socket errors: stored, raised as OSError with the ZeroMQ errno, no waiter left hanging.

A message the socket refuses is not a socket error: see test_refusals.py.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import tracemalloc
from typing import Any

import anyio
import pytest
import zmq
from _helpers_proc import run_limits

import zmqstreams
from zmqstreams.testing import socket_faults

from helpers import endpoint_of, settle_tasks, wait_until

pytestmark = pytest.mark.anyio


async def test_error_wakes_pending_reads(zmq_stream_factory: Any) -> None:
    """read() and read_event() waiting when a fatal error happens raise it instead of hanging.

    The fatal error is a failure after part of a multipart message was taken (simulated:
    libzmq itself refuses messages at their first frame only, which does not end the stream).
    """
    dealer = await zmq_stream_factory(zmq.DEALER, bind="tcp://127.0.0.1:*")
    await dealer.transport.enable_monitor()
    with anyio.fail_after(5):
        reader = asyncio.create_task(dealer.read())
        events = asyncio.create_task(dealer.read_event())
        await settle_tasks()
        with socket_faults(dealer) as faults:
            faults.fail_sends(zmq.EHOSTUNREACH, after_frames=1)
            with pytest.raises(OSError) as raised:
                dealer.write([b"torn", b"message"])
        assert raised.value is dealer.exception()
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


async def test_req_rep_lockstep_works(zmq_stream_factory: Any) -> None:
    """The legal REQ/REP sequence is unaffected."""
    rep = await zmq_stream_factory(zmq.REP, bind="tcp://127.0.0.1:*")
    req = await zmq_stream_factory(zmq.REQ, connect=endpoint_of(rep))
    with anyio.fail_after(5):
        for i in range(20):
            req.write([b"q%d" % i])
            assert await rep.read() == [b"q%d" % i]
            rep.write([b"a%d" % i])
            assert await req.read() == [b"a%d" % i]
    assert req.exception() is None


async def test_bad_socket_options(zmq_stream_factory: Any) -> None:
    """getsockopt/setsockopt failures are OSError with the errno and name the option."""
    stream = await zmq_stream_factory(zmq.DEALER)
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


async def test_unbind_and_disconnect(zmq_stream_factory: Any) -> None:
    """unbind/disconnect update the endpoint sets; unknown endpoints are OSError (ENOENT)."""
    server = await zmq_stream_factory(zmq.PULL, bind=["tcp://127.0.0.1:*", "tcp://127.0.0.1:*"])
    first, second = sorted(server.transport.bindings())
    await server.transport.unbind(first)
    assert server.transport.bindings() == {second}
    client = await zmq_stream_factory(zmq.PUSH, connect=second)
    await client.transport.disconnect(second)
    assert client.transport.connections() == set()
    with pytest.raises(OSError) as info:
        await client.transport.disconnect(second)
    assert info.value.errno == errno.ENOENT
    with pytest.raises(TypeError, match="endpoint"):
        await client.transport.connect(b"tcp://127.0.0.1:1")  # type: ignore[arg-type]


async def test_unexpected_reader_failure_reaches_read(zmq_stream_factory: Any) -> None:
    """A bug-class exception inside the reader task is stored and raised by read(), not lost."""
    pull = await zmq_stream_factory(zmq.PULL, bind="inproc://reader-crash")
    peer = zmq.Context.instance().socket(zmq.PUSH)
    try:
        with socket_faults(pull) as faults:
            # The reader task's background receive takes the first message; the batch after it
            # goes through the failing recv.
            faults.fail_receives(ZeroDivisionError("boom"))
            peer.connect("inproc://reader-crash")
            peer.send_multipart([b"x"])
            await wait_until(lambda: pull.exception() is not None)
        assert isinstance(pull.exception(), ZeroDivisionError)
        with anyio.fail_after(5), pytest.raises(ZeroDivisionError):
            await pull.read()
        assert pull.transport is None
    finally:
        peer.close(linger=0)


async def test_stored_error_raised_again_and_again_does_not_grow(zmq_stream_factory: Any) -> None:
    """read() and drain() on a failed stream raise the one stored error each time without its
    traceback growing by every raise (it used to: +57 MB over 100k calls)."""
    dealer = await zmq_stream_factory(zmq.DEALER, bind="inproc://errors-stored")
    with socket_faults(dealer) as faults:
        faults.fail_sends(zmq.EHOSTUNREACH, after_frames=1)
        with pytest.raises(OSError):
            dealer.write([b"torn", b"message"])
    stored = dealer.exception()

    async def fail_many(count: int) -> None:
        for _ in range(count):
            for operation in (dealer.read, dealer.drain):
                with pytest.raises(OSError) as info:
                    await operation()
                assert info.value is stored

    await fail_many(10_000)
    depth = 0
    tb = stored.__traceback__
    while tb is not None:
        depth += 1
        tb = tb.tb_next
    assert depth < 10, f"the traceback grew to {depth} frames"
    tracemalloc.start()
    try:
        await fail_many(1_000)
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        await fail_many(5_000)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024, f"memory grew by {after - before} bytes"


@pytest.mark.slow
def test_too_many_streams_names_the_type_and_both_limits() -> None:
    """Creating a stream beyond the context's MAX_SOCKETS: EMFILE names the socket type, the
    context's MAX_SOCKETS (and how to raise it) and the process's open-file limit.  Run in a
    child process, which it fills with sockets."""
    run_limits("many-streams")


async def test_monitor_pair_at_the_socket_limit_names_both_limits() -> None:
    """The same message when the monitor's PAIR is the socket with no slot left."""
    context = zmq.Context()
    context.set(zmq.MAX_SOCKETS, 4)
    held = []
    try:
        while True:
            try:
                held.append(context.socket(zmq.PAIR))
            except zmq.ZMQError:
                break
        held.pop().close(linger=0)  # one slot back (once libzmq's reaper freed it), to adopt
        adopted = await zmqstreams.create_zmq_stream(
            zmq.PAIR, zmq_sock=await _socket_once_a_slot_is_free(context)
        )
        with pytest.raises(OSError) as info:
            await adopted.transport.enable_monitor()
        message = str(info.value)
        assert info.value.errno == errno.EMFILE
        assert "cannot create a PAIR socket" in message
        assert "MAX_SOCKETS is 4" in message
        assert "zmq.MAX_SOCKETS" in message
        assert "RLIMIT_NOFILE is" in message
        adopted.close()
        await adopted.wait_closed()
    finally:
        for sock in held:
            sock.close(linger=0)
        await asyncio.wait_for(asyncio.to_thread(context.term), 10)


async def _socket_once_a_slot_is_free(context: zmq.Context[Any]) -> zmq.Socket[Any]:
    """A PAIR of ``context``, created as soon as a slot is free again (bounded: 5 s)."""
    sockets: list[zmq.Socket[Any]] = []

    def created() -> bool:
        try:
            sockets.append(context.socket(zmq.PAIR))
        except zmq.ZMQError:
            return False
        return True

    await wait_until(created)
    return sockets[0]
