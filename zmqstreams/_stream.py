"""ZmqStream: the user-facing API over a read buffer, an event queue and a transport.

The stream owns its ``ReadBuffer`` and ``EventQueue``; ``set_transport()`` hands them to a
``ZmqTransport``, whose reader and monitor fill them, and keeps the transport's reader and
writer, which ``read()``, ``write()`` and ``drain()`` then use directly.  Any other transport
is driven through its public methods only.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import warnings
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, cast

import zmq

from . import _sites
from ._affinity import THREADSAFE_ADVICE, LoopAffinity
from ._buffer import ReadBuffer
from ._errors import ZmqStreamClosed
from ._events import EventQueue, SocketEvent
from ._frames import BATCH, Frames, own_frames
from ._reader import Reader
from ._socket_types import can_receive, socket_type_name
from ._statistics import NO_WRITER, StreamStatistics, assemble
from ._transport import ZmqTransport
from ._watermarks import message_size
from ._writer import Writer

__all__ = ("FrameT", "ZmqStream")

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    #: The type of the frames ``read()`` returns: ``bytes``, or ``zmq.Frame`` for a stream
    #: made with ``create_zmq_stream(..., copy=False)``.  ``bytes`` when not said (PEP 696),
    #: so ``ZmqStream`` alone means ``ZmqStream[bytes]``.
    FrameT = TypeVar("FrameT", bound=bytes | zmq.Frame, default=bytes)
else:  # the default is for type checkers only: typing.TypeVar takes none before 3.13
    from typing import TypeVar

    FrameT = TypeVar("FrameT")


class ZmqStream(Generic[FrameT]):
    """Reads and writes ZeroMQ messages; create it with ``create_zmq_stream()``.

    ``read()`` returns buffered messages that the transport's reader task took from the socket;
    ``write()`` hands messages to the transport.  Cancelling a pending ``read()`` or
    ``read_event()`` is safe: nothing is consumed until it returns.

    A stream belongs to the event loop that created it.  Its methods that do I/O or change its
    state raise ``RuntimeError`` when called from another thread or another loop, before they
    touch anything; a producer thread writes with ``write_threadsafe()``.  ``statistics()``,
    ``exception()``, ``at_closing()`` and ``get_extra_info()`` may be called from anywhere.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        high: int | None = None,
        low: int | None = None,
        events_backlog: int | None = 100,
    ) -> None:
        # ``loop`` is accepted for aiozmq compatibility; the running loop is always used.
        self._events = EventQueue(events_backlog)  # validates events_backlog first
        #: Unread messages; its ``pop`` is bound once, as read() calls it per message.
        self._buffer = ReadBuffer(high, low)
        self._pop = self._buffer.pop
        #: The transport, set once by set_transport(); kept after close for wait_closed().
        self._tr: Any = None
        #: The same transport when it is a ZmqTransport, and its reader and writer, which
        #: read(), write() and drain() use directly; any other transport given to
        #: set_transport() is driven through its public methods only (these stay None).
        self._ztr: ZmqTransport | None = None
        self._reader: Reader | None = None
        self._writer: Writer | None = None
        #: True while a read() is waiting (on the buffer or on a claimed receive).
        self._reading = False
        #: Whether the last read() that found the buffer empty had to wait (see read()).
        self._last_read_waited = True
        #: read() calls returned since the last one that yielded to the loop (see read()).
        self._unyielded = 0
        self._exception: BaseException | None = None
        #: True once feed_closing() was called (by close() or by the transport).
        self._closing = False
        #: The loop a ZmqTransport belongs to (checked by the methods that do I/O); None for
        #: any other transport.
        self._affinity: LoopAffinity | None = None
        #: ``read()``'s error for a socket type that cannot receive (PUSH, PUB), else None.
        self._cannot_receive: str | None = None
        #: Messages other threads gave ``write_threadsafe()``, in order, and whether the loop
        #: was asked to take them: one wake-up of the loop per burst, not per message.
        self._from_threads: collections.deque[tuple[Frames, concurrent.futures.Future[None]]] = (
            collections.deque()
        )
        self._from_threads_scheduled = False
        if _sites.on_stream_created is not None:  # zmqstreams.testing's leak check is on
            _sites.on_stream_created(self)

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        return f"<ZmqStream {state} buffered={len(self._buffer)} transport={self._tr!r}>"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        transport: Any = getattr(self, "_tr", None)  # None if __init__ failed
        if transport is not None and not transport.is_closing():
            _warn(f"unclosed stream {self!r}", ResourceWarning, source=self, stacklevel=2)
            if isinstance(transport, ZmqTransport):
                transport.abandon()  # from whatever thread the garbage collector runs in
            else:
                with contextlib.suppress(RuntimeError):
                    transport.abort()

    # ------------------------------------------------------------------ public API

    @property
    def transport(self) -> ZmqTransport | None:
        """The ``ZmqTransport`` of this stream; ``None`` once the stream is closed."""
        return None if self._closing else cast("ZmqTransport | None", self._tr)

    async def read(self) -> list[FrameT]:
        """Return the next message as a list of frames (``bytes``, or ``zmq.Frame`` for a
        stream created with ``copy=False``).

        Raises the stored exception after a socket error, ``ZmqStreamClosed`` once the stream is
        closed and its buffer empty, and ``RuntimeError`` if another ``read()`` is pending.
        Cancelling a pending ``read()`` loses nothing: a message taken from the socket is in the
        buffer until a ``read()`` returns it.

        A ``read()`` that finds the buffer empty is always a scheduling point: it waits for the
        next message, or, when one is ready at once, yields to the loop once before returning
        it.  Reads served from the buffer do not wait, but every ``BATCH``-th one yields, so a
        flood cannot starve other tasks.

        A socket type that cannot receive (PUSH, PUB) raises ``OSError(ENOTSUP)`` at once;
        ``RuntimeError`` comes from another thread or loop.
        """
        affinity = self._affinity
        if affinity is not None and not affinity.here:
            raise RuntimeError(affinity.misuse("read()"))
        if self._unyielded >= BATCH:
            self._unyielded = 0
            await asyncio.sleep(0)
        while True:
            if self._exception is not None:
                raise self._exception.with_traceback(None)  # one raise's frames, never more
            msg = self._pop()
            if msg is not None:
                self._unyielded += 1
                return msg
            if self._cannot_receive is not None:
                raise OSError(zmq.ENOTSUP, self._cannot_receive)
            if self._closing:
                raise ZmqStreamClosed()
            if self._reading:
                raise RuntimeError("read() called while another coroutine is already reading")
            reader = self._reader
            self._reading = True
            try:
                # The last read() found a message ready: look for more before starting a receive.
                if reader is not None and not self._last_read_waited and reader.take_ready():
                    waited = False
                elif reader is not None:
                    waited = self._last_read_waited = await reader.wait()
                else:  # a foreign transport: feed_msg() wakes us
                    waited = True
                    await self._buffer.wait()
                if not waited:
                    await asyncio.sleep(0)  # a scheduling point, like a wait would have been
            finally:
                self._reading = False
            self._unyielded = 0

    def write(self, msg: Frames) -> None:
        """Send ``msg``, a non-empty list or tuple of bytes-like frames, without blocking.

        Frames are ``bytes``, ``bytearray`` or C-contiguous ``memoryview``; the whole message is
        checked before anything is sent.  Raises ``TypeError`` for a malformed message,
        ``ValueError`` for a non-contiguous frame or a frame count the socket type cannot send
        (ROUTER: at least ``[routing_id, frame]``; STREAM: exactly ``[routing_id, data]``),
        ``OSError(ENOTSUP)`` for a type that cannot send (PULL, SUB), and ``ZmqStreamClosed``
        after ``close()`` or once the socket was closed behind the stream's back.
        If the socket refuses the message at once (``EHOSTUNREACH`` from ROUTER_MANDATORY,
        ``EFSM`` from REQ/REP out of turn, ``EINVAL``), raises ``OSError`` with that ZeroMQ
        errno: nothing of it was sent and the stream stays usable.  A message that had to wait
        in the write buffer and is refused later is dropped, logged (``zmqstreams`` logger) and
        counted in ``statistics().messages_refused``.  An error meaning the socket is gone
        (``ETERM``) ends the stream and is raised; see ``exception()``.

        ``RuntimeError`` from another thread (use ``write_threadsafe()``) or another loop.
        """
        writer = self._writer
        if writer is not None:
            # What ZmqTransport.write() does, one call less per message.
            affinity = self._affinity
            if affinity is not None and not affinity.here:
                raise RuntimeError(affinity.misuse("write()", THREADSAFE_ADVICE))
            writer.write(msg)
            return
        transport = self._tr
        if transport is None:
            raise ZmqStreamClosed("the stream has no transport")
        transport.write(msg)

    def write_threadsafe(self, msg: Frames) -> concurrent.futures.Future[None]:
        """Write ``msg`` from a thread other than the stream's loop; return a future.

        ``msg`` is checked in the calling thread (``TypeError``/``ValueError``/``OSError`` as
        ``write()`` raises them, at once) and the frames the caller could mutate are copied, so
        it may reuse them at once.  Messages keep the order in which each thread wrote them.
        The future completes once the stream's loop has accepted the message (sent or buffered)
        and the write buffer is not above ``high_write``: ``future.result()`` gives the thread
        the backpressure ``drain()`` gives a coroutine.  Its exception is what ``write()`` or
        ``drain()`` would have raised: the ``OSError`` of a refused message,
        ``ZmqStreamClosed`` once the stream is closed, ``ConnectionResetError`` if it closed
        before flushing.  Cancelling the future before the loop took the message means it is
        not sent.

        Raises ``RuntimeError`` when called in the stream's own loop, where ``result()`` would
        block the loop: use ``write()`` there.
        """
        writer, affinity = self._writer, self._affinity
        if writer is None or affinity is None:
            raise RuntimeError("write_threadsafe() needs a stream made by create_zmq_stream()")
        _size, fixed = writer.check(msg)
        if affinity.here:
            raise RuntimeError(
                "write_threadsafe() called in the stream's own event loop, where waiting for "
                "its future would block the loop: use write() and drain() there"
            )
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        # deque.append() is atomic: the loop takes the messages in the order threads put them.
        self._from_threads.append((own_frames(msg, fixed), future))
        if affinity.loop.is_closed():
            self._fail_thread_writes("cannot write: the stream's event loop is closed")
        elif not self._from_threads_scheduled:
            self._from_threads_scheduled = True
            try:
                affinity.loop.call_soon_threadsafe(self._take_thread_writes)
            except RuntimeError:  # closed meanwhile
                self._fail_thread_writes("cannot write: the stream's event loop is closed")
        return future

    async def drain(self) -> None:
        """Wait until the write buffer is below its high watermark (returns at once if it is).

        Raises the stored exception after a socket error, ``ConnectionResetError`` if called
        after ``close()``; a ``drain()`` already waiting when ``close()`` completes its flush
        returns normally.  Any number of tasks may wait together.
        """
        affinity = self._affinity
        if affinity is not None and not affinity.here:
            raise RuntimeError(affinity.misuse("drain()"))
        if self._exception is not None:
            raise self._exception.with_traceback(None)
        if self._tr is None or self._closing:
            raise ConnectionResetError("Connection lost: the stream is closed")
        writer = self._writer
        if writer is not None and writer.paused:  # no coroutine when not needed
            await writer.drained()

    async def read_event(self) -> SocketEvent:
        """Return the next monitor event (see ``transport.enable_monitor()``).

        libzmq reports events for tcp and ipc endpoints (not inproc).  Raises like ``read()``;
        a pending ``read_event()`` ends when the stream closes.
        """
        affinity = self._affinity
        if affinity is not None and not affinity.here:
            raise RuntimeError(affinity.misuse("read_event()"))
        events = self._events
        while True:
            if self._exception is not None:
                raise self._exception.with_traceback(None)
            event = events.pop()
            if event is not None:
                return event
            if self._closing:
                raise ZmqStreamClosed()
            if events.waiting:
                raise RuntimeError(
                    "read_event() called while another coroutine is already reading events"
                )
            if self._ztr is not None:
                self._ztr.ensure_socket("read_event")  # nothing else may notice a dead socket
                if self._closing:
                    continue  # it did end the stream: look again
            await events.wait()

    def close(self) -> None:
        """Close the stream: unread messages are dropped, accepted writes are flushed.

        Never blocks; pending reads end with ``ZmqStreamClosed``.  Idempotent.  (Unlike
        ``feed_closing()``, which keeps buffered messages readable.)  Once the stream's event
        loop is closed, it closes the socket at once, from any loop or thread.
        """
        if self._tr is not None:
            self._tr.close()
        if self._ztr is None:  # a ZmqTransport tells us itself; anything else cannot
            self.transport_closed(None, drop_unread=True)

    async def wait_closed(self) -> None:
        """Wait until the socket is closed and the stream's tasks have ended."""
        if self._ztr is not None:
            await self._ztr.wait_closed()

    def at_closing(self) -> bool:
        """True if ``feed_closing()`` was called and the buffer is empty."""
        return self._closing and not self._buffer

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
        reader, writer = self._reader, self._writer
        return assemble(
            self._buffer.statistics(),
            writer.statistics() if writer is not None else NO_WRITER,
            reading_paused=reader.paused if reader is not None else self._buffer.paused,
            events_dropped=self._events.dropped,
        )

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> list[FrameT]:
        try:
            return await self.read()
        except ZmqStreamClosed:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
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
        self._events.wake()

    def set_transport(self, transport: Any) -> None:
        """Attach ``transport`` (once).

        Normally a ``ZmqTransport``; any object with the asyncio transport methods (``write``,
        ``close``, ``is_closing``, ``pause_reading``, ``resume_reading``, ``get_extra_info``)
        also works, driven through those methods only.
        """
        if self._tr is not None:
            raise RuntimeError("the stream already has a transport")
        self._tr = transport
        if isinstance(transport, ZmqTransport):
            self._ztr = transport
            self._affinity = transport.affinity
            self._reader, self._writer = transport.attach(self._buffer, self._events)
            zmq_type = transport.get_extra_info("zmq_type")
            if not can_receive(zmq_type):
                self._cannot_receive = f"read: {socket_type_name(zmq_type)} sockets cannot receive"
        else:
            self._buffer.flow = lambda paused: (
                transport.pause_reading() if paused else transport.resume_reading()
            )

    def get_read_buffer_limits(self) -> tuple[int, int]:
        """``(low, high)``: the read watermarks in bytes, in the order of the transport's
        ``get_write_buffer_limits()``."""
        return self._buffer.limits

    def set_read_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the read watermarks in bytes (default 64 KiB high, a quarter of it low)."""
        self._buffer.set_limits(high, low)

    def feed_closing(self) -> None:
        """Mark the stream closing: buffered messages are still read, then ``ZmqStreamClosed``."""
        self._closing = self._buffer.closed = self._events.closed = True
        self._wake_reader()
        self._events.wake()
        self._fail_thread_writes("cannot write: the stream is closed")

    def transport_closed(self, error: Exception | None, *, drop_unread: bool) -> None:
        """The transport ended: store ``error`` if it failed, drop the messages and events
        nobody will read if ``drop_unread`` (``close()``, a failure), and close the stream.

        Called by a ``ZmqTransport`` (its socket closed behind its back keeps them readable).
        """
        if error is not None:
            self.set_exception(error)
        if drop_unread:
            self._buffer.clear()
            self._events.clear()
        self.feed_closing()

    def feed_msg(self, msg: list[FrameT]) -> None:
        """Append ``msg`` to the read buffer and wake a pending ``read()``.

        Ignored once the stream is closing.
        """
        size = message_size(msg)
        self._buffer.feed([msg], [size], size)
        self._wake_reader()  # a read() may be waiting on a claimed receive

    def feed_event(self, event: SocketEvent) -> None:
        """Append a monitor event; beyond ``events_backlog`` unread ones, the oldest is dropped."""
        self._events.put(event)

    # ------------------------------------------------------------------ private

    def _take_thread_writes(self) -> None:
        """``write_threadsafe()``'s half in the loop: write what threads gave, in order, and
        settle each future once the buffer is drained (``BATCH`` per turn of the loop)."""
        self._from_threads_scheduled = False  # before taking: a later append schedules again
        queue = self._from_threads
        for _ in range(BATCH):
            if not queue:
                return
            frames, future = queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # the thread cancelled it first: not sent
            try:
                self.write(frames)
            except Exception as exc:
                future.set_exception(exc)
                continue
            waiter = self._writer.drain_waiter() if self._writer is not None else None
            if waiter is None:
                future.set_result(None)
            else:
                waiter.add_done_callback(functools.partial(_settle, future))
        self._from_threads_scheduled = True  # more than a batch: go on after the others
        asyncio.get_running_loop().call_soon(self._take_thread_writes)

    def _fail_thread_writes(self, reason: str) -> None:
        """Give every message still waiting for the loop ``ZmqStreamClosed(reason)``."""
        while self._from_threads:
            try:
                _frames, future = self._from_threads.popleft()
            except IndexError:  # another thread took the last one
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(ZmqStreamClosed(reason))

    def _wake_reader(self) -> None:
        """Make a pending ``read()`` look at the buffer and the state again."""
        self._buffer.wake()
        if self._reading and self._reader is not None:
            self._reader.interrupt()


def _settle(future: concurrent.futures.Future[None], waiter: asyncio.Future[None]) -> None:
    """Give a thread's ``write_threadsafe()`` future the outcome of its drain ``waiter``."""
    if waiter.cancelled():
        future.set_exception(ZmqStreamClosed("the stream's event loop stopped before the flush"))
    elif (error := waiter.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(None)
