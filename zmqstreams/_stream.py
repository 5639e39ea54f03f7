"""ZmqStream: the read buffer, the event queue and the user-facing read/write API."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import deque
from types import TracebackType
from typing import Any, cast

from ._errors import ZmqStreamClosed
from ._events import SocketEvent
from ._frames import Frames
from ._statistics import StreamStatistics
from ._transport import BATCH, ZmqTransport
from ._watermarks import message_size, resolve_watermarks

__all__ = ("ZmqStream",)

logger = logging.getLogger("zmqstreams")


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class ZmqStream:
    """Reads and writes ZeroMQ messages; create it with ``create_zmq_stream()``.

    ``read()`` returns buffered messages that the transport's reader task took from the socket;
    ``write()`` hands messages to the transport.  Cancelling a pending ``read()`` or
    ``read_event()`` is safe: nothing is consumed until it returns.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        high: int | None = None,
        low: int | None = None,
        events_backlog: int | None = 100,
    ) -> None:
        if events_backlog is not None and (
            not isinstance(events_backlog, int) or isinstance(events_backlog, bool)
        ):
            raise TypeError(f"events_backlog must be an int or None, got {events_backlog!r}")
        if events_backlog is not None and events_backlog < 1:
            raise ValueError(f"events_backlog must be >= 1 or None, got {events_backlog}")
        # ``loop`` is accepted for aiozmq compatibility; the running loop is always used.
        self._high, self._low = resolve_watermarks(high, low, "read")
        #: The transport, set once by set_transport(); kept after close for wait_closed().
        self._tr: Any = None
        #: The same transport when it is a ZmqTransport, whose private hooks we may use; any
        #: other transport given to set_transport() is driven through its public methods only.
        self._ztr: ZmqTransport | None = None
        #: Unread messages with their watermark sizes, oldest first.
        self._queue: deque[tuple[int, list[bytes]]] = deque()
        self._queue_size = 0
        self._messages_read = 0
        self._bytes_read = 0
        #: True while reading is paused because the buffer went above the high watermark.
        self._read_paused = False
        #: The future a pending read() waits on (None when no read() is waiting).
        self._waiter: asyncio.Future[None] | None = None
        #: True while a read() is waiting (on _waiter or on the reader's pending receive).
        self._reading = False
        #: Whether the last read() that found the buffer empty had to wait (see read()).
        self._last_read_waited = True
        #: read() calls returned since the last one that yielded to the loop (see read()).
        self._unyielded = 0
        self._events: deque[SocketEvent] = deque(maxlen=events_backlog)
        self._events_dropped = 0
        self._event_waiter: asyncio.Future[None] | None = None
        self._exception: BaseException | None = None
        #: True once feed_closing() was called (by close() or by the transport).
        self._closing = False

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        return f"<ZmqStream {state} buffered={len(self._queue)} transport={self._tr!r}>"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        transport: Any = getattr(self, "_tr", None)  # None if __init__ failed
        if transport is not None and not transport.is_closing():
            _warn(f"unclosed stream {self!r}", ResourceWarning, source=self, stacklevel=2)
            try:
                transport.abort()
            except RuntimeError:  # the event loop is already closed
                if self._ztr is not None:
                    self._ztr._release(0)

    # ------------------------------------------------------------------ public API

    @property
    def transport(self) -> ZmqTransport | None:
        """The ``ZmqTransport`` of this stream; ``None`` once the stream is closed."""
        return None if self._closing else cast("ZmqTransport | None", self._tr)

    async def read(self) -> list[bytes]:
        """Return the next message as a list of frames.

        Raises the stored exception after a socket error, ``ZmqStreamClosed`` once the stream is
        closed and its buffer empty, and ``RuntimeError`` if another ``read()`` is pending.
        Cancelling a pending ``read()`` loses nothing: a message taken from the socket is in the
        buffer until a ``read()`` returns it.

        A ``read()`` that finds the buffer empty is always a scheduling point: it waits for the
        next message, or, when one is ready at once, yields to the loop once before returning
        it.  Reads served from the buffer do not wait, but every ``BATCH``-th one yields, so a
        flood cannot starve other tasks.
        """
        if self._unyielded >= BATCH:
            self._unyielded = 0
            await asyncio.sleep(0)
        while not self._queue or self._exception is not None:
            if self._exception is not None:
                raise self._exception
            if self._closing:
                raise ZmqStreamClosed()
            if self._reading:
                raise RuntimeError("read() called while another coroutine is already reading")
            transport = self._ztr
            self._reading = True
            try:
                # The last read() found a message ready: look for more before starting a receive.
                if transport is not None and not self._last_read_waited and transport.take_ready():
                    waited = False
                else:
                    waited = self._last_read_waited = await self._wait_for_message()
                if not waited:
                    await asyncio.sleep(0)  # a scheduling point, like a wait would have been
            finally:
                self._reading = False
            self._unyielded = 0
        self._unyielded += 1
        size, msg = self._queue.popleft()
        self._queue_size -= size
        self._messages_read += 1
        self._bytes_read += size
        if self._read_paused and self._queue_size <= self._low:
            self._set_read_paused(False)
        return msg

    async def _wait_for_message(self) -> bool:
        """Wait until the buffer may have changed (a message, an error or the end of the stream).

        Claims the transport's receive when it can and awaits that future itself: this task is
        then the only one woken by the next message, in the turn it arrives.  Returns whether
        it had to wait (False: the receive it claimed had a message at once).
        """
        transport = self._ztr
        receiving = transport.claim_receive() if transport is not None else None
        if transport is None or receiving is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            return True
        if receiving.done():
            transport.release_receive(receiving)
            return False
        try:
            await receiving
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our caller cancelled us (release_receive() still keeps the message)
            # Otherwise interrupt_receive() asked us to look at the state again.
        except Exception:
            pass  # release_receive() stores it as the stream's exception
        finally:
            transport.release_receive(receiving)
        return True

    def write(self, msg: Frames) -> None:
        """Send ``msg``, a non-empty list or tuple of bytes-like frames, without blocking.

        Raises ``TypeError`` for a malformed message and ``ZmqStreamClosed`` after ``close()``.
        If the socket refuses the message at once (``EHOSTUNREACH`` from ROUTER_MANDATORY,
        ``EFSM`` from REQ/REP out of turn, ``ENOTSUP``, ``EINVAL``), raises ``OSError`` with that
        ZeroMQ errno: nothing of it was sent and the stream stays usable.  A message that had to
        wait in the write buffer and is refused later is dropped, logged (``zmqstreams``
        logger) and counted in ``statistics().messages_refused``.  Only errors meaning the
        socket is gone (``ETERM``, ``ENOTSOCK``) close the stream; see ``exception()``.
        """
        transport = self._tr
        if transport is None:
            raise ZmqStreamClosed("the stream has no transport")
        transport.write(msg)

    async def drain(self) -> None:
        """Wait until the write buffer is below its high watermark (returns at once if it is).

        Raises the stored exception after a socket error, ``ConnectionResetError`` if called
        after ``close()``; a ``drain()`` already waiting when ``close()`` completes its flush
        returns normally.  Any number of tasks may wait together.
        """
        if self._exception is not None:
            raise self._exception
        if self._tr is None or self._closing:
            raise ConnectionResetError("Connection lost: the stream is closed")
        if self._ztr is not None and self._ztr._write_paused:  # no coroutine when not needed
            await self._ztr._drain_helper()

    async def read_event(self) -> SocketEvent:
        """Return the next monitor event (see ``transport.enable_monitor()``).

        libzmq reports events for tcp and ipc endpoints (not inproc).  Raises like ``read()``;
        a pending ``read_event()`` ends when the stream closes.
        """
        while not self._events or self._exception is not None:
            if self._exception is not None:
                raise self._exception
            if self._closing:
                raise ZmqStreamClosed()
            if self._event_waiter is not None:
                raise RuntimeError(
                    "read_event() called while another coroutine is already reading events"
                )
            self._event_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._event_waiter
            finally:
                self._event_waiter = None
        return self._events.popleft()

    def close(self) -> None:
        """Close the stream: unread messages are dropped, accepted writes are flushed.

        Never blocks; pending reads end with ``ZmqStreamClosed``.  Idempotent.  (Unlike
        ``feed_closing()``, which keeps buffered messages readable.)
        """
        if self._tr is not None:
            self._tr.close()
        if self._ztr is None:  # a ZmqTransport closes us itself; anything else cannot
            self._transport_closed()

    async def wait_closed(self) -> None:
        """Wait until the socket is closed and the stream's tasks have ended."""
        if self._ztr is not None:
            await self._ztr.wait_closed()

    def at_closing(self) -> bool:
        """True if ``feed_closing()`` was called and the buffer is empty."""
        return self._closing and not self._queue

    def exception(self) -> BaseException | None:
        """The error that ended the stream (the socket failed or is gone), or ``None``.

        A message the socket refused is never stored here (see ``write()``).
        """
        return self._exception

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information: ``'zmq_socket'`` or ``'zmq_type'``."""
        if self._tr is None:
            return default
        return self._tr.get_extra_info(name, default)

    def statistics(self) -> StreamStatistics:
        """Return a snapshot of the buffers and of the totals read, written and refused."""
        transport = self._ztr
        return StreamStatistics(
            read_buffer_messages=len(self._queue),
            read_buffer_bytes=self._queue_size,
            write_buffer_messages=len(transport._wbuf) if transport else 0,
            write_buffer_bytes=transport._wbuf_size if transport else 0,
            reading_paused=transport._reading_paused() if transport else self._read_paused,
            messages_read=self._messages_read,
            bytes_read=self._bytes_read,
            messages_written=transport._messages_written if transport else 0,
            bytes_written=transport._bytes_written if transport else 0,
            messages_refused=transport._messages_refused if transport else 0,
            events_dropped=self._events_dropped,
        )

    def __aiter__(self) -> ZmqStream:
        return self

    async def __anext__(self) -> list[bytes]:
        try:
            return await self.read()
        except ZmqStreamClosed:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> ZmqStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()

    # ------------------------------------------------------------------ internal API (documented)

    def set_exception(self, exc: BaseException) -> None:
        """Store ``exc``: ``exception()`` returns it and the next read raises it."""
        self._exception = exc
        self._wake_reader()
        _wake(self._event_waiter)

    def set_transport(self, transport: Any) -> None:
        """Attach ``transport`` (once).

        Normally a ``ZmqTransport``; any object with the asyncio transport methods (``write``,
        ``close``, ``is_closing``, ``pause_reading``, ``resume_reading``, ``get_extra_info``)
        also works, driven through those methods only.
        """
        if self._tr is not None:
            raise RuntimeError("the stream already has a transport")
        self._tr = transport
        self._ztr = transport if isinstance(transport, ZmqTransport) else None

    def set_read_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the read watermarks in bytes (default 64 KiB high, a quarter of it low)."""
        self._high, self._low = resolve_watermarks(high, low, "read")
        if self._read_paused and self._queue_size <= self._low:
            self._set_read_paused(False)
        elif not self._read_paused and self._queue_size > self._high:
            self._set_read_paused(True)

    def feed_closing(self) -> None:
        """Mark the stream closing: buffered messages are still read, then ``ZmqStreamClosed``."""
        self._closing = True
        self._wake_reader()
        _wake(self._event_waiter)

    def feed_msg(self, msg: list[bytes]) -> None:
        """Append ``msg`` to the read buffer and wake a pending ``read()``.

        Ignored once the stream is closing.
        """
        size = message_size(msg)
        self._feed_batch([(size, msg)], size)
        self._wake_reader()  # a read() may be waiting on a claimed receive

    def _feed_batch(self, batch: list[tuple[int, list[bytes]]], total: int) -> None:
        """``feed_msg()`` for a batch of ``(size, msg)`` from the reader: one wake-up, one check."""
        if self._closing:
            return
        self._queue.extend(batch)
        self._queue_size += total
        _wake(self._waiter)
        if not self._read_paused and self._queue_size > self._high:
            self._set_read_paused(True)

    def feed_event(self, event: SocketEvent) -> None:
        """Append a monitor event; beyond ``events_backlog`` unread ones, the oldest is dropped."""
        if self._closing:
            return
        if len(self._events) == self._events.maxlen:
            self._events_dropped += 1
            if self._events_dropped % 1000 == 1:
                logger.warning(
                    "monitor events are being dropped (%d so far): read_event() is not keeping "
                    "up with events_backlog=%d",
                    self._events_dropped,
                    self._events.maxlen,
                )
        self._events.append(event)
        _wake(self._event_waiter)

    # ------------------------------------------------------------------ private

    def _wake_reader(self) -> None:
        """Make a pending ``read()`` look at the buffer and the state again."""
        _wake(self._waiter)
        if self._reading and self._ztr is not None:
            self._ztr.interrupt_receive()

    def _set_read_paused(self, paused: bool) -> None:
        self._read_paused = paused
        if self._ztr is not None:
            self._ztr._set_read_backpressure(paused)
        elif self._tr is not None:
            if paused:
                self._tr.pause_reading()
            else:
                self._tr.resume_reading()

    def _transport_closed(self) -> None:
        """The transport is closing: drop what the user will no longer read, then close."""
        self._queue.clear()
        self._queue_size = 0
        self._events.clear()
        self.feed_closing()
