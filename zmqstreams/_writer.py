"""Writer: the send side of a transport, with its write buffer and drain waiters.

``write()`` sends at once, without awaiting, while the socket can take the message and nothing
waits in the buffer.  On ``EAGAIN`` it buffers a copy, and a writer task, which exists only
while the buffer is non-empty, awaits ``POLLOUT`` and sends the rest in order.  ``drain()``
waits while the buffer is above its high watermark.

Every message is checked whole before its first frame is sent (``check()``, which is also safe
to call from another thread): its frames, and the frame count its socket type needs.  A message
the socket refuses (an errno of ``REFUSALS``) is the caller's problem when ``write()`` can still
raise it, and is dropped, counted and logged when the writer task meets it later.  Any other
error ends the stream: the writer hands it to its owner's ``fail``, which says what to raise.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq

from ._edge import Edge
from ._errors import ZmqStreamClosed, os_error
from ._frames import (
    BATCH,
    REFUSALS,
    UNCOPIED_MIN,
    Frames,
    TornMessage,
    check_message,
    own_frames,
    send_now,
)
from ._socket import SocketViews, readiness
from ._socket_types import can_send, frame_rule, socket_type_name
from ._statistics import WriterStatistics
from ._tasks import spawn
from ._watermarks import resolve_watermarks

__all__ = ("Writer",)

logger = logging.getLogger("zmqstreams")


class Writer:
    """Sends messages now or later, in order; tells ``drain()`` when the buffer is low again."""

    __slots__ = (
        "_buf",
        "_cancelled",
        "_edge",
        "_fail",
        "_high",
        "_large",
        "_loop",
        "_low",
        "_owner",
        "_task",
        "_typed",
        "_views",
        "_waiters",
        "_zmq_type",
        "bytes_written",
        "closed",
        "messages_refused",
        "messages_written",
        "paused",
        "size",
    )

    def __init__(
        self,
        views: SocketViews,
        zmq_type: int,
        edge: Edge,
        *,
        fail: Callable[[Exception, str], Exception],
        cancelled: Callable[[], None],
        owner: object,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        #: The socket: its ``send`` (looked up per message, so that a test can replace it, see
        #: ``zmqstreams.testing.socket_faults``), and its awaitable view for ``POLLOUT``.
        self._views = views
        #: Messages of this many bytes or more send their fixed frames uncopied (``send_now``).
        self._large: int = max(views.owner.copy_threshold, UNCOPIED_MIN)
        self._zmq_type = zmq_type
        #: Whether the socket type restricts what it sends (see ``check()``).
        self._typed = not can_send(zmq_type) or frame_rule(zmq_type)[0] != (1, None)
        #: Called with a fatal error (and ``"write"``): the stream must end.  Returns the
        #: exception the caller should raise.
        self._fail = fail
        #: Called when the writer task sees ``CancelledError`` (see ``ZmqTransport``).
        self._cancelled = cancelled
        #: Named in log records (the transport).
        self._owner = owner
        #: The socket's readiness signal, shared with the reader: told of each send, and of
        #: the task's ``POLLOUT`` wait (its ``polling``).
        self._edge = edge
        #: ``(size, frames)`` the socket has not taken yet, oldest first; ``size``: their sum.
        self._buf: deque[tuple[int, tuple[Any, ...]]] = deque()
        self.size = 0
        self._high, self._low = resolve_watermarks(None, 16 * 1024, "write")
        #: Above the high watermark until the buffer falls to the low one; drain() waits then.
        self.paused = False
        self._waiters: list[asyncio.Future[None]] = []
        #: Runs only while messages wait in the buffer (None otherwise).
        self._task: asyncio.Task[None] | None = None
        #: Once True, ``write()`` raises ``ZmqStreamClosed``; the task may still flush.
        self.closed = False
        #: Messages (and their bytes) the socket took, at once or from the buffer.
        self.messages_written = 0
        self.bytes_written = 0
        #: Buffered messages the socket refused when the task sent them (dropped).
        self.messages_refused = 0

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The writer task, while messages wait in the buffer."""
        return self._task

    def check(self, msg: Frames) -> tuple[int, bool]:
        """Check ``msg`` whole; return ``(size, fixed)`` as ``check_message()`` does.

        Raises ``TypeError``/``ValueError`` for a malformed message or a frame count this socket
        type cannot send, ``OSError(ENOTSUP)`` if it sends nothing at all.  Changes nothing, so
        it may run in any thread.
        """
        size, fixed = check_message(msg)
        if self._typed:
            self._check_type(msg)
        return size, fixed

    def write(self, msg: Frames) -> None:
        """Send ``msg`` now if the socket takes it, else buffer a copy (see module docstring)."""
        size, fixed = check_message(msg)
        if self._typed:
            self._check_type(msg)
        if self.closed:
            raise ZmqStreamClosed("cannot write: the stream is closed")
        if not self._buf:
            try:
                send_now(self._views.send, msg, large=size >= self._large)
            except zmq.Again:
                pass
            except zmq.ZMQError as exc:
                self._edge.sent()
                if exc.errno in REFUSALS:
                    raise os_error(exc, "write") from exc
                raise self._fail(exc, "write") from exc
            except TornMessage as exc:
                raise self._fail(exc, "write") from exc
            else:
                self.messages_written += 1
                self.bytes_written += size
                self._edge.sent()
                return
        else:
            # Queued behind others, it reaches no libzmq call now: know the socket is alive.
            try:
                self._views.waitable()
            except zmq.ZMQError as exc:
                raise self._fail(exc, "write") from exc
        self._buf.append((size, own_frames(msg, fixed)))
        self.size += size
        if self._task is None:
            self._task = spawn(self._loop, self._run(), "writer")
        if not self.paused and self.size > self._high:
            self.paused = True

    async def drained(self) -> None:
        """Wait until the buffer falls to the low watermark.  Cancelling it is safe."""
        waiter = self.drain_waiter()
        if waiter is not None:
            await waiter

    def drain_waiter(self) -> asyncio.Future[None] | None:
        """A future that ends once the buffer falls to the low watermark, or ``None`` if it is
        not above the high one.  It ends with an error if the stream ends first; cancelling it
        is safe.  (The drain waiters of asyncio's ``FlowControlMixin``, one future each.)
        """
        if not self.paused:
            return None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        waiter.add_done_callback(self._waiters.remove)
        return waiter

    @property
    def limits(self) -> tuple[int, int]:
        """``(low, high)``, the watermarks in bytes (asyncio's order)."""
        return self._low, self._high

    def set_limits(self, high: int | None, low: int | None) -> None:
        self._high, self._low = resolve_watermarks(high, low, "write")
        if self.size > self._high:
            self.paused = True
        else:
            self._maybe_resume()

    def wake_waiters(self, exc: BaseException | None) -> None:
        """End every pending ``drained()``, with ``exc`` if given."""
        for waiter in self._waiters:
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)

    def drop(self) -> None:
        """Forget the buffer (the stream closed before the flush) and wake ``drained()``."""
        if self._buf:
            logger.debug("dropping %d unsent messages of %r", len(self._buf), self._owner)
        self._buf.clear()
        self.size = 0
        self.paused = False
        self.wake_waiters(ConnectionResetError("the stream closed before the flush"))

    def statistics(self) -> WriterStatistics:
        return WriterStatistics(
            len(self._buf),
            self.size,
            self.messages_written,
            self.bytes_written,
            self.messages_refused,
        )

    async def _run(self) -> None:
        views = self._views
        buf = self._buf
        try:
            poll = readiness(self._views, zmq.POLLOUT)
            edge = self._edge
            while buf:
                edge.polling = True
                try:
                    await poll()
                finally:
                    edge.polling = False
                for _ in range(BATCH):
                    if not buf:
                        break
                    size, frames = buf[0]
                    try:
                        send_now(views.send, frames, large=size >= self._large)
                    except zmq.Again:
                        break
                    except zmq.ZMQError as exc:
                        if exc.errno not in REFUSALS:
                            raise
                        self._refused(exc)
                    else:
                        self.messages_written += 1
                        self.bytes_written += size
                    buf.popleft()
                    self.size -= size
                self._maybe_resume()
                edge.sent()
        except asyncio.CancelledError:
            self._cancelled()
        except Exception as exc:
            self._fail(exc, "write")
        finally:
            self._task = None

    def _check_type(self, msg: Frames) -> None:
        kind = socket_type_name(self._zmq_type)
        if not can_send(self._zmq_type):
            raise OSError(zmq.ENOTSUP, f"write: {kind} sockets cannot send")
        (fewest, most), shape = frame_rule(self._zmq_type)
        count = len(msg)
        if count < fewest or (most is not None and count > most):
            raise ValueError(f"a {kind} socket sends messages of {shape}, got {count} frame(s)")

    def _maybe_resume(self) -> None:
        if self.paused and self.size <= self._low:
            self.paused = False
            self.wake_waiters(None)

    def _refused(self, exc: zmq.ZMQError) -> None:
        """The task's send was refused: nobody is left to raise it to, so count and log it.

        Warns for the first refusal and every 1000th after it, so a stream of refusals (a
        ROUTER replying to many departed peers) cannot flood the log.
        """
        self.messages_refused += 1
        if self.messages_refused % 1000 == 1:
            logger.warning(
                "write: the socket refused a buffered message, dropped (%s; %d so far) on %r",
                zmq.strerror(exc.errno) if exc.errno is not None else exc,
                self.messages_refused,
                self._owner,
            )
