"""Hypothesis stateful fuzzing of the public stream API against a model of the stream.

Each example opens a sender and a receiver stream (PAIR, PUSH/PULL or ROUTER/DEALER, over inproc
or tcp, on asyncio or uvloop) in a fresh ``asyncio.Runner`` and drives random sequences of
write, read, drain, pause/resume, watermark changes, feed_* calls, a pending read that gets
cancelled, close and abort, writes the socket refuses (a PULL writing: ENOTSUP; the
ROUTER_MANDATORY sender writing to an unknown routing id: EHOSTUNREACH at once, or dropped and
counted if it had to wait in the write buffer), writes from a producer thread
(``write_threadsafe()``, and a ``write()`` there, which must be refused untouched), and either
socket closed behind its stream's back.  Checked throughout: every message ``write()``
accepted arrives exactly once and in order (all of them, unless ``abort()`` was called or the
receiver was closed), fed messages come out in order, only documented exceptions escape; and
at the end nothing is left behind (tasks, fds, loop errors).  ``ZMQSTREAMS_FUZZ_EXAMPLES`` sets
the number of examples (CI default 200).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import hypothesis.strategies as st
import pytest
import uvloop
import zmq
from _helpers_proc import open_fds
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import zmqstreams
from zmqstreams._watermarks import DEFAULT_HIGH
from zmqstreams.testing import warm_zmq_context

EXAMPLES = int(os.environ.get("ZMQSTREAMS_FUZZ_EXAMPLES", "200"))
STEPS = int(os.environ.get("ZMQSTREAMS_FUZZ_STEPS", "30"))
#: ZMQSTREAMS_FUZZ_SHRINK=0 reports the first failing example as found (a quick yes/no).
SHRINK = os.environ.get("ZMQSTREAMS_FUZZ_SHRINK", "1") != "0"
#: LINGER of the sender, in ms: a closed sender may keep its socket (and fd) this long.
SENDER_LINGER = 3000

PATTERNS = {
    "PAIR": (zmq.PAIR, zmq.PAIR),
    "PUSH/PULL": (zmq.PUSH, zmq.PULL),
    # The sender is a ROUTER with ROUTER_MANDATORY; every message is routed to RX_ID.
    "ROUTER/DEALER": (zmq.ROUTER, zmq.DEALER),
}
#: Routing id of the receiver when the sender is a ROUTER.
RX_ID = b"rx"
SETUPS = [
    (pattern, transport, loop)
    for pattern in PATTERNS
    for transport in ("inproc", "tcp")
    for loop in ("asyncio", "uvloop")
]

#: How a frame is passed to write(): bytes as is, or a caller-owned buffer mutated afterwards.
frame_kinds = st.sampled_from(["bytes", "bytearray", "memoryview"])
payloads = st.binary(max_size=3000)
limits = st.one_of(st.none(), st.integers(min_value=-1, max_value=200_000))


def _valid_limits(high: int | None, low: int | None) -> bool:
    """The documented rules of set_*_buffer_limits (see resolve_watermarks)."""
    if high is None:
        high = DEFAULT_HIGH if low is None else 4 * low
    if low is None:
        low = high // 4
    return low >= 0 and high >= low


class StreamMachine(RuleBasedStateMachine):
    """A sender and a receiver stream, and the model of what the receiver may return."""

    def __init__(self) -> None:
        super().__init__()
        self.runner: asyncio.Runner | None = None
        self.errors: list[dict[str, Any]] = []
        warm_zmq_context()  # pyzmq's threads' fds are the process's, not this example's
        self.fds0 = open_fds()
        #: Messages write() accepted, in order; received must always be a prefix of it.
        self.written: list[list[bytes]] = []
        self.received: list[list[bytes]] = []
        #: Messages given to feed_msg() while the receiver was open, and how many were read.
        self.fed: list[list[bytes]] = []
        self.fed_read = 0
        self.events: deque[zmqstreams.SocketEvent] = deque(maxlen=100)
        self.pending: asyncio.Task[None] | None = None
        self.tx_closed = False
        #: Sent messages may be lost (abort(), or the sender's socket closed under it).
        self.aborted = False
        self.rx_closed = False
        self.rx_feed_closed = False
        self.user_paused = False
        self.seq = 0
        self.pattern = ""
        #: Frames put before every message: the receiver's routing id when the sender routes.
        self.route: list[bytes] = []
        #: Writes to an unknown routing id that were buffered, so refused later (not raised).
        self.refused_later = 0

    # ------------------------------------------------------------------ plumbing

    def run(self, make: Callable[[], Coroutine[Any, Any, Any]], turns: int = 3) -> Any:
        """Run one coroutine on this example's loop, then let the background tasks move."""
        assert self.runner is not None

        async def step() -> Any:
            result = await make()
            for _ in range(turns):
                await asyncio.sleep(0)
            return result

        return self.runner.run(step())

    def record(self, msg: list[bytes]) -> None:
        """Check one message the receiver returned against the model."""
        if msg[0].startswith(b"fed"):
            assert self.fed_read < len(self.fed), f"unexpected fed message {msg[0]!r}"
            assert msg == self.fed[self.fed_read], "fed messages out of order"
            self.fed_read += 1
            return
        index = len(self.received)
        assert index < len(self.written), f"received more than written: {msg[0]!r}"
        assert msg == self.written[index], (
            f"message {index}: got {msg[0]!r}, expected {self.written[index][0]!r}"
        )
        self.received.append(msg)

    @property
    def rx_done(self) -> bool:
        """True once the receiver can return nothing more from the socket."""
        return self.rx_closed or self.rx_feed_closed

    # ------------------------------------------------------------------ set-up

    @initialize(setup=st.sampled_from(SETUPS), hwm=st.sampled_from([1, 2, 1000]))
    def open_streams(self, setup: tuple[str, str, str], hwm: int) -> None:
        """Open the pair; a small ZeroMQ HWM makes the streams' own buffers do the work."""
        pattern, transport, loop = setup
        self.pattern = pattern
        self.route = [RX_ID] if pattern == "ROUTER/DEALER" else []
        self.runner = asyncio.Runner(
            loop_factory=uvloop.new_event_loop if loop == "uvloop" else None
        )
        self.runner.get_loop().set_exception_handler(lambda _l, c: self.errors.append(c))
        tx_type, rx_type = PATTERNS[pattern]
        endpoint = (
            f"inproc://fuzz-{os.getpid()}-{id(self)}"
            if transport == "inproc"
            else "tcp://127.0.0.1:*"
        )

        async def make() -> None:
            self.rx = await zmqstreams.create_zmq_stream(rx_type)
            assert self.rx.transport is not None
            self.rx.transport.setsockopt(zmq.RCVHWM, hwm)
            if self.route:
                self.rx.transport.setsockopt(zmq.ROUTING_ID, RX_ID)
            address = await self.rx.transport.bind(endpoint)
            self.tx = await zmqstreams.create_zmq_stream(tx_type)
            assert self.tx.transport is not None
            #: Kept: after close() the stream no longer gives it out (see _finish()).
            self.tx_transport = self.tx.transport
            self.tx.transport.setsockopt(zmq.SNDHWM, hwm)
            # Longer than any example's pauses: every accepted message must arrive.
            self.tx.transport.setsockopt(zmq.LINGER, SENDER_LINGER)
            if self.route:
                self.tx.transport.setsockopt(zmq.ROUTER_MANDATORY, 1)
            await self.tx.transport.connect(address)
            if self.route:  # the ROUTER can address the receiver once it has heard from it
                self.rx.write([b"hello"])
                async with asyncio.timeout(5):
                    assert await self.tx.read() == [RX_ID, b"hello"]

        self.run(make)

    # ------------------------------------------------------------------ writing

    @rule(
        frames=st.lists(st.tuples(frame_kinds, payloads), max_size=3),
        malformed=st.sampled_from([None, None, None, None, "empty", "str", "not-a-list"]),
        as_tuple=st.booleans(),
    )
    def write(self, frames: list[tuple[str, bytes]], malformed: str | None, as_tuple: bool) -> None:
        tag = b"msg%06d" % self.seq
        msg: Any = [tag]
        owned: list[bytearray] = []
        for kind, data in frames:
            if kind == "bytes":
                msg.append(data)
            else:
                buffer = bytearray(data)
                owned.append(buffer)
                msg.append(buffer if kind == "bytearray" else memoryview(buffer))
        expected = [tag, *(bytes(f) for f in msg[1:])]
        if malformed == "empty":
            msg = []
        elif malformed == "str":
            msg.append("not bytes")
        elif malformed == "not-a-list":
            msg = tag
        else:
            msg = [*self.route, *msg]
            if as_tuple:
                msg = tuple(msg)

        async def go() -> BaseException | None:
            # In the model first: a pending read() may return it before write() returns.
            self.written.append(expected)
            try:
                self.tx.write(msg)
            except (TypeError, zmqstreams.ZmqStreamClosed, OSError) as exc:
                self.written.pop()
                return exc
            for buffer in owned:  # the caller may reuse its buffers at once
                buffer[:] = b"X" * len(buffer)
            return None

        error = self.run(go)
        if malformed is not None:
            assert isinstance(error, TypeError), repr(error)
        elif self.tx_closed:
            assert isinstance(error, zmqstreams.ZmqStreamClosed), repr(error)
        elif self.receiver_gone_may_refuse(error):
            pass
        else:
            assert error is None, repr(error)
            self.seq += 1

    def receiver_gone_may_refuse(self, error: BaseException | None) -> bool:
        """A ROUTER_MANDATORY write to a receiver that closed is refused once libzmq knows."""
        if not (self.route and self.rx_closed and isinstance(error, OSError)):
            return False
        assert error.errno == zmq.EHOSTUNREACH, repr(error)
        return True

    @precondition(lambda self: self.pattern == "ROUTER/DEALER" and not self.tx_closed)
    @rule(fill=st.booleans())
    def write_to_unknown_id(self, fill: bool) -> None:
        """EHOSTUNREACH when sent at once; dropped and counted when it had to wait.

        With ``fill``, messages to the receiver first try to fill its pipe (up to 200 of 1 KiB)
        so that the write to the unknown id has to wait behind them.
        """

        async def go() -> tuple[bool, BaseException | None]:
            for _ in range(200 if fill and not self.rx_closed else 0):
                if self.tx.statistics().write_buffer_messages:
                    break
                tag = b"msg%06d" % self.seq
                payload = tag * 111
                self.written.append([tag, payload])
                self.tx.write([*self.route, tag, payload])
                self.seq += 1
            buffered = self.tx.statistics().write_buffer_messages > 0
            try:
                self.tx.write([b"nobody", b"lost"])
            except OSError as exc:
                return buffered, exc
            return buffered, None

        buffered, error = self.run(go)
        if buffered:
            assert error is None, repr(error)
            self.refused_later += 1
        else:
            assert isinstance(error, OSError), repr(error)
            assert error.errno == zmq.EHOSTUNREACH

    @precondition(lambda self: self.pattern == "PUSH/PULL")
    @rule()
    def write_on_receiver(self) -> None:
        """A PULL refuses to send (ENOTSUP, open or closed: it never can) and goes on receiving."""

        async def go() -> BaseException | None:
            try:
                self.rx.write([b"from the receiver"])
            except (OSError, zmqstreams.ZmqStreamClosed) as exc:
                return exc
            return None

        error = self.run(go)
        assert isinstance(error, OSError), repr(error)
        assert error.errno == zmq.ENOTSUP
        assert "PULL sockets cannot send" in str(error)

    @rule(count=st.integers(min_value=1, max_value=30), size=st.integers(0, 5000))
    def write_threadsafe(self, count: int, size: int) -> None:
        """A producer thread writes with write_threadsafe(): in its order, each future ending
        once the loop took the message (and, for backpressure, once the buffer drained)."""
        tags = [b"msg%06d" % (self.seq + n) for n in range(count)]
        messages = [[tag, tag * (size // 9)] for tag in tags]

        async def go() -> list[Any]:
            self.written.extend(messages)  # in the model first, as for write()
            futures = await asyncio.to_thread(
                lambda: [self.tx.write_threadsafe([*self.route, *m]) for m in messages]
            )
            async with asyncio.timeout(10):  # until the loop took each (ran or settled)
                while not all(f.running() or f.done() for f in futures):
                    await asyncio.sleep(0)
            return futures

        futures = self.run(go)
        accepted = []
        for message, future in zip(messages, futures, strict=True):
            error = future.exception(timeout=0) if future.done() else None
            if error is None:
                accepted.append(message)
            elif self.tx_closed:
                assert isinstance(error, zmqstreams.ZmqStreamClosed), repr(error)
            else:
                assert self.receiver_gone_may_refuse(error) or isinstance(
                    error, ConnectionResetError
                ), repr(error)
                if isinstance(error, ConnectionResetError):
                    accepted.append(message)  # accepted, then its flush was cut short
        del self.written[len(self.written) - count :]
        self.written.extend(accepted)
        self.seq += count

    @rule()
    def write_from_another_thread(self) -> None:
        """write() from a thread is refused before anything is sent, queued or counted."""

        def from_thread() -> BaseException | None:
            try:
                self.tx.write([*self.route, b"from the wrong thread"])
            except RuntimeError as exc:
                return exc
            return None

        async def go() -> tuple[Any, Any, BaseException | None]:
            before = self.tx.statistics()
            error = await asyncio.to_thread(from_thread)
            return before, self.tx.statistics(), error

        def accepted(stats: zmqstreams.StreamStatistics) -> int:
            # The loop runs while the thread does, so buffered writes may go out (or be refused)
            # meanwhile: what must not grow is the count of messages write() ever accepted.
            return stats.messages_written + stats.write_buffer_messages + stats.messages_refused

        before, after, error = self.run(go)
        assert isinstance(error, RuntimeError), repr(error)
        assert "write_threadsafe()" in str(error)
        assert accepted(after) == accepted(before)

    @precondition(lambda self: not (self.tx_closed and self.rx_closed))
    @rule(side=st.sampled_from(["sender", "receiver"]))
    def close_socket_behind_its_back(self, side: str) -> None:
        """The user closes a stream's socket through get_extra_info('zmq_socket'): the stream
        ends as closed (no error stored); the receiver still returns what it had buffered."""
        closing_sender = (side == "sender" and not self.tx_closed) or self.rx_closed
        stream = self.tx if closing_sender else self.rx
        self.run(lambda: _call(stream.get_extra_info("zmq_socket").close, 0))
        if closing_sender:
            self.tx_closed = True
            self.aborted = True  # what libzmq still held for the receiver is gone with it
        else:
            self.rx_closed = True  # reads return what was buffered, then ZmqStreamClosed

    @rule(timeout=st.sampled_from([0, 0.005, 0.02]))
    def drain(self, timeout: float) -> None:
        # A socket closed behind the stream's back shows once something touches it: until then
        # drain() has nothing to wait for, as a closed one would have.
        closed = self.tx.transport is None

        async def go() -> BaseException | None:
            try:
                async with asyncio.timeout(timeout):
                    await self.tx.drain()
            except (TimeoutError, ConnectionResetError) as exc:
                return exc
            return None

        error = self.run(go)
        if closed:
            assert isinstance(error, ConnectionResetError), repr(error)
        elif self.tx_closed:
            assert error is None or isinstance(error, ConnectionResetError), repr(error)
        else:
            assert error is None or isinstance(error, TimeoutError), repr(error)

    @precondition(lambda self: not self.tx_closed)
    @rule(high=limits, low=limits)
    def set_write_limits(self, high: int | None, low: int | None) -> None:
        transport = self.tx.transport
        assert transport is not None
        if _valid_limits(high, low):
            transport.set_write_buffer_limits(high, low)
        else:
            with pytest.raises(ValueError, match="watermark"):
                transport.set_write_buffer_limits(high, low)

    @precondition(lambda self: not self.tx_closed)
    @rule(abort=st.booleans())
    def close_sender(self, abort: bool) -> None:
        async def go() -> None:
            if self.rx_done:
                # Nobody will read: flushing could only keep the socket (and its fd) for LINGER.
                assert self.tx.transport is not None
                self.tx.transport.setsockopt(zmq.LINGER, 0)
            if abort:
                assert self.tx.transport is not None
                self.tx.transport.abort()
            else:
                self.tx.close()
            self.tx.close()  # idempotent

        self.run(go)
        self.tx_closed = True
        self.aborted = self.aborted or abort

    # ------------------------------------------------------------------ reading

    @rule(timeout=st.sampled_from([0, 0.005, 0.02]))
    def read(self, timeout: float) -> None:
        # Whether the pending read was still waiting when read() refused: it may end in the
        # loop turns that run() still runs after go() returned, so look at once.
        pending_waiting: list[bool] = []

        async def go() -> BaseException | None:
            try:
                async with asyncio.timeout(timeout):
                    msg = await self.rx.read()
                self.record(msg)
            except RuntimeError as exc:
                pending_waiting.append(self.pending is not None and not self.pending.done())
                return exc
            except (TimeoutError, zmqstreams.ZmqStreamClosed) as exc:
                return exc
            return None

        error = self.run(go)
        if isinstance(error, RuntimeError):
            assert pending_waiting == [True], repr(error)
            assert "already reading" in str(error)
        elif isinstance(error, zmqstreams.ZmqStreamClosed):
            assert self.rx_done, "read() raised ZmqStreamClosed on an open stream"
        elif isinstance(error, TimeoutError):
            # A closing stream never waits: it returns what it buffered, then raises.
            assert not self.rx_done, "read() waited on a closed stream"

    @precondition(lambda self: self.pending is None)
    @rule()
    def start_pending_read(self) -> None:
        async def reader() -> None:
            msg = await self.rx.read()
            self.record(msg)  # in the same step as the pop: recorded in read order

        async def go() -> None:
            self.pending = asyncio.get_running_loop().create_task(reader())

        self.run(go)

    @precondition(lambda self: self.pending is not None)
    @rule()
    def cancel_pending_read(self) -> None:
        pending = self.pending
        assert pending is not None
        self.pending = None

        async def go() -> BaseException | None:
            pending.cancel()
            try:
                await pending
            except (asyncio.CancelledError, zmqstreams.ZmqStreamClosed) as exc:
                return exc
            return None

        error = self.run(go)
        if isinstance(error, zmqstreams.ZmqStreamClosed):
            assert self.rx_done

    @precondition(lambda self: not self.rx_done)  # stream.transport is None once closing
    @rule(pause=st.booleans())
    def pause_or_resume(self, pause: bool) -> None:
        transport = self.rx.transport
        assert transport is not None
        if pause:
            transport.pause_reading()
        else:
            transport.resume_reading()
        self.user_paused = pause

    @rule(high=limits, low=limits)
    def set_read_limits(self, high: int | None, low: int | None) -> None:
        if _valid_limits(high, low):
            self.rx.set_read_buffer_limits(high, low)
        else:
            with pytest.raises(ValueError, match="watermark"):
                self.rx.set_read_buffer_limits(high, low)

    @rule(extra=st.lists(st.binary(max_size=50), max_size=2))
    def feed_msg(self, extra: list[bytes]) -> None:
        msg = [b"fed%06d" % len(self.fed), *extra]
        # In the model first (a pending read() may return it at once), if the stream accepts
        # it: until it is closing, which a socket closed behind its back makes it only once it
        # finds out, so ask the stream itself.
        if self.rx.transport is not None:
            self.fed.append(msg)
        self.run(lambda: _call(self.rx.feed_msg, msg))

    @rule(value=st.integers(min_value=0, max_value=2**31 - 1))
    def feed_event(self, value: int) -> None:
        event = zmqstreams.SocketEvent(zmq.Event.CONNECTED, value, "fuzz://")
        accepting = self.rx.transport is not None  # see feed_msg()
        self.run(lambda: _call(self.rx.feed_event, event))
        if accepting:
            self.events.append(event)

    @rule()
    def read_event(self) -> None:
        async def go() -> zmqstreams.SocketEvent | BaseException:
            try:
                async with asyncio.timeout(0.005):
                    return await self.rx.read_event()
            except (TimeoutError, zmqstreams.ZmqStreamClosed) as exc:
                return exc

        got = self.run(go)
        if isinstance(got, zmqstreams.SocketEvent):
            assert self.events
            assert got == self.events.popleft()
        elif isinstance(got, zmqstreams.ZmqStreamClosed):
            assert self.rx_done
        else:
            assert not self.events
            assert not self.rx_done, "read_event() waited on a closed stream"

    @precondition(lambda self: self.pending is None and not self.rx_done)
    @rule(extra=st.lists(st.binary(max_size=50), max_size=2))
    def cancel_woken_read(self, extra: list[bytes]) -> None:
        """Cancel a read() that a message woke but that has not run yet: nothing is lost."""
        msg = [b"fed%06d" % len(self.fed), *extra]

        async def reader() -> None:
            self.record(await self.rx.read())

        async def go() -> None:
            task = asyncio.get_running_loop().create_task(reader())
            for _ in range(3):
                await asyncio.sleep(0)
            if not task.done():  # it is waiting (nothing was buffered)
                self.fed.append(msg)
                self.rx.feed_msg(msg)
                task.cancel()  # in the same step: the woken read() has not resumed yet
            await asyncio.wait([task])
            if not task.cancelled():
                assert task.exception() is None, repr(task.exception())

        self.run(go)

    @rule(
        count=st.integers(min_value=1, max_value=40),
        size=st.integers(0, 20_000),
        kind=frame_kinds,
    )
    def write_burst(self, count: int, size: int, kind: str) -> None:
        """Many writes without draining: fills ZeroMQ's queue, then the stream's buffer."""

        async def go() -> BaseException | None:
            for _ in range(count):
                tag = b"msg%06d" % self.seq
                payload = bytearray(tag * (size // 9 + 1))[:size]
                frame: Any = bytes(payload) if kind == "bytes" else payload
                if kind == "memoryview":
                    frame = memoryview(payload)
                self.written.append([tag, bytes(payload)])
                try:
                    self.tx.write([*self.route, tag, frame])
                except (zmqstreams.ZmqStreamClosed, OSError) as exc:
                    self.written.pop()
                    return exc
                payload[:] = b"X" * size  # the caller reuses its buffer at once
                self.seq += 1
            return None

        error = self.run(go)
        if not self.receiver_gone_may_refuse(error):
            assert (error is not None) == self.tx_closed, repr(error)

    @precondition(lambda self: not self.rx_done)
    @rule()
    def feed_closing(self) -> None:
        self.run(lambda: _call(self.rx.feed_closing))
        self.rx_feed_closed = True

    @precondition(lambda self: not self.rx_closed)
    @rule()
    def close_receiver(self) -> None:
        self.run(lambda: _call(self.rx.close))
        self.rx_closed = True
        self.events.clear()

    @rule()
    def let_time_pass(self) -> None:
        self.run(lambda: asyncio.sleep(0.002))

    # ------------------------------------------------------------------ checks

    @invariant()
    def no_stored_error(self) -> None:
        if self.runner is not None:
            assert self.tx.exception() is None
            assert self.rx.exception() is None
            assert not self.errors, self.errors
            if not self.rx_closed:  # then only the writes to "nobody" can be refused
                assert self.tx.statistics().messages_refused <= self.refused_later

    def teardown(self) -> None:
        if self.runner is None:
            return
        try:
            self.run(self._finish, turns=0)
            loop = self.runner.get_loop()
            assert not asyncio.all_tasks(loop), asyncio.all_tasks(loop)
            assert not self.errors, self.errors
        finally:
            self.runner.close()
        gc.collect()
        deadline = time.monotonic() + 5
        while open_fds() > self.fds0 and time.monotonic() < deadline:
            time.sleep(0.005)  # libzmq's reaper thread closes the fds: no event to await
        assert open_fds() <= self.fds0, f"fds {self.fds0} -> {open_fds()}: {_fd_targets()}"

    async def _finish(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            await asyncio.wait([self.pending])
            self.pending = None
        if not self.rx_done:
            transport = self.rx.transport
            assert transport is not None
            transport.resume_reading()
            self.rx.set_read_buffer_limits()
            self.tx.close()
            async with asyncio.timeout(10):  # bounds a hang; a busy machine needs far less
                while len(self.received) < len(self.written) and not self.aborted:
                    self.record(await self.rx.read())
                while self.fed_read < len(self.fed):
                    self.record(await self.rx.read())
            if not self.aborted:
                assert self.received == self.written
        else:
            # Nobody will read what the sender still holds: drop it rather than linger 30 s.
            # (After close(), only the reference kept at creation reaches the transport.)
            self.tx_transport.abort()
        self.tx.close()
        self.rx.close()
        async with asyncio.timeout(10):
            await self.tx.wait_closed()
            await self.rx.wait_closed()
        if not (self.rx_done or self.aborted):  # everything was flushed, past every refusal
            assert self.tx.statistics().messages_refused == self.refused_later


def _fd_targets() -> list[str]:
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sorted(targets)


async def _call(function: Callable[..., Any], *args: Any) -> None:
    function(*args)


@pytest.mark.slow
@pytest.mark.zmqstreams_timeout(600)
def test_stream_api_against_model() -> None:
    """Random API call sequences keep every accepted message, in order, and leak nothing."""
    # libuv opens a process-wide signal pipe with its first loop: not a leak of an example.
    uvloop.new_event_loop().close()
    run_state_machine_as_test(
        StreamMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            phases=list(Phase) if SHRINK else [p for p in Phase if p is not Phase.shrink],
        ),
    )
