"""Reader: the receive side of a transport, feeding the stream's ``ReadBuffer``.

At most one ``recv_multipart()`` future of the ``zmq.asyncio`` socket is in flight.  The reader
task finishes it when its done callback fires: it feeds the buffer that message and those ready
after it (``receive_ready()``), then starts the next receive.  A ``read()`` that finds the
buffer empty *claims* the receive instead and awaits the future itself (``wait()``), so a reply
costs one task wake-up, as an awaited receive does; the claimed future is always released,
which buffers a message it holds, so a cancelled ``read()`` loses nothing.  After a
claimed receive none is in flight until the next ``read()`` starts one, as with raw
``zmq.asyncio``; a timer resumes background intake if the caller does not come back soon.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import zmq
import zmq.asyncio

from ._buffer import ReadBuffer
from ._edge import Edge
from ._frames import BATCH, Message, receive_ready
from ._socket import SocketViews
from ._tasks import Wakeup, cancel, spawn
from ._watermarks import message_size

__all__ = ("Reader",)

#: Background intake resumes at most this long (s) after a claimed receive ends, if no read()
#: started a receive meanwhile.  One timer per period, not per message.
RESUME_INTAKE_S = 0.05

Receive = asyncio.Future[Message]


class Reader:
    """Takes messages from the socket into a ``ReadBuffer``, by itself or for a ``read()``."""

    def __init__(
        self,
        views: SocketViews,
        edge: Edge,
        *,
        fail: Callable[[Exception, str], Exception],
        lost: Callable[[], None],
        cancelled: Callable[[], None],
        ensure_socket: Callable[[str], None],
        copy: bool = True,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        #: The socket; its ``recv`` is looked up per batch, so that a test can replace it (see
        #: ``zmqstreams.testing.socket_faults``).
        self._views = views
        #: Frames as ``bytes`` (True), or as the ``zmq.Frame`` libzmq filled (False).
        self._copy = copy
        #: The socket's readiness signal, shared with the writer: told of each receive.
        self._edge = edge
        edge.watch_receives(self.receive_pending)
        # The owner's callbacks: a fatal error (the stream must end), the socket closed behind
        # our back, CancelledError in the task, and a check that the socket is alive (see
        # ZmqTransport).
        self._fail, self._lost, self._cancelled = fail, lost, cancelled
        self._ensure_socket = ensure_socket
        #: Where messages go, and its ``feed`` (bound once); ``attach()`` gives the stream's.
        self._buffer = ReadBuffer()
        self._feed = self._buffer.feed
        self._task: asyncio.Task[None] | None = None
        #: What the reader task awaits between receives.
        self._wakeup = Wakeup()
        #: The background receive in flight, until the reader finishes it (None: none).
        self._receiving: Receive | None = None
        #: The receive a read() claimed and awaits instead (see wait()), else None.
        self._claimed: Receive | None = None
        #: Resumes background intake after a claimed receive (see _release()).
        self._resume_timer: asyncio.TimerHandle | None = None
        self._paused_by_user = False
        self._paused_by_buffer = False
        self._closing = False
        #: Any of the three above: start no receive (one flag for the per-message check).
        self._stopped = False

    # ------------------------------------------------------------------ owner (transport)

    def attach(self, buffer: ReadBuffer) -> None:
        """Feed ``buffer`` from now on; it tells us to pause through ``set_backpressure``."""
        self._buffer = buffer
        self._feed = buffer.feed
        buffer.flow = self.set_backpressure

    def start(self) -> None:
        """Start the reader task (socket types that can receive only)."""
        if self._task is None and not self._closing:
            self._task = spawn(self._loop, self._run(), "reader")

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def claimed(self) -> Receive | None:
        """The receive future a pending ``read()`` claimed and awaits, else None."""
        return self._claimed

    def receive_pending(self) -> bool:
        """True while a receive is in flight on the ``zmq.asyncio`` socket."""
        return self._receiving is not None or self._claimed is not None

    @property
    def paused(self) -> bool:
        """True while intake is stopped (``pause_reading()`` or a full buffer), until closing."""
        return (self._paused_by_user or self._paused_by_buffer) and not self._closing

    def pause(self) -> None:
        """``pause_reading()``: stop taking messages; ZeroMQ's HWM then pushes back on peers."""
        self._paused_by_user = self._stopped = True
        self._cancel_receives()

    def resume(self) -> None:
        """``resume_reading()`` (intake stays paused while the buffer is full)."""
        self._paused_by_user = False
        self._stopped = self._paused_by_buffer or self._closing
        self._wakeup.wake()

    def set_backpressure(self, paused: bool) -> None:
        """The buffer's ``flow``: it crossed its high watermark (True) or fell to its low one.

        Falling to the low one means that ``read()`` is taking messages: the next one that
        finds the buffer empty takes what is ready itself, so the reader task is not woken for
        it (a wake-up and a receive future per message, where messages are larger than the
        buffer); it resumes ``RESUME_INTAKE_S`` later should the caller not come back.
        """
        self._paused_by_buffer = paused
        self._stopped = paused or self._paused_by_user or self._closing
        if not paused:
            self._resume_later()

    def close(self) -> None:
        """Stop for good: cancel the receives, the resume timer and the task."""
        self._closing = self._stopped = True
        self._cancel_receives()
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        cancel(self._task)

    # ------------------------------------------------------------------ read() (stream)

    async def wait(self) -> bool:
        """For a ``read()`` that found the buffer empty: wait until the buffer may have changed.

        Claims the receive in flight (started now if none is) and awaits the future itself, so
        this task alone is woken by the next message.  However the wait ends, a message the
        future got is buffered: cancelling loses nothing.  ``interrupt()`` ends it early.  With
        nothing to claim (paused, closing, or the reader task has a message and its batch to
        take), waits on the buffer.  Returns False if a message was there at once.
        """
        receiving = self._claim()
        if receiving is None:
            if self._stopped and not self._closing:
                # Paused: no receive would find out that the socket is gone, so look now.
                self._ensure_socket("read")
            if not self._closing:  # starting a receive may have just ended the stream
                await self._buffer.wait()
            return True
        if receiving.done():
            self._release(receiving)
            return False
        task = asyncio.current_task()
        # A task that once swallowed a CancelledError keeps cancelling() > 0 for good: only a
        # count that grew while we waited means that our caller is being cancelled.
        cancels = task.cancelling() if task is not None else 0
        try:
            await receiving
        except asyncio.CancelledError:
            if task is not None and task.cancelling() > cancels:
                raise  # our caller cancelled us (_release() still keeps the message)
            # Otherwise interrupt() asked us to look at the state again.
        except Exception:
            pass  # _release() hands it to fail()
        finally:
            self._release(receiving)
        return True

    def take_ready(self) -> bool:
        """For a ``read()`` that found the buffer empty: buffer what is ready now, if anything.

        Only while no receive is in flight (it would hold an earlier message).  Costs a receive
        call when nothing is there: ``read()`` tries it only after one that found a message.
        """
        if self._receiving is not None or self._claimed is not None or self._stopped:
            return False
        try:
            taken = receive_ready(
                self._views.recv, self._feed, self._buffer.room(), copy=self._copy
            )
        except zmq.ZMQError as exc:
            self._fail(exc, "read")
            return False
        self._edge.received()
        return taken > 0

    def interrupt(self) -> None:
        """Cancel a claimed receive, so that the ``read()`` awaiting it re-checks the stream."""
        if self._claimed is not None:
            self._claimed.cancel()

    # ------------------------------------------------------------------ the task and receives

    def _claim(self) -> Receive | None:
        receiving = self._receiving
        if receiving is None:
            receiving = self._start_receive(background=False)
            if receiving is None:
                return None
        elif receiving.done():
            return None
        else:
            try:
                # pyzmq never completes a receive pending when the context is terminated: know
                # that the socket is alive before waiting on one started earlier.
                self._views.check()
            except zmq.ZMQError as exc:
                self._fail(exc, "read")
                return None
            receiving.remove_done_callback(self._receive_done)
            self._receiving = None
        self._claimed = receiving
        return receiving

    def _release(self, receiving: Receive) -> None:
        """Buffer a claimed receive's message, if it got one.

        The next receive is left to the caller's next ``read()`` (it usually comes at once,
        after the caller has answered); ``RESUME_INTAKE_S`` later the reader resumes anyway.
        """
        self._claimed = None
        self._finish_receive(receiving, drain=False)
        self._resume_later()

    async def _run(self) -> None:
        """Finish the receives nobody claimed and start the next ones; sleep in between."""
        try:
            while not self._closing:
                self._start_receive()  # may end the stream: the socket may be gone
                receiving = self._receiving
                if receiving is not None and receiving.done():
                    if self._finish_receive(receiving, drain=True):
                        await asyncio.sleep(0)  # a flood: let the consumer and others run
                elif not self._closing:
                    await self._wakeup.wait()
        except asyncio.CancelledError:
            self._cancelled()

    def _start_receive(self, *, background: bool = True) -> Receive | None:
        """Start a receive unless one is in flight, reading is paused, or we are closing.

        A background receive is finished by the reader task, woken by its done callback (at
        once if a message was already there); otherwise the caller owns the returned future.
        """
        if self._receiving is not None or self._claimed is not None or self._stopped:
            return None
        try:
            receiving = cast("Receive", self._views.waitable().recv_multipart(copy=self._copy))
        except zmq.ZMQError as exc:  # ENOTSOCK (closed behind our back) ends the stream quietly
            self._fail(exc, "read")
            return None
        if background:
            self._receiving = receiving
            if receiving.done():
                self._wakeup.wake()
            else:
                receiving.add_done_callback(self._receive_done)
        return receiving

    def _resume_later(self) -> None:
        """Start background intake ``RESUME_INTAKE_S`` from now, if nothing started it by then.
        One timer per period, not per message."""
        if self._resume_timer is None and not self._closing:
            self._resume_timer = self._loop.call_later(RESUME_INTAKE_S, self._resume_intake)

    def _resume_intake(self) -> None:
        self._resume_timer = None
        self._start_receive()

    def _receive_done(self, receiving: Receive) -> None:
        if receiving is self._receiving:
            self._wakeup.wake()

    def _cancel_receives(self) -> None:
        for receiving in (self._receiving, self._claimed):
            if receiving is not None:
                receiving.cancel()

    def _finish_receive(self, receiving: Receive, *, drain: bool) -> bool:
        """Buffer a finished receive's message, and with ``drain`` those ready after it.

        Returns True when ``BATCH`` was reached.  A cancelled receive took nothing; one that
        pyzmq cancelled because the socket was closed behind our back ends the stream.
        """
        if receiving is self._receiving:
            self._receiving = None
        if receiving.cancelled():
            if self._views.closed:
                self._lost()
            return False
        if self._closing:
            return False
        try:
            msg = _take_result(receiving)
            if drain:
                taken = receive_ready(
                    self._views.recv, self._feed, self._buffer.room(), msg, copy=self._copy
                )
                batch_full = taken >= BATCH
            else:
                size = message_size(msg)
                self._feed([msg], [size], size)
                batch_full = False
        except zmq.ZMQError as exc:
            # EAGAIN: libzmq said POLLIN, then dropped what it had (REQ_CORRELATE discards a
            # stale reply); EFSM: REQ/REP has nothing to read until we send.  Neither is a
            # failure: the next receive waits again.
            if exc.errno not in (zmq.EAGAIN, zmq.EFSM):
                self._fail(exc, "read")
            return False
        except Exception as exc:
            self._fail(exc, "read")
            return False
        self._edge.received()
        return batch_full


def _take_result(receiving: Receive) -> Message:
    """The frames of a finished receive, moved out of its future.

    The future outlives us: its done callbacks hold it until the loop's next turn, and the
    reader task holds a background one until it receives again.  Were the frames left in it,
    the next receive, usually before then, would allocate beside them: with megabyte frames
    glibc then grows and trims the heap every few messages and the pages fault in again (about
    100 page faults per 1 MiB message).  The message handed on must be the only thing that
    holds them, as with a blocking ``recv_multipart()``.
    """
    result = receiving.result()
    msg = result.copy()
    result.clear()
    return msg
