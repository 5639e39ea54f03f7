"""ZmqTransport: the thin owner of one ZeroMQ socket and of the parts that move its messages.

It keeps the endpoints, options and subscriptions (``_endpoints.py``), wires its parts together
and closes them in order.  The parts, one module each:

* ``Writer`` (``_writer.py``): ``write()``'s fast path, the write buffer and its task, drain;
* ``Reader`` (``_reader.py``): the receive in flight, claimed by ``read()`` or finished by the
  reader task, feeding the stream's ``ReadBuffer`` (``_buffer.py``);
* ``Monitor`` (``_monitor.py``): libzmq's socket monitor, feeding the stream's ``EventQueue``.

ZeroMQ's fd is edge-triggered: a synchronous call can consume the wake-up that a pending
receive or ``POLLOUT`` wait needs, so after one the parts (and ``_rearm()``) read ``EVENTS``
through the ``zmq.asyncio`` socket, which makes pyzmq re-check its pending futures.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq
import zmq.asyncio

from ._endpoints import SocketEndpoints
from ._errors import stream_error
from ._events import EventQueue
from ._frames import Frames
from ._reader import Reader
from ._socket import OwnerWatch, SocketViews, ZmqSocket
from ._tasks import cancel, spawn
from ._writer import Writer

if TYPE_CHECKING:
    from ._buffer import ReadBuffer
    from ._stream import ZmqStream

__all__ = ("ZmqTransport",)

logger = logging.getLogger("zmqstreams")

#: Socket types that cannot receive: their streams never start a reader task.
_SEND_ONLY = frozenset({zmq.PUSH, zmq.PUB})

_SOCKET_TYPE_NAMES = {int(t): t.name for t in zmq.SocketType}


class ZmqTransport(SocketEndpoints):
    """The socket side of a ``ZmqStream``: endpoints, options, flow control and shutdown.

    Reached as ``stream.transport``; created by ``create_zmq_stream()``.
    """

    def __init__(
        self, views: SocketViews, zmq_type: int, stream: ZmqStream, user_sock: ZmqSocket | None
    ) -> None:
        super().__init__(views, zmq_type)
        # Held weakly so that an abandoned stream can be collected (and warn) while our tasks run.
        self._stream_ref: Callable[[], ZmqStream | None] = weakref.ref(stream)
        self._extra: dict[str, Any] = {
            "zmq_socket": user_sock if user_sock is not None else views.async_sock,
            "zmq_type": zmq_type,
        }
        #: True once the socket is closed and every resource released.
        self._closed = False
        self._closed_event = asyncio.Event()

        self._writer = Writer(views, fail=self._fatal, cancelled=self._on_cancelled, owner=self)
        self._reader = Reader(
            views, self._writer, fail=self._fatal, lost=self._lost, cancelled=self._on_cancelled
        )
        self._writer.after_send = self._reader.rearm
        #: The stream's read buffer, once attach() gave it (the reader's own until then).
        self._buffer: ReadBuffer | None = None
        #: Watches a caller's synchronous socket for a close behind our back (None otherwise).
        self._owner_watch: OwnerWatch | None = None
        #: Flushes the write buffer after close(), then releases the socket (None otherwise).
        self._closer: asyncio.Task[None] | None = None
        self._abort_requested = False

    def attach(self, buffer: ReadBuffer, events: EventQueue) -> tuple[Reader, Writer]:
        """Feed ``stream``'s buffers (called once, by ``ZmqStream.set_transport()``).

        Returns the reader and the writer, which ``read()``, ``write()`` and ``drain()`` use
        directly: the transport is not on the per-message path.
        """
        self._buffer = buffer
        self._events = events
        self._reader.attach(buffer)
        return self._reader, self._writer

    def start(self) -> None:
        """Start the reader for socket types that can receive (called once, after set-up)."""
        if self._zmq_type not in _SEND_ONLY and self._reader.task is None and not self._closing:
            self._reader.start()
            if not self._views.owner_is_async:
                self._owner_watch = OwnerWatch(self._views, self._lost)

    def __repr__(self) -> str:
        # Never reads EVENTS: that could swallow a pending read's wake-up.
        kind = _SOCKET_TYPE_NAMES.get(self._zmq_type, str(self._zmq_type))
        state = "closed" if self._closed else "closing" if self._closing else "open"
        reading = "paused" if self._reader.paused else "active"
        if self._zmq_type in _SEND_ONLY:
            reading = "none"
        return (
            f"<ZmqTransport type={kind} {state} read={reading} write=<bufsize={self._writer.size}>>"
        )

    # ------------------------------------------------------------------ public: asyncio-like

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Return ``'zmq_socket'`` (the pyzmq socket) or ``'zmq_type'``, else ``default``."""
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        """True once ``close()`` or ``abort()`` was called, or the socket failed."""
        return self._closing

    def write(self, msg: Frames) -> None:
        """Send ``msg`` (a non-empty list or tuple of bytes-like frames) without blocking.

        Sends at once while the socket can take the message and the write buffer is empty,
        otherwise buffers a copy for the writer task.  Raises ``TypeError`` for a malformed
        message and ``ZmqStreamClosed`` once the transport is closing.  A message the socket
        refuses at once (``EHOSTUNREACH`` from ROUTER_MANDATORY, ``EFSM`` from REQ/REP out of
        turn, ``ENOTSUP``, ``EINVAL``) raises ``OSError`` with that errno; nothing of it is
        sent and the stream stays usable.  A buffered message refused later is dropped, logged
        and counted in ``statistics().messages_refused``.
        """
        self._writer.write(msg)

    def close(self) -> None:
        """Stop reading, flush what ``write()`` accepted within LINGER, then close the socket.

        Returns at once; ``wait_closed()`` waits for the flush and the tasks to end.  Idempotent.
        """
        self._shutdown(None, flush=True)

    def abort(self) -> None:
        """Drop the write buffer and close the socket at once (LINGER 0)."""
        self._abort_requested = True
        if self._closing:
            if self._closer is not None:
                self._closer.cancel()
            return
        try:
            self._shutdown(None, flush=False)
        except RuntimeError:
            # The loop is closed (an abandoned stream collected after its loop ended): nothing
            # can be scheduled any more, but the socket must still be closed.
            self._release(0)
            raise

    async def wait_closed(self) -> None:
        """Wait until the socket is closed and every task of this transport has ended."""
        await self._closed_event.wait()
        monitor = self._monitor.task if self._monitor is not None else self._monitor_stopping
        tasks = [t for t in (self._reader.task, self._writer.task, monitor, self._closer) if t]
        if tasks:
            await asyncio.wait(tasks)

    # ------------------------------------------------------------------ public: flow control

    def get_write_buffer_size(self) -> int:
        """Bytes waiting in the write buffer (messages the socket has not taken yet)."""
        return self._writer.size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """Return ``(low, high)``, the write watermarks in bytes."""
        return self._writer.limits

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the write watermarks (defaults: 64 KiB high, a quarter of it low)."""
        self._writer.set_limits(high, low)

    def pause_reading(self) -> None:
        """Stop taking messages from the socket; ZeroMQ's own HWM then pushes back on peers."""
        self._reader.pause()

    def resume_reading(self) -> None:
        """Undo ``pause_reading()`` (reading stays paused while the read buffer is full)."""
        self._reader.resume()

    # ------------------------------------------------------------------ the parts' callbacks

    def _on_cancelled(self) -> None:
        """Handle ``CancelledError`` in a task: ours to re-raise, or the socket closed under us."""
        task = asyncio.current_task()
        if self._closing or (task is not None and task.cancelling()):
            raise asyncio.CancelledError
        # Nobody cancelled this task: pyzmq cancels pending polls when the socket is closed
        # behind our back (e.g. get_extra_info('zmq_socket').close()).
        if self._views.closed:
            self._lost()
        else:  # pragma: no cover - a poll future cancelled by something else
            raise asyncio.CancelledError

    def _lost(self) -> None:
        """The socket was closed behind our back: end the stream, nothing left to flush."""
        self._shutdown(None, flush=False)

    def _fatal(self, exc: Exception, action: str) -> None:
        """A part failed: store the error on the stream (see ``stream_error``), close at once."""
        if self._closing:
            return
        error = stream_error(exc, action)
        if error is exc:
            logger.error("unexpected %s error on %r", action, self, exc_info=exc)
        else:
            logger.debug("fatal %s error on %r: %s", action, self, error)
        self._writer.wake_waiters(error)
        self._shutdown(error, flush=False, linger=None)

    # ------------------------------------------------------------------ internals

    def _rearm(self) -> None:
        """Make pyzmq re-check readiness after a synchronous call that may have eaten an edge."""
        if (self._reader.waiting or self._writer.polling) and not self._closed:
            self._async.get(zmq.EVENTS)

    # ------------------------------------------------------------------ shutdown, in order

    def _shutdown(self, error: Exception | None, *, flush: bool, linger: int | None = 0) -> None:
        """Refuse writes, tell the stream, stop reading; then flush or release at once."""
        if self._closing:
            return
        self._closing = True
        self._writer.closed = True
        stream = self._stream_ref()
        if stream is not None:
            if error is not None:
                stream.set_exception(error)
            # Drop what the user will no longer read, then close the stream.
            if self._buffer is not None:
                self._buffer.clear()
            self._events.clear()
            stream.feed_closing()
        self._reader.close()
        if flush and self._writer.size and not self._views.closed:
            self._closer = spawn(self._flush_then_release(), "closer")
        else:
            cancel(self._writer.task)
            self._writer.drop()
            self._release(None if flush else linger)

    async def _flush_then_release(self) -> None:
        linger = int(self._views.sync_sock.getsockopt(zmq.LINGER))
        started = self._loop.time()
        try:
            writer = self._writer.task
            if writer is not None:
                await asyncio.wait([writer], timeout=None if linger < 0 else linger / 1000)
        finally:
            cancel(self._writer.task)
            self._writer.drop()
            if self._abort_requested:
                linger = 0
            elif linger > 0:
                linger = max(0, linger - int((self._loop.time() - started) * 1000))
            self._release(linger)

    def _release(self, linger: int | None) -> None:
        """Stop the monitor, close the socket (monitor first, as libzmq needs), wake waiters."""
        if self._closed:
            return
        self._closed = True
        if self._owner_watch is not None:
            self._owner_watch.cancel()
        self._stop_monitor()
        self._views.close(linger)
        self._closed_event.set()
        logger.debug("closed %r", self)
