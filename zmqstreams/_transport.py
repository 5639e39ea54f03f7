"""ZmqTransport: the thin owner of one ZeroMQ socket and of the parts that move its messages.

It wires its parts together, keeps the stream's lifecycle (``State``) and closes the parts in
order.  The parts, one module each:

* ``Writer`` (``_writer.py``): ``write()``'s fast path, the write buffer and its task, drain;
* ``Reader`` (``_reader.py``): the receive in flight, claimed by ``read()`` or finished by the
  reader task, feeding the stream's ``ReadBuffer`` (``_buffer.py``);
* ``Endpoints`` (``_endpoints.py``): options, endpoints, subscriptions and the ``Monitor``
  (``_monitor.py``), which feeds the stream's ``EventQueue``; the transport forwards that half
  of its API there;
* ``Edge`` (``_edge.py``): the socket's readiness signal, which the others share.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

from ._affinity import THREADSAFE_ADVICE, LoopAffinity
from ._edge import Edge
from ._endpoints import Endpoints
from ._errors import ZmqStreamClosed, os_error, stream_error
from ._events import EventQueue
from ._frames import Frames
from ._reader import Reader
from ._socket import OwnerWatch, SocketViews, ZmqSocket
from ._socket_types import can_receive, socket_type_name
from ._tasks import cancel, spawn
from ._writer import Writer

if TYPE_CHECKING:
    from ._buffer import ReadBuffer
    from ._stream import ZmqStream

__all__ = ("State", "ZmqTransport")

logger = logging.getLogger("zmqstreams")


class State(enum.Enum):
    """Where a transport is in its life; it only moves forward."""

    #: Reading and writing.
    OPEN = "open"
    #: ``close()``, ``abort()`` or a failure began: writes are refused, reading has stopped,
    #: what ``write()`` accepted may still be flushing.
    CLOSING = "closing"
    #: The socket is closed and every resource released (tasks may still be ending).
    CLOSED = "closed"


class ZmqTransport:
    """The socket side of a ``ZmqStream``: endpoints, options, flow control and shutdown.

    Reached as ``stream.transport``; created by ``create_zmq_stream()``.  Like the stream, it
    belongs to the event loop that created it (see ``ZmqStream``).
    """

    def __init__(
        self,
        views: SocketViews,
        zmq_type: int,
        stream: ZmqStream[Any],
        user_sock: ZmqSocket | None,
        affinity: LoopAffinity,
        *,
        copy: bool = True,
    ) -> None:
        self._loop = affinity.loop
        self._affinity = affinity
        self._views = views
        self._zmq_type = zmq_type
        # Held weakly so that an abandoned stream can be collected (and warn) while our tasks run.
        self._stream_ref: Callable[[], ZmqStream[Any] | None] = weakref.ref(stream)
        self._extra: dict[str, Any] = {
            "zmq_socket": user_sock if user_sock is not None else views.owner,
            "zmq_type": zmq_type,
            "copy": copy,
        }
        self._state = State.OPEN
        self._closed_event = asyncio.Event()

        edge = Edge(views, self._loop)
        self._writer = Writer(
            views, zmq_type, edge, fail=self._fail, cancelled=self._on_cancelled, owner=self
        )
        self._reader = Reader(
            views,
            edge,
            fail=self._fail,
            lost=self._lost,
            cancelled=self._on_cancelled,
            ensure_socket=self.ensure_socket,
            copy=copy,
        )
        self._endpoints = Endpoints(
            views,
            zmq_type,
            affinity,
            edge,
            closing=self.is_closing,
            failed=self._call_failed,
            cancelled=self._on_cancelled,
            owner=self,
        )
        #: Watches a caller's synchronous socket for a close behind our back (None otherwise).
        self._owner_watch: OwnerWatch | None = None
        #: Flushes the write buffer after close(), then releases the socket (None otherwise).
        self._closer: asyncio.Task[None] | None = None
        #: abort() came while close() was flushing: release with LINGER 0.
        self._abort_requested = False

    def attach(self, buffer: ReadBuffer, events: EventQueue) -> tuple[Reader, Writer]:
        """Feed ``stream``'s buffers (called once, by ``ZmqStream.set_transport()``).

        Returns the reader and the writer, which ``read()``, ``write()`` and ``drain()`` use
        directly: the transport is not on the per-message path.
        """
        self._endpoints.events = events
        self._reader.attach(buffer)
        return self._reader, self._writer

    @property
    def affinity(self) -> LoopAffinity:
        """The loop this transport (and its stream) belongs to."""
        return self._affinity

    @property
    def views(self) -> SocketViews:
        """The socket, as the parts reach it (for ``zmqstreams.testing.socket_faults``)."""
        return self._views

    def start(self) -> None:
        """Start the reader for socket types that can receive (called once, after set-up)."""
        if self._state is not State.OPEN:
            return
        if can_receive(self._zmq_type) and self._reader.task is None:
            self._reader.start()
        if not self._views.owner_is_async and self._owner_watch is None:
            # A caller's plain socket closed behind our back wakes none of our waits.
            self._owner_watch = OwnerWatch(self._views, self._lost)

    def __repr__(self) -> str:
        # Never reads EVENTS: that could swallow a pending read's wake-up.
        kind = socket_type_name(self._zmq_type)
        reading = "paused" if self._reader.paused else "active"
        if not can_receive(self._zmq_type):
            reading = "none"
        return (
            f"<ZmqTransport type={kind} {self._state.value} read={reading} "
            f"write=<bufsize={self._writer.size}>>"
        )

    # ------------------------------------------------------------------ public: asyncio-like

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Return ``'zmq_socket'`` (the pyzmq socket), ``'zmq_type'`` or ``'copy'`` (False when
        ``read()`` returns ``zmq.Frame``), else ``default``."""
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        """True once ``close()`` or ``abort()`` was called, or the socket failed."""
        return self._state is not State.OPEN

    def write(self, msg: Frames) -> None:
        """Send ``msg`` (a non-empty list or tuple of bytes-like frames) without blocking.

        The same as ``ZmqStream.write()``, which documents what it raises.
        """
        if not self._affinity.here:
            raise RuntimeError(self._affinity.misuse("write()", THREADSAFE_ADVICE))
        self._writer.write(msg)

    def close(self) -> None:
        """Stop reading, flush what ``write()`` accepted within LINGER, then close the socket.

        Returns at once; ``wait_closed()`` waits for the flush and the tasks to end.  Idempotent.
        Once the stream's event loop is closed (the stream outlived its ``asyncio.run()``),
        nothing can be flushed any more: the socket is closed at once, from any loop or thread.
        """
        if self._loop.is_closed():
            self._release_in_dead_loop(None)
            return
        self._affinity.check("close()")
        self._shutdown(None, flush=True)

    def abort(self) -> None:
        """Drop the write buffer and close the socket at once (LINGER 0)."""
        if not self._loop.is_closed():
            self._affinity.check("abort()")
        self._abort()

    def abandon(self) -> None:
        """``abort()`` for a stream the garbage collector found open, from whatever thread it
        runs in: in the stream's loop if that loop is running elsewhere, else here."""
        self._affinity.call_soon(self._abort)

    async def wait_closed(self) -> None:
        """Wait until the socket is closed and every task of this transport has ended."""
        if self._closed_event.is_set() and not self._live_tasks():
            return  # also after close() from another loop, once this one is gone
        self._affinity.check("wait_closed()")
        await self._closed_event.wait()
        tasks = self._live_tasks()
        if tasks:
            await asyncio.wait(tasks)

    def ensure_socket(self, action: str) -> None:
        """Check now that the socket is alive, and end the stream if it is not.

        For a wait that nothing else would end: ``read_event()``, or ``read()`` while reading
        is paused.  (A closed owner otherwise shows only when a call reaches the socket, or
        when pyzmq cancels a pending receive of a ``zmq.asyncio`` owner.)
        """
        if self._state is State.OPEN:
            try:
                self._views.check()
            except zmq.ZMQError as exc:
                self._fail(exc, action)

    # ------------------------------------------------------------------ public: ZeroMQ

    def getsockopt(self, option: int) -> Any:
        """Return a socket option; ``zmq.LAST_ENDPOINT`` comes back as ``str``."""
        return self._endpoints.getsockopt(option)

    def setsockopt(self, option: int, value: Any) -> None:
        """Set a socket option; subscriptions made this way are tracked too."""
        self._endpoints.setsockopt(option, value)

    def bind(self, endpoint: str) -> asyncio.Future[str]:
        """Bind to ``endpoint``; the awaitable gives the real endpoint (wildcard port resolved).

        The bind happens at once; a failure is an ``OSError`` with the ZeroMQ errno.
        """
        return self._endpoints.bind(endpoint)

    def unbind(self, endpoint: str) -> asyncio.Future[None]:
        """Stop listening on ``endpoint`` (as returned by ``bind``)."""
        return self._endpoints.unbind(endpoint)

    def connect(self, endpoint: str) -> asyncio.Future[str]:
        """Connect to ``endpoint``; the awaitable gives ``endpoint`` back."""
        return self._endpoints.connect(endpoint)

    def disconnect(self, endpoint: str) -> asyncio.Future[None]:
        """Disconnect from ``endpoint``."""
        return self._endpoints.disconnect(endpoint)

    def bindings(self) -> set[str]:
        """The endpoints this socket is bound to (a copy)."""
        return self._endpoints.bindings()

    def connections(self) -> set[str]:
        """The endpoints this socket is connected to (a copy)."""
        return self._endpoints.connections()

    def subscribe(self, value: bytes) -> None:
        """Subscribe a SUB socket to messages starting with ``value``."""
        self._endpoints.subscribe(value)

    def unsubscribe(self, value: bytes) -> None:
        """Remove a subscription of a SUB socket."""
        self._endpoints.unsubscribe(value)

    def subscriptions(self) -> set[bytes]:
        """The topics a SUB socket is subscribed to (a copy)."""
        return self._endpoints.subscriptions()

    async def enable_monitor(self, events: int | None = None) -> None:
        """Start delivering socket events (``zmq.EVENT_*`` mask, default all) to ``read_event()``.

        Enable it before ``connect``/``bind`` to see the first events.  Calling it again while
        the monitor runs does nothing.  Events wait in an unbounded pipe inside libzmq while the
        loop is busy (libzmq would otherwise stall every socket of the context), then in the
        stream's queue of ``events_backlog``.
        """
        await self._endpoints.enable_monitor(events)

    async def disable_monitor(self) -> None:
        """Stop the monitor (disable it, then close its PAIR socket) and wait for its task."""
        await self._endpoints.disable_monitor()

    # ------------------------------------------------------------------ public: flow control

    def get_write_buffer_size(self) -> int:
        """Bytes waiting in the write buffer (messages the socket has not taken yet)."""
        return self._writer.size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """Return ``(low, high)``, the write watermarks in bytes."""
        return self._writer.limits

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the write watermarks (defaults: 64 KiB high, a quarter of it low)."""
        self._affinity.check("set_write_buffer_limits()")
        self._writer.set_limits(high, low)

    def pause_reading(self) -> None:
        """Stop taking messages from the socket; ZeroMQ's own HWM then pushes back on peers."""
        self._affinity.check("pause_reading()")
        self._reader.pause()

    def resume_reading(self) -> None:
        """Undo ``pause_reading()`` (reading stays paused while the read buffer is full)."""
        self._affinity.check("resume_reading()")
        self._reader.resume()

    # ------------------------------------------------------------------ the parts' callbacks

    def _on_cancelled(self) -> None:
        """Handle ``CancelledError`` in one of our tasks.

        Ours, while closing: re-raised.  Someone else's (``asyncio.run()`` cancels every task
        when it ends): the loop is going away, so the stream ends with it, and its waiters (a
        ``drain()``, a thread's ``write_threadsafe()`` future) are not left waiting for good.
        No one's (pyzmq cancels pending polls when the socket is closed behind our back): the
        stream ends quietly and the task returns.
        """
        task = asyncio.current_task()
        if self._state is State.OPEN:
            if task is not None and task.cancelling():
                self._shutdown(None, flush=False, linger=None)
            elif self._views.closed:
                self._lost()
                return
        raise asyncio.CancelledError

    def _lost(self) -> None:
        """The socket was closed behind our back: end the stream, nothing left to flush.

        Unread messages stay readable: ``read()`` returns them, then raises
        ``ZmqStreamClosed``.
        """
        if self._state is not State.OPEN:
            cancel(self._writer.task)  # a flush in progress has nowhere left to go
            return
        self._shutdown(None, flush=False, drop_unread=False)

    def _fail(self, exc: Exception, action: str) -> Exception:
        """A part met ``exc``: end the stream; return what the part's caller should raise.

        ``ENOTSOCK`` means the socket was closed behind our back (see ``_lost()``):
        ``ZmqStreamClosed``.  Any other error is stored on the stream (see ``stream_error``),
        which closes at once, and is returned.
        """
        if self._state is not State.OPEN:
            return self._closed_error(action)
        if isinstance(exc, zmq.ZMQError) and exc.errno == zmq.ENOTSOCK:
            self._lost()
            return ZmqStreamClosed(
                f"cannot {action}: the socket was closed behind the stream's back"
            )
        error = stream_error(exc, action)
        if error is exc:
            logger.error("unexpected %s error on %r", action, self, exc_info=exc)
        else:
            logger.debug("fatal %s error on %r: %s", action, self, error)
        self._writer.wake_waiters(error)
        self._shutdown(error, flush=False, linger=None)
        return error

    def _call_failed(self, exc: zmq.ZMQError, what: str) -> Exception:
        """The error to raise when an option, endpoint or monitor call failed with ``exc``.

        libzmq's refusal of that one call is an ``OSError`` naming it; a socket that is gone
        (``ENOTSOCK``, ``ETERM``) ends the stream as any part's failure does.
        """
        if exc.errno in (zmq.ENOTSOCK, zmq.ETERM):
            return self._fail(exc, what)
        return os_error(exc, what)

    def _closed_error(self, action: str) -> Exception:
        """What an ``action`` met on an ended stream raises (``read()``, ``drain()`` and
        ``read_event()`` raise the stored error instead, if any)."""
        return ZmqStreamClosed(f"cannot {action}: the stream is closed")

    # ------------------------------------------------------------------ internals

    def _set_state(self, state: State) -> None:
        """Move to ``state``, and derive from it the flag the writer checks per message."""
        logger.debug("%r -> %s", self, state.value)
        self._state = state
        self._writer.closed = state is not State.OPEN

    def _live_tasks(self) -> list[asyncio.Task[None]]:
        tasks = (self._reader.task, self._writer.task, self._endpoints.monitor_task, self._closer)
        return [t for t in tasks if t is not None and not t.done()]

    # ------------------------------------------------------------------ shutdown, in order

    def _abort(self) -> None:
        if self._loop.is_closed():
            self._release_in_dead_loop(0)
            return
        self._abort_requested = True
        if self._state is not State.OPEN:
            if self._closer is not None:
                self._closer.cancel()
            return
        self._shutdown(None, flush=False)

    def _shutdown(
        self,
        error: Exception | None,
        *,
        flush: bool,
        linger: int | None = 0,
        drop_unread: bool = True,
    ) -> None:
        """Refuse writes, tell the stream, stop reading; then flush or release at once."""
        if self._state is not State.OPEN:
            return
        self._set_state(State.CLOSING)
        stream = self._stream_ref()
        if stream is not None:
            stream.transport_closed(error, drop_unread=drop_unread)
        self._reader.close()
        if flush and self._writer.size and not self._views.closed:
            self._closer = spawn(self._loop, self._flush_then_release(), "closer")
        else:
            cancel(self._writer.task)
            self._writer.drop()
            self._release(None if flush else linger)

    async def _flush_then_release(self) -> None:
        started = self._loop.time()
        linger = 0
        try:
            linger = int(self._views.get(zmq.LINGER))
            writer = self._writer.task
            if writer is not None:
                await asyncio.wait([writer], timeout=None if linger < 0 else linger / 1000)
        except zmq.ZMQError:
            pass  # the socket is gone (closed behind our back): nothing left to flush into
        finally:
            cancel(self._writer.task)
            self._writer.drop()
            if self._abort_requested:
                linger = 0
            elif linger > 0:
                linger = max(0, linger - int((self._loop.time() - started) * 1000))
            self._release(linger)

    def _release_in_dead_loop(self, linger: int | None) -> None:
        """``close()``/``abort()`` once the stream's loop is closed: none of its tasks or futures
        can run again, so mark the stream closed and close the socket here, scheduling nothing.
        """
        if self._state is State.OPEN:
            self._set_state(State.CLOSING)
            stream = self._stream_ref()
            if stream is not None:
                stream.transport_closed(None, drop_unread=False)
        self._release(linger)

    def _release(self, linger: int | None) -> None:
        """Stop the monitor, close the socket (monitor first, as libzmq needs), wake waiters."""
        if self._state is State.CLOSED:
            return
        self._set_state(State.CLOSED)
        if self._owner_watch is not None:
            self._owner_watch.cancel()
        self._endpoints.stop_monitor()
        self._views.close(linger)
        self._closed_event.set()
