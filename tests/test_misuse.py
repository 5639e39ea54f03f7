"""The misuse matrix: every public method of a stream and of its transport, called in every state
a careless or hostile caller can put a stream in, each cell asserting its defined outcome.

States: open; closed (``close()``); its socket closed behind its back (created here, adopted
``zmq.asyncio`` socket, adopted plain socket); called from another thread; called in another
event loop (the stream's loop closed, or idle while another runs in its thread); its context
terminated.  Each with the monitor on and off, on asyncio and uvloop.  Every cell gets a fresh
stream, so no cell depends on another's outcome.

A misuse (another thread or loop) must be refused with ``RuntimeError`` before anything is sent
or changed: those cells also check that the stream's counters and state did not move.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import zmq
import zmq.asyncio

import zmqstreams

from helpers import wait_until

pytestmark = pytest.mark.anyio

Call = Callable[["Subject"], Any]


@dataclass
class Subject:
    """A DEALER stream in one state, and a plain DEALER peer it is connected to."""

    stream: zmqstreams.ZmqStream
    transport: zmqstreams.ZmqTransport
    peer: zmq.Socket[Any]
    #: Runs a call where the state says it is made (this loop, a thread, another loop).
    run: Callable[[Call, Subject], Awaitable[Any]] = field(repr=False)


# ---------------------------------------------------------------- the calls


async def _read(s: Subject) -> Any:
    async with asyncio.timeout(5):
        return await s.stream.read()


async def _read_event(s: Subject) -> Any:
    async with asyncio.timeout(5):
        return await s.stream.read_event()


async def _drain(s: Subject) -> None:
    async with asyncio.timeout(5):
        await s.stream.drain()


async def _wait_closed(s: Subject) -> None:
    async with asyncio.timeout(5):
        await s.stream.wait_closed()


async def _endpoint(call: Awaitable[Any]) -> Any:
    async with asyncio.timeout(5):
        return await call


#: The methods that do I/O or change state, each as a coroutine function of the subject.
IO_CALLS: dict[str, Call] = {
    "read": _read,
    "read_event": _read_event,
    "write": lambda s: s.stream.write([b"cell"]),
    "drain": _drain,
    "close": lambda s: s.stream.close(),
    "wait_closed": _wait_closed,
    "pause_reading": lambda s: s.transport.pause_reading(),
    "resume_reading": lambda s: s.transport.resume_reading(),
    "set_write_buffer_limits": lambda s: s.transport.set_write_buffer_limits(1000, 100),
    "abort": lambda s: s.transport.abort(),
    "bind": lambda s: _endpoint(s.transport.bind("tcp://127.0.0.1:*")),
    "unbind": lambda s: _endpoint(s.transport.unbind("tcp://127.0.0.1:1")),
    "connect": lambda s: _endpoint(s.transport.connect("tcp://127.0.0.1:1")),
    "disconnect": lambda s: _endpoint(s.transport.disconnect("tcp://127.0.0.1:1")),
    "getsockopt": lambda s: s.transport.getsockopt(zmq.LINGER),
    "setsockopt": lambda s: s.transport.setsockopt(zmq.SNDHWM, 500),
    "enable_monitor": lambda s: _endpoint(s.transport.enable_monitor()),
    "disable_monitor": lambda s: _endpoint(s.transport.disable_monitor()),
}

#: Read-only calls: they work in every state, from anywhere.
READ_ONLY_CALLS: dict[str, Call] = {
    "statistics": lambda s: s.stream.statistics(),
    "exception": lambda s: s.stream.exception(),
    "at_closing": lambda s: s.stream.at_closing(),
    "stream.get_extra_info": lambda s: s.stream.get_extra_info("zmq_type"),
    "transport.get_extra_info": lambda s: s.transport.get_extra_info("zmq_socket"),
    "is_closing": lambda s: s.transport.is_closing(),
    "bindings": lambda s: s.transport.bindings(),
    "connections": lambda s: s.transport.connections(),
    "get_write_buffer_size": lambda s: s.transport.get_write_buffer_size(),
    "get_write_buffer_limits": lambda s: s.transport.get_write_buffer_limits(),
    "repr": lambda s: repr(s.stream) + repr(s.transport),
}


async def _invoke(call: Call, subject: Subject) -> Any:
    result = call(subject)
    if asyncio.iscoroutine(result):
        result = await result
    return result


# ---------------------------------------------------------------- the states

#: Outcome of a call: ``None`` (returns), or the exception type it raises (and, for OSError,
#: the ZeroMQ errno it carries).
Expected = None | type[BaseException] | tuple[type[BaseException], int]

#: What a stream that was closed (or ended) does: the defined outcome of each I/O call.
CLOSED: dict[str, Expected] = {
    "read": zmqstreams.ZmqStreamClosed,
    "read_event": zmqstreams.ZmqStreamClosed,
    "write": zmqstreams.ZmqStreamClosed,
    "drain": ConnectionResetError,
    "close": None,
    "wait_closed": None,
    "pause_reading": None,
    "resume_reading": None,
    "set_write_buffer_limits": None,
    "abort": None,
    "bind": zmqstreams.ZmqStreamClosed,
    "unbind": zmqstreams.ZmqStreamClosed,
    "connect": zmqstreams.ZmqStreamClosed,
    "disconnect": zmqstreams.ZmqStreamClosed,
    "getsockopt": zmqstreams.ZmqStreamClosed,
    "setsockopt": zmqstreams.ZmqStreamClosed,
    "enable_monitor": zmqstreams.ZmqStreamClosed,
    "disable_monitor": None,
}

#: An open stream: every call does its job (read is given a message first).
OPEN: dict[str, Expected] = {
    **dict.fromkeys(CLOSED, None),
    "unbind": (OSError, errno.ENOENT),  # nothing is bound there
    "disconnect": (OSError, errno.ENOENT),
}

#: After the context is terminated under the stream, it has ended with OSError(ETERM) stored.
ETERM: dict[str, Expected] = {
    **CLOSED,
    "read": (OSError, zmq.ETERM),
    "read_event": (OSError, zmq.ETERM),
    "drain": (OSError, zmq.ETERM),
}

#: From another thread, or in another loop: every I/O call is refused before doing anything.
REFUSED: dict[str, Expected] = dict.fromkeys(CLOSED, RuntimeError)

#: The stream's loop is closed (its asyncio.run() ended, which ended the stream): refused,
#: except close() and abort(), which release the socket if need be, and wait_closed().
DEAD_LOOP: dict[str, Expected] = {**REFUSED, "close": None, "abort": None, "wait_closed": None}

STATES = [
    "open",
    "closed",
    "closed-behind:created",
    "closed-behind:adopted-async",
    "closed-behind:adopted-plain",
    "another-thread",
    "another-loop:closed",
    "another-loop:idle",
    "context-terminated",
]


def _expected(state: str, name: str) -> Expected:
    if state == "open":
        return OPEN[name]
    if state in ("closed",) or state.startswith("closed-behind"):
        return CLOSED[name]
    if state in ("another-thread", "another-loop:idle"):
        return REFUSED[name]
    if state == "another-loop:closed":
        return DEAD_LOOP[name]
    assert state == "context-terminated"
    return ETERM[name]


def _peer() -> tuple[zmq.Socket[Any], str]:
    peer = zmq.Context.instance().socket(zmq.DEALER)
    peer.linger = 0
    peer.rcvtimeo = 5000
    port = peer.bind_to_random_port("tcp://127.0.0.1")
    return peer, f"tcp://127.0.0.1:{port}"


async def _here(call: Call, subject: Subject) -> Any:
    return await _invoke(call, subject)


def _in_thread(call: Call, subject: Subject) -> Awaitable[Any]:
    """Run ``call`` in a worker thread that has a loop of its own (for the coroutine calls)."""
    return asyncio.to_thread(asyncio.run, _invoke(call, subject))


@contextlib.asynccontextmanager
async def subject_in(state: str, monitor: bool) -> AsyncIterator[Subject]:
    """A stream in ``state``, released afterwards whatever the cell did to it."""
    peer, address = _peer()
    cleanup: list[Callable[[], Awaitable[None]]] = []
    try:
        if state.startswith("another-loop"):
            async with _foreign_loop_subject(state, monitor, peer, address) as subject:
                yield subject
            return
        zmq_sock: Any = None
        context: zmq.Context[Any] | None = None
        if state == "closed-behind:adopted-async":
            zmq_sock = zmq.asyncio.Context(zmq.Context.instance()).socket(zmq.DEALER)
        elif state == "closed-behind:adopted-plain":
            zmq_sock = zmq.Context.instance().socket(zmq.DEALER)
        elif state == "context-terminated":
            context = zmq.Context()
            zmq_sock = context.socket(zmq.DEALER)
            zmq_sock.linger = 0
        stream = await zmqstreams.create_zmq_stream(zmq.DEALER, zmq_sock=zmq_sock)
        transport = stream.transport
        assert transport is not None

        async def close_stream() -> None:
            stream.close()
            async with asyncio.timeout(5):
                await stream.wait_closed()

        cleanup.append(close_stream)
        if monitor:
            await transport.enable_monitor()
        await transport.connect(address)
        subject = Subject(stream, transport, peer, _here)
        if state == "open":
            peer.send(b"for read")  # a message to read, once the connection is up
            async with asyncio.timeout(5):
                await _handshake(subject)
        elif state == "closed":
            stream.close()
        elif state.startswith("closed-behind"):
            stream.get_extra_info("zmq_socket").close(linger=0)
            # The stream finds out at once (pyzmq cancels its receive) or within its owner
            # watch's period (a plain socket, whose close wakes nothing).
            async with asyncio.timeout(5):
                await stream.wait_closed()
        elif state == "another-thread":
            subject.run = _in_thread
        elif state == "context-terminated":
            assert context is not None
            async with _context_terminated(context, stream, cleanup):
                yield subject
            return
        yield subject
    finally:
        for step in reversed(cleanup):
            await step()
        peer.close(linger=0)


async def _handshake(subject: Subject) -> None:
    """Wait until the peer's message has arrived, then put it back for the read cell."""
    message = await subject.stream.read()
    subject.stream.feed_msg(message)


@contextlib.asynccontextmanager
async def _context_terminated(
    context: zmq.Context[Any],
    stream: zmqstreams.ZmqStream,
    cleanup: list[Callable[[], Awaitable[None]]],
) -> AsyncIterator[None]:
    """Terminate ``context`` in a thread, as a careless program does, until the stream ended.

    pyzmq reports the termination to the loop's exception handler from its own fd callback
    (it cannot wake a receive that was pending then): those reports are expected here.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    unexpected: list[dict[str, Any]] = []

    def handler(_loop: asyncio.AbstractEventLoop, ctx: dict[str, Any]) -> None:
        if not isinstance(ctx.get("exception"), zmq.ContextTerminated):
            unexpected.append(ctx)

    loop.set_exception_handler(handler)
    terminating = asyncio.create_task(asyncio.to_thread(context.term))

    async def finish() -> None:
        async with asyncio.timeout(5):
            await terminating  # term() returns once the stream released its socket
        loop.set_exception_handler(previous)
        assert not unexpected, unexpected

    cleanup.insert(0, finish)  # after close_stream (cleanup runs in reverse)

    def ended() -> bool:
        with contextlib.suppress(OSError, zmqstreams.ZmqStreamClosed):
            stream.write([b"poke"])  # a write meets ETERM once libzmq started terminating
        return stream.exception() is not None

    await wait_until(ended)
    yield


@contextlib.asynccontextmanager
async def _foreign_loop_subject(
    state: str, monitor: bool, peer: zmq.Socket[Any], address: str
) -> AsyncIterator[Subject]:
    """A stream made in another loop: closed (an earlier ``asyncio.run()``), or idle in the
    thread where the cells then run in a loop of their own."""
    made: concurrent.futures.Future[tuple[zmqstreams.ZmqStream, zmqstreams.ZmqTransport]]
    made = concurrent.futures.Future()
    cells: asyncio.Queue[tuple[Call, asyncio.Future[Any]] | None] = asyncio.Queue()
    test_loop = asyncio.get_running_loop()

    async def create() -> tuple[zmqstreams.ZmqStream, zmqstreams.ZmqTransport]:
        stream = await zmqstreams.create_zmq_stream(zmq.DEALER, connect=address)
        transport = stream.transport
        assert transport is not None
        if monitor:
            await transport.enable_monitor()
        return stream, transport

    def owner_thread() -> None:
        """Make the stream in loop A; for "idle", serve the cells from loop B in this thread."""
        if state == "another-loop:closed":
            # As in a program that made it in one asyncio.run() and uses it in the next.
            made.set_result(asyncio.run(create()))
            return
        loop_a = asyncio.new_event_loop()
        stream, transport = loop_a.run_until_complete(create())
        made.set_result((stream, transport))

        async def serve() -> None:
            while True:
                item = asyncio.run_coroutine_threadsafe(cells.get(), test_loop).result(10)
                if item is None:
                    return
                call, answer = item
                try:
                    result = await _invoke(call, subject)
                except BaseException as exc:
                    test_loop.call_soon_threadsafe(_settle_exception, answer, exc)
                else:
                    test_loop.call_soon_threadsafe(_settle_result, answer, result)

        asyncio.run(serve())  # loop B, while loop A is idle in this same thread
        # Release the stream in its own loop, then close that loop.
        stream.close()
        loop_a.run_until_complete(asyncio.wait_for(stream.wait_closed(), 5))
        loop_a.close()

    thread = threading.Thread(target=owner_thread, name="owner-of-loop-A")
    thread.start()
    try:
        stream, transport = await asyncio.wrap_future(made)

        async def in_owner_thread(call: Call, _subject: Subject) -> Any:
            answer: asyncio.Future[Any] = test_loop.create_future()
            await cells.put((call, answer))
            async with asyncio.timeout(10):
                return await answer

        subject = Subject(
            stream,
            transport,
            peer,
            in_owner_thread if state == "another-loop:idle" else _here,
        )
        yield subject
        if state == "another-loop:closed":
            stream.close()  # the cells may have left it open: release its socket
    finally:
        if state == "another-loop:idle":
            await cells.put(None)
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive()


def _settle_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _settle_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


# ---------------------------------------------------------------- the matrix


def _check(state: str, name: str, expected: Expected, error: BaseException | None) -> None:
    where = f"{name}() in state {state}"
    if expected is None:
        assert error is None, f"{where}: expected to return, raised {error!r}"
        return
    kind, errno = expected if isinstance(expected, tuple) else (expected, None)
    assert isinstance(error, kind), f"{where}: expected {kind.__name__}, got {error!r}"
    if errno is not None:
        assert isinstance(error, OSError)
        assert error.errno == errno, f"{where}: errno {error.errno}, expected {errno}"
    if kind is RuntimeError:
        text = str(error)
        if state == "another-thread":
            assert "another thread" in text, text
            if name == "write":
                assert "write_threadsafe()" in text, text
        elif state == "another-loop:idle":
            assert "another event loop" in text, text
        else:
            assert "event loop is closed" in text, text


@pytest.mark.parametrize("monitor", [False, True], ids=["monitor-off", "monitor-on"])
@pytest.mark.parametrize("state", STATES)
async def test_every_io_call_has_its_defined_outcome(state: str, monitor: bool) -> None:
    """Each I/O or state-changing call, on a fresh stream in ``state``, does what is defined."""
    for name, call in IO_CALLS.items():
        if state == "open" and (name == "wait_closed" or (name == "read_event" and not monitor)):
            continue  # these wait, by design: see test_waits_of_an_open_stream
        async with subject_in(state, monitor) as subject:
            before = subject.stream.statistics(), subject.transport.is_closing()
            try:
                await subject.run(call, subject)
            except BaseException as exc:
                error: BaseException | None = exc
            else:
                error = None
            expected = _expected(state, name)
            _check(state, name, expected, error)
            if expected is RuntimeError:
                # Refused before anything was sent, queued or changed.
                after = subject.stream.statistics(), subject.transport.is_closing()
                assert after == before, f"{name}() in state {state} changed the stream"


@pytest.mark.parametrize("monitor", [False, True], ids=["monitor-off", "monitor-on"])
@pytest.mark.parametrize("state", STATES)
async def test_read_only_calls_work_everywhere(state: str, monitor: bool) -> None:
    """statistics(), exception(), at_closing(), get_extra_info()... answer in every state, from
    any thread or loop, and change nothing."""
    async with subject_in(state, monitor) as subject:
        for name, call in READ_ONLY_CALLS.items():
            before = subject.stream.statistics()
            await subject.run(call, subject)  # raises if the call is refused
            assert subject.stream.statistics() == before, name


@pytest.mark.parametrize("state", STATES)
async def test_write_threadsafe_outcome(state: str) -> None:
    """write_threadsafe() from a producer thread: accepted while open, refused with a clear
    exception on the future once closed or broken, never left pending for good."""
    async with subject_in(state, monitor=False) as subject:
        if state == "another-loop:idle":
            pytest.skip("the stream's loop is idle: nothing accepts it until that loop runs")

        def produce() -> BaseException | None:
            future = subject.stream.write_threadsafe([b"from a thread"])
            try:
                future.result(timeout=5)
            except Exception as exc:
                return exc
            return None

        error = await asyncio.to_thread(produce)
        if state in ("open", "another-thread"):
            assert error is None, repr(error)
            received = await asyncio.to_thread(subject.peer.recv)
            assert received == b"from a thread"
        else:
            assert isinstance(error, zmqstreams.ZmqStreamClosed), repr(error)


async def test_waits_of_an_open_stream() -> None:
    """The cells left out above: on an open stream, read_event() without a monitor and
    wait_closed() wait; cancelling either is safe, and wait_closed() ends with close()."""
    async with subject_in("open", monitor=False) as subject:
        event = asyncio.create_task(subject.stream.read_event())
        closed = asyncio.create_task(subject.stream.wait_closed())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not event.done()
        assert not closed.done()
        event.cancel()
        with pytest.raises(asyncio.CancelledError):
            await event
        assert await _read(subject) == [b"for read"]  # the stream is unaffected
        subject.stream.close()
        async with asyncio.timeout(5):
            await closed
