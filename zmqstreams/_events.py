"""Monitor events: the value type, its decoding from monitor frames, and the queue of unread
ones that ``read_event()`` takes from (no I/O here).
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import NamedTuple

import zmq
from zmq.utils.monitor import parse_monitor_message

from ._tasks import Wakeup

__all__ = ("EventQueue", "SocketEvent")

logger = logging.getLogger("zmqstreams")

#: Frame 0 of a v1 monitor message: unsigned 16-bit event id, 32-bit value, native order.
_HEADER = struct.Struct("=Hi")


class SocketEvent(NamedTuple):
    """One ZeroMQ socket monitor event, as returned by ``ZmqStream.read_event()``.

    A named tuple, so ``event, value, endpoint = ev`` works as it did with aiozmq.
    """

    #: What happened (``zmq.Event.CONNECTED``, ``zmq.Event.DISCONNECTED``, ...).
    event: zmq.Event
    #: The event's value: a file descriptor, an errno, a reconnect interval or a ZAP status code.
    value: int
    #: The endpoint the event is about, e.g. ``"tcp://127.0.0.1:5555"``.
    endpoint: str

    @classmethod
    def parse(cls, frames: Sequence[bytes]) -> SocketEvent:
        """Decode the two frames of a libzmq (v1) monitor message.

        Raises ``RuntimeError`` (from pyzmq's decoder) when the frames are not a monitor message.
        """
        fields = parse_monitor_message(list(frames))  # validates the frame layout
        # pyzmq casts ``value`` to zmq.Event: meaningless for an fd or an errno, and lossy for
        # a negative value; so the numbers are read again from the frame it just validated.
        event_id, value = _HEADER.unpack(frames[0])
        return cls(zmq.Event(event_id), value, bytes(fields["endpoint"]).decode("utf-8", "replace"))


class EventQueue:
    """Unread events, oldest first: beyond ``backlog`` of them, the oldest is dropped.

    Fed by the transport's monitor (or ``ZmqStream.feed_event()``) with ``put()``; emptied by
    ``read_event()`` with ``pop()`` and ``wait()``.
    """

    __slots__ = ("_events", "_wakeup", "closed", "dropped")

    def __init__(self, backlog: int | None) -> None:
        if backlog is not None and (not isinstance(backlog, int) or isinstance(backlog, bool)):
            raise TypeError(f"events_backlog must be an int or None, got {backlog!r}")
        if backlog is not None and backlog < 1:
            raise ValueError(f"events_backlog must be >= 1 or None, got {backlog}")
        self._events: deque[SocketEvent] = deque(maxlen=backlog)
        #: Ends a pending ``wait()``.
        self._wakeup = Wakeup()
        #: Once True, ``put()`` drops what it is given (the stream is closing).
        self.closed = False
        #: Events discarded because ``backlog`` was exceeded.
        self.dropped = 0

    def put(self, event: SocketEvent) -> None:
        """Append ``event`` (logging a warning per 1000 dropped ones) and wake the waiter."""
        if self.closed:
            return
        if len(self._events) == self._events.maxlen:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.warning(
                    "monitor events are being dropped (%d so far): read_event() is not keeping "
                    "up with events_backlog=%d",
                    self.dropped,
                    self._events.maxlen,
                )
        self._events.append(event)
        self._wakeup.wake()

    def pop(self) -> SocketEvent | None:
        """Remove and return the oldest event, or ``None`` if there is none."""
        return self._events.popleft() if self._events else None

    @property
    def waiting(self) -> bool:
        """True while a ``wait()`` is pending."""
        return self._wakeup.waiting

    def wait(self) -> Awaitable[None]:
        """Wait until ``put()`` or ``wake()`` is called.  Cancelling it is safe."""
        return self._wakeup.wait()

    def wake(self) -> None:
        self._wakeup.wake()

    def clear(self) -> None:
        self._events.clear()
