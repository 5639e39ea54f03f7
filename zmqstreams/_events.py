"""Monitor events: the value type and its decoding from monitor frames (no I/O here)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

import zmq
from zmq.utils.monitor import parse_monitor_message

__all__ = ("SocketEvent",)

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
