"""ZmqTransport: owns one ZeroMQ socket and the background tasks that move its messages.

Receiving: at most one ``recv_multipart()`` future of the ``zmq.asyncio`` socket is in flight.
The reader task finishes it when its done callback fires: it buffers the message and every
further ready one (non-blocking receives, up to a batch cap) in the stream, then starts the
next receive.  A ``read()`` that finds the buffer empty *claims* the receive instead (removes
that callback and awaits the future itself), so a reply costs one task wake-up, as an awaited
receive does; and it always finishes its receive, cancelled or not, so a cancelled ``read()``
loses nothing.  After a claimed receive none is in flight until the caller's next ``read()``
starts one, as with raw ``zmq.asyncio``: a request/reply loop then pays for no receive
bookkeeping (libzmq calls) between a reply's arrival and its next request.  A timer resumes
background intake if the caller does not come back soon.

Sending: ``write()`` sends at once without awaiting while the socket can take it; on ``EAGAIN``
it buffers a copy and a writer task, which exists only while the buffer is non-empty, sends the
rest in order when the socket is writable.

ZeroMQ's fd is edge-triggered: a synchronous send, receive or ``EVENTS`` read can consume the
wake-up that a pending receive waits for.  After such operations we read ``EVENTS`` through the
``zmq.asyncio`` socket, which makes pyzmq re-check and serve its own pending futures.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

import zmq
import zmq.asyncio

from ._errors import ZmqStreamClosed, os_error
from ._events import SocketEvent
from ._frames import REFUSALS, Frames, TornMessage, check_message, own_frames, send_now
from ._socket import SocketViews, ZmqSocket
from ._watermarks import resolve_watermarks

if TYPE_CHECKING:
    from ._stream import ZmqStream

__all__ = ("ZmqTransport",)

logger = logging.getLogger("zmqstreams")

#: Messages taken from (or given to) the socket per wake-up before yielding to the loop.
BATCH = 256

#: How often (s) we check that a caller's synchronous socket was not closed behind our back.
_FOREIGN_OWNER_CHECK_S = 0.2

#: Background intake resumes at most this long (s) after a read() that waited returns, if no
#: read() started a receive meanwhile.  One timer per period, not per message.
_RESUME_INTAKE_S = 0.05

#: Socket types that cannot receive: their streams never start a reader.
_SEND_ONLY = frozenset({zmq.PUSH, zmq.PUB})

#: Makes every monitor endpoint unique, so disable/enable cycles never collide.
_monitor_ids = itertools.count()

_SOCKET_TYPE_NAMES = {int(t): t.name for t in zmq.SocketType}

_NOBLOCK = zmq.NOBLOCK


def _option_name(option: int) -> str:
    """``zmq.LINGER`` -> ``"LINGER"``; unknown numbers stay numbers."""
    try:
        return zmq.SocketOption(option).name or str(option)
    except ValueError:
        return str(option)


def _readiness(sock: zmq.asyncio.Socket, flag: int) -> Callable[..., Awaitable[Any]]:
    """Return a function whose awaitable ends when ``sock`` is ready for ``flag``.

    It takes an optional timeout in ms, after which it ends anyway.

    A ``zmq.asyncio.Poller`` kept for the task's lifetime: it consumes nothing (cancelling its
    wait is always safe) and costs one future less per wait than ``Socket.poll()``.
    """
    poller = zmq.asyncio.Poller()
    poller.register(sock, flag)
    return poller.poll


class ZmqTransport:
    """The socket side of a ``ZmqStream``: endpoints, options, flow control and shutdown.

    Reached as ``stream.transport``; created by ``create_zmq_stream()``.
    """

    def __init__(
        self, views: SocketViews, zmq_type: int, stream: ZmqStream, user_sock: ZmqSocket | None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._views = views
        #: Awaitable view, used for ``poll`` and for ``EVENTS`` reads that re-arm pyzmq.
        self._async = views.async_sock
        #: Synchronous view, used for non-blocking sends and receives.
        self._sync = views.sync_sock
        self._zmq_type = zmq_type
        # Held weakly so that an abandoned stream can be collected (and warn) while our tasks run.
        self._stream_ref: Callable[[], ZmqStream | None] = weakref.ref(stream)
        self._extra: dict[str, Any] = {
            "zmq_socket": user_sock if user_sock is not None else views.async_sock,
            "zmq_type": zmq_type,
        }
        self._bindings: set[str] = set()
        self._connections: set[str] = set()
        self._subscriptions: set[bytes] = set()
        #: True once close() or abort() began; the socket may still be flushing.
        self._closing = False
        #: True once the socket is closed and every resource released.
        self._closed = False
        self._closed_event = asyncio.Event()

        # Write side.
        self._wbuf: deque[tuple[int, tuple[bytes, ...]]] = deque()
        self._wbuf_size = 0
        #: Messages (and their bytes) the socket took, at once or from the write buffer.
        self._messages_written = 0
        self._bytes_written = 0
        #: Buffered messages the socket refused when the writer task sent them (dropped).
        self._messages_refused = 0
        self._write_high, self._write_low = resolve_watermarks(None, 16 * 1024, "write")
        #: Above the high watermark until the buffer falls to the low one; drain() waits then.
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        #: Runs only while messages wait in the write buffer.
        self._writer: asyncio.Task[None] | None = None
        self._writer_polling = False

        # Read side.
        self._reader: asyncio.Task[None] | None = None
        #: What the reader task awaits between receives (None while it runs).
        self._reader_wakeup: asyncio.Future[None] | None = None
        #: The background receive in flight, until the reader finishes it (None: none).
        self._receiving: asyncio.Future[list[bytes]] | None = None
        #: The receive a read() claimed and awaits instead (see claim_receive()), else None.
        self._claimed: asyncio.Future[list[bytes]] | None = None
        #: Resumes background intake after a claimed receive (see release_receive()).
        self._resume_timer: asyncio.TimerHandle | None = None
        self._paused_by_user = False
        self._paused_by_buffer = False
        #: Periodic check that a caller's synchronous socket is still open (None otherwise).
        self._owner_check: asyncio.TimerHandle | None = None

        # Monitor.
        self._monitor: SocketViews | None = None
        self._monitor_task: asyncio.Task[None] | None = None

        # Shutdown.
        self._closer: asyncio.Task[None] | None = None
        self._abort_requested = False

    def start(self) -> None:
        """Start the reader for socket types that can receive (called once, after set-up)."""
        if self._zmq_type not in _SEND_ONLY and self._reader is None and not self._closing:
            self._reader = self._spawn(self._read_loop(), "reader")
            if not self._views.owner_is_async:
                self._owner_check = self._loop.call_later(
                    _FOREIGN_OWNER_CHECK_S, self._check_foreign_owner
                )

    def __repr__(self) -> str:
        # Never reads EVENTS: that could swallow a pending read's wake-up.
        kind = _SOCKET_TYPE_NAMES.get(self._zmq_type, str(self._zmq_type))
        state = "closed" if self._closed else "closing" if self._closing else "open"
        if self._zmq_type in _SEND_ONLY:
            reading = "none"
        else:
            reading = "paused" if self._paused_by_user or self._paused_by_buffer else "active"
        return (
            f"<ZmqTransport type={kind} {state} read={reading} write=<bufsize={self._wbuf_size}>>"
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
        size, all_bytes = check_message(msg)
        if self._closing:
            raise ZmqStreamClosed("cannot write: the stream is closed")
        if not self._wbuf:
            try:
                send_now(self._sync, msg)
            except zmq.Again:
                pass
            except zmq.ZMQError as exc:
                self._rearm_after_send()
                if exc.errno in REFUSALS:
                    raise os_error(exc, "write") from exc
                self._fatal(exc, "write")
                return
            except TornMessage as exc:
                self._fatal(exc, "write")
                return
            else:
                self._messages_written += 1
                self._bytes_written += size
                self._rearm_after_send()
                return
        self._wbuf.append((size, own_frames(msg, all_bytes)))
        self._wbuf_size += size
        if self._writer is None:
            self._writer = self._spawn(self._write_loop(), "writer")
        if not self._write_paused and self._wbuf_size > self._write_high:
            self._write_paused = True

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
        self._shutdown(None, flush=False)

    async def wait_closed(self) -> None:
        """Wait until the socket is closed and every task of this transport has ended."""
        await self._closed_event.wait()
        tasks = [t for t in (self._reader, self._writer, self._monitor_task, self._closer) if t]
        if tasks:
            await asyncio.wait(tasks)

    # ------------------------------------------------------------------ public: flow control

    def get_write_buffer_size(self) -> int:
        """Bytes waiting in the write buffer (messages the socket has not taken yet)."""
        return self._wbuf_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """Return ``(low, high)``, the write watermarks in bytes."""
        return self._write_low, self._write_high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the write watermarks (defaults: 64 KiB high, a quarter of it low)."""
        self._write_high, self._write_low = resolve_watermarks(high, low, "write")
        if self._wbuf_size > self._write_high:
            self._write_paused = True
        else:
            self._maybe_resume_writing()

    def pause_reading(self) -> None:
        """Stop taking messages from the socket; ZeroMQ's own HWM then pushes back on peers."""
        self._paused_by_user = True
        self._cancel_receives()

    def resume_reading(self) -> None:
        """Undo ``pause_reading()`` (reading stays paused while the read buffer is full)."""
        self._paused_by_user = False
        self._wake_reader_task()

    # ------------------------------------------------------------------ public: ZeroMQ

    def getsockopt(self, option: int) -> Any:
        """Return a socket option; ``zmq.LAST_ENDPOINT`` comes back as ``str``."""
        try:
            # The zmq.asyncio socket's get() re-arms pyzmq's watcher when option is EVENTS.
            value = self._async.get(option)
        except zmq.ZMQError as exc:
            raise os_error(exc, f"getsockopt({_option_name(option)})") from exc
        if option == zmq.LAST_ENDPOINT and isinstance(value, bytes):
            return value.decode("utf-8").rstrip("\x00")
        return value

    def setsockopt(self, option: int, value: Any) -> None:
        """Set a socket option; subscriptions made this way are tracked too."""
        try:
            self._async.set(option, value)
        except zmq.ZMQError as exc:
            raise os_error(exc, f"setsockopt({_option_name(option)})") from exc
        if option == zmq.SUBSCRIBE:
            self._subscriptions.add(value)
        elif option == zmq.UNSUBSCRIBE:
            self._subscriptions.discard(value)
        self._rearm()

    def bind(self, endpoint: str) -> asyncio.Future[str]:
        """Bind to ``endpoint``; the awaitable gives the real endpoint (wildcard port resolved).

        The bind happens at once; a failure is an ``OSError`` with the ZeroMQ errno.
        """

        def do_bind() -> str:
            self._async.bind(endpoint)
            real: str = self.getsockopt(zmq.LAST_ENDPOINT)
            self._bindings.add(real)
            return real

        return self._endpoint_call("bind", endpoint, do_bind)

    def unbind(self, endpoint: str) -> asyncio.Future[None]:
        """Stop listening on ``endpoint`` (as returned by ``bind``)."""

        def do_unbind() -> None:
            self._async.unbind(endpoint)
            self._bindings.discard(endpoint)

        return self._endpoint_call("unbind", endpoint, do_unbind)

    def connect(self, endpoint: str) -> asyncio.Future[str]:
        """Connect to ``endpoint``; the awaitable gives ``endpoint`` back."""

        def do_connect() -> str:
            self._async.connect(endpoint)
            self._connections.add(endpoint)
            return endpoint

        return self._endpoint_call("connect", endpoint, do_connect)

    def disconnect(self, endpoint: str) -> asyncio.Future[None]:
        """Disconnect from ``endpoint``."""

        def do_disconnect() -> None:
            self._async.disconnect(endpoint)
            self._connections.discard(endpoint)

        return self._endpoint_call("disconnect", endpoint, do_disconnect)

    def bindings(self) -> set[str]:
        """The endpoints this socket is bound to (a copy)."""
        return set(self._bindings)

    def connections(self) -> set[str]:
        """The endpoints this socket is connected to (a copy)."""
        return set(self._connections)

    def subscribe(self, value: bytes) -> None:
        """Subscribe a SUB socket to messages starting with ``value``."""
        self._check_subscription("subscribe", value)
        if value not in self._subscriptions:
            self.setsockopt(zmq.SUBSCRIBE, value)

    def unsubscribe(self, value: bytes) -> None:
        """Remove a subscription of a SUB socket."""
        self._check_subscription("unsubscribe", value)
        self.setsockopt(zmq.UNSUBSCRIBE, value)

    def subscriptions(self) -> set[bytes]:
        """The topics a SUB socket is subscribed to (a copy)."""
        if self._zmq_type != zmq.SUB:
            raise NotImplementedError("subscriptions() is only for SUB sockets")
        return set(self._subscriptions)

    async def enable_monitor(self, events: int | None = None) -> None:
        """Start delivering socket events (``zmq.EVENT_*`` mask, default all) to ``read_event()``.

        Enable it before ``connect``/``bind`` to see the first events.  Calling it again while
        the monitor runs does nothing.
        """
        if self._closing:
            raise ZmqStreamClosed("cannot enable the monitor: the stream is closed")
        if self._monitor is not None:
            return
        mask = zmq.EVENT_ALL if events is None else events
        addr = f"inproc://zmqstreams.monitor.{next(_monitor_ids)}"
        try:
            monitor = self._views.monitor(mask, addr)
        except zmq.ZMQError as exc:
            raise os_error(exc, "enable_monitor") from exc
        self._monitor = monitor
        self._monitor_task = self._spawn(self._monitor_loop(monitor), "monitor")
        self._rearm()
        logger.debug("monitor started on %r", self)

    async def disable_monitor(self) -> None:
        """Stop the monitor (disable it, then close its PAIR socket) and wait for its task."""
        task = self._stop_monitor()
        if task is not None:
            await asyncio.wait([task])

    # ------------------------------------------------------------------ used by ZmqStream

    def claim_receive(self) -> asyncio.Future[list[bytes]] | None:
        """Hand the receive in flight to a ``read()`` that found the buffer empty, or ``None``.

        Starts a receive first if none is in flight; if that one has a message at once, it is
        returned done, for the caller to release without waiting.  ``None`` means: wait to be
        woken by the stream instead (reading is paused or over, or a background receive already
        has a message for the reader task).  The claimer must call ``release_receive()`` with
        the future however its wait ends: that buffers the message if one came, so cancelling
        the claimer loses nothing.  ``interrupt_receive()`` cancels a claimed receive so that
        its claimer re-checks the stream; pyzmq skips a cancelled receive.
        """
        receiving = self._receiving
        if receiving is None:
            receiving = self._start_receive(background=False)
            if receiving is None:
                return None
        elif receiving.done():
            return None  # a background receive has a message: the reader takes it, with its batch
        else:
            receiving.remove_done_callback(self._receive_done)
            self._receiving = None
        self._claimed = receiving
        return receiving

    def release_receive(self, receiving: asyncio.Future[list[bytes]]) -> None:
        """Finish a receive given by ``claim_receive()``: buffer its message, if it got one.

        The next receive is left to the caller's next ``read()`` (it usually comes at once,
        after the caller has answered); ``_RESUME_INTAKE_S`` later the reader resumes anyway.
        """
        self._claimed = None
        self._finish_receive(receiving, drain=False)
        if self._resume_timer is None and not self._closing:
            self._resume_timer = self._loop.call_later(_RESUME_INTAKE_S, self._resume_intake)

    def take_ready(self) -> bool:
        """``read()`` found the buffer empty: take what is ready now, with non-blocking receives.

        Only while no receive is in flight (one that is would hold an earlier message).  Costs
        one receive call when nothing is there, so ``read()`` tries it only after a read that
        found a message ready.  Returns whether anything was buffered.
        """
        if (
            self._receiving is not None
            or self._claimed is not None
            or self._paused_by_user
            or self._paused_by_buffer
            or self._closing
        ):
            return False
        stream = self._stream_ref()
        if stream is None:
            return False
        try:
            taken = self._take_ready(stream)
        except zmq.ZMQError as exc:
            self._fatal(exc, "read")
            return False
        if self._writer_polling:
            self._async.get(zmq.EVENTS)
        return taken > 0

    def interrupt_receive(self) -> None:
        """Cancel a claimed receive, so that the ``read()`` awaiting it re-checks the stream."""
        if self._claimed is not None:
            self._claimed.cancel()

    def _reading_paused(self) -> bool:
        return (self._paused_by_user or self._paused_by_buffer) and not self._closing

    def _set_read_backpressure(self, paused: bool) -> None:
        self._paused_by_buffer = paused
        if not paused:
            self._wake_reader_task()

    async def _drain_helper(self) -> None:
        if not self._write_paused:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            self._drain_waiters.remove(waiter)

    # ------------------------------------------------------------------ background tasks

    def _take_ready(self, stream: ZmqStream, first: list[bytes] | None = None) -> int:
        """Buffer ``first`` and the messages ready after it, without waiting; return how many.

        Stops at ``EAGAIN``, once the buffer is above its high watermark (the stream then pauses
        us), or after ``BATCH`` messages, when the caller should yield before taking more, so
        that one busy socket cannot starve the loop.  Frames are
        received with ``copy=False``, whose ``more`` is free, unlike ``recv_multipart``'s
        ``RCVMORE`` lookup per frame; the rest of a multipart message is always there once its
        first frame is.
        """
        recv = self._sync.recv
        budget = stream._high - stream._queue_size
        batch: list[tuple[int, list[bytes]]] = []
        total = 0
        if first is not None:
            total = sum(map(len, first)) or 1
            batch.append((total, first))
            budget -= total
        try:
            while budget >= 0 and len(batch) < BATCH:
                try:
                    frame = recv(_NOBLOCK, copy=False)
                except zmq.Again:
                    break
                except zmq.ZMQError as exc:
                    if exc.errno == zmq.EFSM:
                        break  # REQ/REP: nothing more to read until we send
                    raise
                data = frame.bytes
                msg = [data]
                size = len(data)
                while frame.more:
                    frame = recv(_NOBLOCK, copy=False)
                    data = frame.bytes
                    msg.append(data)
                    size += len(data)
                size = size or 1
                batch.append((size, msg))
                total += size
                budget -= size
        finally:
            if batch:
                stream._feed_batch(batch, total)
        return len(batch)

    async def _read_loop(self) -> None:
        """Finish the receives nobody claimed and start the next ones; sleep in between."""
        try:
            while not self._closing:
                self._start_receive()
                receiving = self._receiving
                if receiving is None or not receiving.done():
                    self._reader_wakeup = self._loop.create_future()
                    try:
                        await self._reader_wakeup
                    finally:
                        self._reader_wakeup = None
                elif self._finish_receive(receiving, drain=True):
                    await asyncio.sleep(0)  # a flood: let the consumer and others run
        except asyncio.CancelledError:
            self._on_cancelled()

    def _start_receive(self, *, background: bool = True) -> asyncio.Future[list[bytes]] | None:
        """Start a receive unless one is in flight, reading is paused, or we are closing.

        A background receive is finished by the reader task, woken by its done callback (at
        once if a message was already there); otherwise the caller owns the returned future.
        """
        if (
            self._receiving is not None
            or self._claimed is not None
            or self._paused_by_user
            or self._paused_by_buffer
            or self._closing
        ):
            return None
        try:
            receiving = cast("asyncio.Future[list[bytes]]", self._async.recv_multipart())
        except zmq.ZMQError as exc:
            if self._views.closed:  # closed behind our back while no receive was pending
                self._shutdown(None, flush=False)
            else:
                self._fatal(exc, "read")
            return None
        if background:
            self._receiving = receiving
            if receiving.done():
                self._wake_reader_task()
            else:
                receiving.add_done_callback(self._receive_done)
        return receiving

    def _resume_intake(self) -> None:
        self._resume_timer = None
        self._start_receive()

    def _receive_done(self, receiving: asyncio.Future[list[bytes]]) -> None:
        if receiving is self._receiving:
            self._wake_reader_task()

    def _wake_reader_task(self) -> None:
        wakeup = self._reader_wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _cancel_receives(self) -> None:
        for receiving in (self._receiving, self._claimed):
            if receiving is not None:
                receiving.cancel()

    def _finish_receive(self, receiving: asyncio.Future[list[bytes]], *, drain: bool) -> bool:
        """Buffer a finished receive's message, and with ``drain`` those ready after it.

        Returns ``_take_ready``'s verdict: True when the batch cap was reached.  A receive that
        was cancelled, or that found nothing after all, took nothing; one cancelled by pyzmq
        because the socket was closed behind our back ends the stream.
        """
        if receiving is self._receiving:
            self._receiving = None
        if receiving.cancelled():
            if self._views.closed:
                self._shutdown(None, flush=False)
            return False
        stream = self._stream_ref()
        if stream is None or self._closing:
            return False
        try:
            msg = receiving.result()
            if drain:
                batch_full = self._take_ready(stream, msg) >= BATCH
            else:
                size = sum(map(len, msg)) or 1
                stream._feed_batch([(size, msg)], size)
                batch_full = False
        except zmq.ZMQError as exc:
            # EAGAIN: libzmq said POLLIN, then dropped what it had (REQ_CORRELATE discards a
            # stale reply); EFSM: REQ/REP has nothing to read until we send.  Neither is a
            # failure: the next receive waits again.
            if exc.errno not in (zmq.EAGAIN, zmq.EFSM):
                self._fatal(exc, "read")
            return False
        except Exception as exc:
            self._fatal(exc, "read")
            return False
        if self._writer_polling:
            self._async.get(zmq.EVENTS)
        return batch_full

    async def _write_loop(self) -> None:
        poll = _readiness(self._async, zmq.POLLOUT)
        sock = self._sync
        buf = self._wbuf
        try:
            while buf:
                self._writer_polling = True
                try:
                    await poll()
                finally:
                    self._writer_polling = False
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
                        self._refused_later(exc)
                    else:
                        self._messages_written += 1
                        self._bytes_written += size
                    buf.popleft()
                    self._wbuf_size -= size
                self._maybe_resume_writing()
                self._rearm_after_send()
        except asyncio.CancelledError:
            self._on_cancelled()
        except Exception as exc:
            self._fatal(exc, "write")
        finally:
            self._writer = None

    async def _monitor_loop(self, monitor: SocketViews) -> None:
        poll = _readiness(monitor.async_sock, zmq.POLLIN)
        recv = monitor.sync_sock.recv_multipart
        try:
            while True:
                await poll()
                stream = self._stream_ref()
                if stream is None:
                    return
                for _ in range(BATCH):
                    try:
                        frames = recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    stream.feed_event(SocketEvent.parse(frames))
                del stream
        except asyncio.CancelledError:
            self._on_cancelled()
        except zmq.ZMQError as exc:
            if not self._closing and self._monitor is monitor:
                logger.debug("monitor of %r ended: %s", self, exc)

    def _on_cancelled(self) -> None:
        """Handle ``CancelledError`` in a task: ours to re-raise, or the socket closed under us."""
        task = asyncio.current_task()
        if self._closing or (task is not None and task.cancelling()):
            raise asyncio.CancelledError
        # Nobody cancelled this task: pyzmq cancels pending polls when the socket is closed
        # behind our back (e.g. get_extra_info('zmq_socket').close()).
        if self._views.closed:
            self._shutdown(None, flush=False)
        else:  # pragma: no cover - a poll future cancelled by something else
            raise asyncio.CancelledError

    # ------------------------------------------------------------------ internals

    def _spawn(self, coro: Coroutine[Any, Any, None], role: str) -> asyncio.Task[None]:
        return self._loop.create_task(coro, name=f"zmqstreams-{role}")

    def _rearm(self) -> None:
        """Make pyzmq re-check readiness after a synchronous call that may have eaten an edge."""
        if (
            self._receiving is not None or self._claimed is not None or self._writer_polling
        ) and not self._closed:
            self._async.get(zmq.EVENTS)

    def _check_foreign_owner(self) -> None:
        """Close the stream if the caller closed its synchronous socket behind our back.

        Closing a plain ``zmq.Socket`` cancels nothing on our ``zmq.asyncio`` wrapper, so a
        pending receive would otherwise wait forever.
        """
        self._owner_check = None
        if self._closing:
            return
        if self._views.closed:
            self._shutdown(None, flush=False)
        else:
            self._owner_check = self._loop.call_later(
                _FOREIGN_OWNER_CHECK_S, self._check_foreign_owner
            )

    def _endpoint_call(
        self, action: str, endpoint: str, call: Callable[[], Any]
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        try:
            if not isinstance(endpoint, str):
                raise TypeError(f"{action}() endpoint must be a str, got {endpoint!r}")
            if self._closing:
                raise ZmqStreamClosed(f"cannot {action} {endpoint!r}: the stream is closed")
            try:
                result = call()
            except zmq.ZMQError as exc:
                raise os_error(exc, f"{action} {endpoint!r}") from exc
            finally:
                self._rearm()
        except Exception as exc:
            future.set_exception(exc)
        else:
            logger.debug("%s %s on %r", action, endpoint, self)
            future.set_result(result)
        return future

    def _check_subscription(self, action: str, value: object) -> None:
        if self._zmq_type != zmq.SUB:
            raise NotImplementedError(f"{action}() is only for SUB sockets")
        if not isinstance(value, bytes):
            raise TypeError(f"{action}() topic must be bytes, got {type(value).__name__}")

    def _maybe_resume_writing(self) -> None:
        if self._write_paused and self._wbuf_size <= self._write_low:
            self._write_paused = False
            self._wake_drain_waiters(None)

    def _wake_drain_waiters(self, exc: BaseException | None) -> None:
        for waiter in self._drain_waiters:
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)

    def _rearm_after_send(self) -> None:
        """A synchronous send may have eaten a pending receive's wake-up: let pyzmq re-check.

        Reading ``EVENTS`` through the ``zmq.asyncio`` socket schedules nothing unless a
        message is already there; with no receive pending there is nothing to re-arm.
        """
        if self._receiving is not None or self._claimed is not None:
            self._async.get(zmq.EVENTS)

    def _refused_later(self, exc: zmq.ZMQError) -> None:
        """The writer's send was refused: nobody is left to raise it to, so count and log it.

        Warns for the first refusal and every 1000th after it, so a stream of refusals (a
        ROUTER replying to many departed peers) cannot flood the log.
        """
        self._messages_refused += 1
        if self._messages_refused % 1000 == 1:
            logger.warning(
                "write: the socket refused a buffered message, dropped (%s; %d so far) on %r",
                zmq.strerror(exc.errno) if exc.errno is not None else exc,
                self._messages_refused,
                self,
            )

    def _drop_write_buffer(self) -> None:
        if self._wbuf:
            logger.debug("dropping %d unsent messages of %r", len(self._wbuf), self)
        self._wbuf.clear()
        self._wbuf_size = 0
        self._write_paused = False
        self._wake_drain_waiters(ConnectionResetError("the stream closed before the flush"))

    def _fatal(self, exc: Exception, action: str) -> None:
        """A socket error: store it on the stream as OSError and close without flushing.

        Any other exception in a background task is stored as it is (and logged), so that
        ``read()`` raises it instead of waiting for a reader that is gone.
        """
        if self._closing:
            return
        if isinstance(exc, TornMessage):
            error: Exception = os_error(exc.error, f"{action} (after part of a message was sent)")
            logger.debug("fatal %s error on %r: %s", action, self, error)
        elif isinstance(exc, zmq.ZMQError):
            error = os_error(exc, action)
            logger.debug("fatal %s error on %r: %s", action, self, error)
        else:
            error = exc
            logger.error("unexpected %s error on %r", action, self, exc_info=exc)
        self._wake_drain_waiters(error)
        self._shutdown(error, flush=False, linger=None)

    def _shutdown(self, error: Exception | None, *, flush: bool, linger: int | None = 0) -> None:
        if self._closing:
            return
        self._closing = True
        stream = self._stream_ref()
        if stream is not None:
            if error is not None:
                stream.set_exception(error)
            stream._transport_closed()
        self._cancel_receives()
        self._cancel(self._reader)
        if flush and self._wbuf and not self._views.closed:
            self._closer = self._spawn(self._flush_then_release(), "closer")
        else:
            self._cancel(self._writer)
            self._drop_write_buffer()
            self._release(None if flush else linger)

    async def _flush_then_release(self) -> None:
        linger = int(self._sync.getsockopt(zmq.LINGER))
        started = self._loop.time()
        try:
            writer = self._writer
            if writer is not None:
                await asyncio.wait([writer], timeout=None if linger < 0 else linger / 1000)
        finally:
            self._cancel(self._writer)
            self._drop_write_buffer()
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
        for timer in (self._owner_check, self._resume_timer):
            if timer is not None:
                timer.cancel()
        self._owner_check = self._resume_timer = None
        self._stop_monitor()
        self._views.close(linger)
        self._closed_event.set()
        logger.debug("closed %r", self)

    def _stop_monitor(self) -> asyncio.Task[None] | None:
        monitor, task = self._monitor, self._monitor_task
        if monitor is None:
            return None
        self._monitor = self._monitor_task = None
        self._cancel(task)
        # Order matters: disable first, then close the PAIR (libzmq#3575), then the socket.
        if not self._views.closed:
            self._views.owner.disable_monitor()
        monitor.close(linger=0)
        logger.debug("monitor stopped on %r", self)
        return task

    @staticmethod
    def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
