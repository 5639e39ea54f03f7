"""Checking the messages handed to ``write()``."""

from __future__ import annotations

from typing import Any

__all__ = ("Frames", "check_message", "own_frames")

#: A message as accepted by ``write()``: a list or tuple of bytes-like frames.
Frames = list[bytes] | tuple[bytes, ...]


def check_message(msg: Any) -> int:
    """Return the watermark size of ``msg``, or raise ``TypeError`` saying what is wrong with it.

    A message is a non-empty list or tuple of ``bytes``, ``bytearray`` or ``memoryview`` frames.
    """
    if not isinstance(msg, (list, tuple)):
        raise TypeError(
            f"msg must be a list or tuple of bytes frames, got {type(msg).__name__}"
        )
    if not msg:
        raise TypeError("msg must contain at least one frame, got an empty sequence")
    size = 0
    for index, frame in enumerate(msg):
        kind = type(frame)
        if kind is bytes or kind is bytearray:
            size += len(frame)
        elif kind is memoryview:
            size += frame.nbytes
        elif isinstance(frame, (bytes, bytearray)):
            size += len(frame)
        else:
            raise TypeError(
                f"frame {index} of msg must be bytes, bytearray or memoryview, "
                f"got {type(frame).__name__}"
            )
    return size or 1


def own_frames(msg: Frames) -> tuple[bytes, ...]:
    """Copy the frames the caller may still mutate (``bytearray``, ``memoryview``)."""
    return tuple(frame if type(frame) is bytes else bytes(frame) for frame in msg)
