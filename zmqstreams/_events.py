"""Monitor events: the value type and its decoding from monitor frames (no I/O here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import zmq
from zmq.utils.monitor import parse_monitor_message

__all__ = ("SocketEvent",)


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
        fields = parse_monitor_message(list(frames))
        # pyzmq casts ``value`` to zmq.Event, which is meaningless for an fd or an errno.
        return cls(
            zmq.Event(fields["event"]),
            int(fields["value"]),
            bytes(fields["endpoint"]).decode("utf-8", "replace"),
        )
