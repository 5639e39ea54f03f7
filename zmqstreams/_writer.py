"""Writer: the send side of a transport, with its write buffer and drain waiters.

``write()`` sends at once, without awaiting, while the socket can take the message and nothing
waits in the buffer.  On ``EAGAIN`` it buffers a copy, and a writer task, which exists only
while the buffer is non-empty, awaits ``POLLOUT`` and sends the rest in order.  ``drain()``
waits while the buffer is above its high watermark.

A message the socket refuses (an errno of ``REFUSALS``) is the caller's problem when
``write()`` can still raise it, and is dropped, counted and logged when the writer task meets
it later.  Any other error ends the stream: the writer hands it to its owner's ``fail``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

import zmq

from ._errors import ZmqStreamClosed, os_error
from ._frames import BATCH, REFUSALS, Frames, TornMessage, check_message, own_frames, send_now
from ._socket import SocketViews, readiness
from ._statistics import WriterStatistics
from ._tasks import spawn
from ._watermarks import resolve_watermarks

__all__ = ("Writer",)

logger = logging.getLogger("zmqstreams")


def _nothing() -> None:
    """``after_send`` while no receive can be waiting on the socket."""


class Writer:
    """Sends messages now or later, in order; tells ``drain()`` when the buffer is low again."""

    __slots__ = (
        "_async",
        "_buf",
        "_cancelled",
        "_fail",
        "_high",
        "_loop",
        "_low",
        "_owner",
        "_sock",
        "_task",
        "_waiters",
        "after_send",
        "bytes_written",
        "closed",
        "messages_refused",
        "messages_written",
        "paused",
        "polling",
        "size",
    )

    def __init__(
        self,
        views: SocketViews,
        *,
        fail: Callable[[Exception, str], None],
        cancelled: Callable[[], None],
        owner: object,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        #: Awaitable view, for ``POLLOUT``; synchronous view, for the sends themselves.
        self._async = views.async_sock
        self._sock = views.sync_sock
        #: Called with a fatal error (and ``"write"``): the stream must end.
        self._fail = fail
        #: Called when the writer task sees ``CancelledError`` (see ``ZmqTransport``).
        self._cancelled = cancelled
        #: Named in log records (the transport).
        self._owner = owner
        #: Called after each synchronous send: it may have eaten a pending receive's wake-up.
        self.after_send: Callable[[], None] = _nothing
        #: ``(size, frames)`` the socket has not taken yet, oldest first; ``size``: their sum.
        self._buf: deque[tuple[int, tuple[bytes, ...]]] = deque()
        self.size = 0
        self._high, self._low = resolve_watermarks(None, 16 * 1024, "write")
        #: Above the high watermark until the buffer falls to the low one; drain() waits then.
        self.paused = False
        self._waiters: list[asyncio.Future[None]] = []
        #: Runs only while messages wait in the buffer (None otherwise).
        self._task: asyncio.Task[None] | None = None
        #: True while the task awaits ``POLLOUT`` (a synchronous receive must re-arm it).
        self.polling = False
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

    def write(self, msg: Frames) -> None:
        """Send ``msg`` now if the socket takes it, else buffer a copy (see module docstring)."""
        size, all_bytes = check_message(msg)
        if self.closed:
            raise ZmqStreamClosed("cannot write: the stream is closed")
        if not self._buf:
            try:
                send_now(self._sock, msg)
            except zmq.Again:
                pass
            except zmq.ZMQError as exc:
                self.after_send()
                if exc.errno in REFUSALS:
                    raise os_error(exc, "write") from exc
                self._fail(exc, "write")
                return
            except TornMessage as exc:
                self._fail(exc, "write")
                return
            else:
                self.messages_written += 1
                self.bytes_written += size
                self.after_send()
                return
        self._buf.append((size, own_frames(msg, all_bytes)))
        self.size += size
        if self._task is None:
            self._task = spawn(self._run(), "writer")
        if not self.paused and self.size > self._high:
            self.paused = True

    async def drained(self) -> None:
        """Wait until the buffer falls to the low watermark.  Cancelling it is safe."""
        if not self.paused:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            self._waiters.remove(waiter)

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
        poll = readiness(self._async, zmq.POLLOUT)
        sock = self._sock
        buf = self._buf
        try:
            while buf:
                self.polling = True
                try:
                    await poll()
                finally:
                    self.polling = False
                for _ in range(BATCH):
                    if not buf:
                        break
                    size, frames = buf[0]
                    try:
                        send_now(sock, frames)
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
                self.after_send()
        except asyncio.CancelledError:
            self._cancelled()
        except Exception as exc:
            self._fail(exc, "write")
        finally:
            self._task = None

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
