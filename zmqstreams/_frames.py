"""Checking, copying and sending the messages handed to ``write()``."""

from __future__ import annotations

from typing import Any

import zmq

__all__ = ("Frames", "check_message", "own_frames", "send_now")

#: A message as accepted by ``write()``: a list or tuple of bytes-like frames.
Frames = list[bytes] | tuple[bytes, ...]

_NOBLOCK = zmq.NOBLOCK
_NOBLOCK_MORE = zmq.NOBLOCK | zmq.SNDMORE


def check_message(msg: Any) -> tuple[int, bool]:
    """Return ``(size, all_bytes)`` for ``msg``, or raise ``TypeError`` saying what is wrong.

    A message is a non-empty list or tuple of ``bytes``, ``bytearray`` or ``memoryview``
    frames.  ``size`` counts against the write watermarks (at least 1); ``all_bytes`` tells
    whether the frames can be kept as they are (nothing the caller could mutate).
    """
    if not isinstance(msg, (list, tuple)):
        raise TypeError(f"msg must be a list or tuple of bytes frames, got {type(msg).__name__}")
    if len(msg) == 1 and type(msg[0]) is bytes:  # the common case, checked first
        return len(msg[0]) or 1, True
    if not msg:
        raise TypeError("msg must contain at least one frame, got an empty sequence")
    size = 0
    all_bytes = True
    for index, frame in enumerate(msg):
        if isinstance(frame, bytes):
            size += len(frame)
        elif isinstance(frame, bytearray):
            size += len(frame)
            all_bytes = False
        elif isinstance(frame, memoryview):
            size += frame.nbytes
            all_bytes = False
        else:
            raise TypeError(
                f"frame {index} of msg must be bytes, bytearray or memoryview, "
                f"got {type(frame).__name__}"
            )
    return size or 1, all_bytes


def own_frames(msg: Frames, all_bytes: bool) -> tuple[bytes, ...]:
    """Return frames safe to keep: copies of those the caller may still mutate."""
    if all_bytes:
        return tuple(msg)
    return tuple(frame if type(frame) is bytes else bytes(frame) for frame in msg)


def send_now(sock: zmq.Socket[Any], msg: Frames) -> None:
    """Send ``msg`` without blocking; raises ``zmq.Again`` with nothing sent if it cannot.

    ZeroMQ accepts a multipart message atomically: only its first frame can meet the HWM, so
    once that one is taken the rest follow.  (Cheaper than ``send_multipart``.)
    """
    send = sock.send
    last = len(msg) - 1
    if last == 0:
        send(msg[0], _NOBLOCK)
        return
    for index in range(last):
        send(msg[index], _NOBLOCK_MORE)
    send(msg[last], _NOBLOCK)
