"""Message shapes, and how every receiver proves it got each message intact and in order.

Every frame starts with the message's sequence number (8 bytes, big-endian) followed by a fixed
filler, so a receiver checks order, frame count, frame sizes and content with a few C-level
calls per message.  The same cost is paid by every contender: frames of a large shape are
checked through a ``memoryview`` whether they arrive as ``bytes`` or as ``zmq.Frame`` (which
is never copied for it), those of a small shape, which always arrive as ``bytes``, directly.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

__all__ = ("QUEUE_BYTES", "SEQ", "SHAPES", "Shape")

#: The sequence number at the start of every frame.
SEQ = struct.Struct(">Q")

#: ZeroMQ's default high-water mark, in messages.
_DEFAULT_HWM = 1000
#: A ZeroMQ queue of a workload holds at most this many bytes: large frames get a lower
#: high-water mark than ZeroMQ's default (1000 messages, as many bytes for 64 KiB frames).
QUEUE_BYTES = 64 * 1024 * 1024


#: The filler repeats every 256 bytes.
_PERIOD = bytes((i * 7 + 3) & 0xFF for i in range(256))


@functools.cache
def _filler(length: int) -> bytes:
    """The ``length`` bytes after a frame's sequence number; made when a shape is first used,
    once per process (16 MiB for the largest)."""
    return (_PERIOD * (length // len(_PERIOD) + 1))[:length]


@dataclass(frozen=True)
class Shape:
    """A message shape: ``frames`` frames of ``size`` bytes each (``size`` >= 8)."""

    name: str
    frames: int
    size: int

    def __post_init__(self) -> None:
        if self.size < SEQ.size:
            raise ValueError("frames must hold the 8-byte sequence number")

    @property
    def _filler(self) -> bytes:
        return _filler(self.size - SEQ.size)

    @property
    def message_bytes(self) -> int:
        return self.frames * self.size

    @property
    def large(self) -> bool:
        """Frames at or above pyzmq's copy threshold, where sending without a copy pays."""
        return self.size >= zmq.COPY_THRESHOLD

    @property
    def hwm(self) -> int:
        """SNDHWM and RCVHWM for this shape: ZeroMQ's default, or less so that a queue holds
        at most ``QUEUE_BYTES`` (1000 of 64 KiB, 64 of 1 MiB, 4 of 16 MiB)."""
        return max(1, min(_DEFAULT_HWM, QUEUE_BYTES // self.message_bytes))

    @property
    def label(self) -> str:
        """The frame size in words: "4 KiB", "1 MiB"."""
        for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if self.size >= scale and self.size % scale == 0:
                return f"{self.size // scale} {unit}"
        return f"{self.size} B"

    def maker(self) -> Callable[[int], list[bytes]]:
        """Return ``make(seq)``, building message number ``seq``."""
        pack, filler, count = SEQ.pack, self._filler, self.frames
        if count == 1:
            return lambda seq: [pack(seq) + filler]
        return lambda seq: [pack(seq) + filler] * count

    def checker(self) -> Callable[[list[Any], int], bool]:
        """Return ``check(msg, seq)``: True if ``msg`` is exactly message number ``seq``.

        Frames of a large shape may be ``bytes`` or ``zmq.Frame``: both are read through a
        ``memoryview``, and the filler compared with one ``memcmp``, as ``bytes.endswith``
        does for the small shapes (whose check stays free of the view's few hundred ns).
        """
        unpack, filler, count, size = SEQ.unpack_from, self._filler, self.frames, self.size
        head = SEQ.size

        def check(msg: list[bytes], seq: int) -> bool:
            if len(msg) != count:
                return False
            for frame in msg:
                if len(frame) != size or unpack(frame)[0] != seq or not frame.endswith(filler):
                    return False
            return True

        def check_buffers(msg: list[Any], seq: int) -> bool:
            if len(msg) != count:
                return False
            for frame in msg:
                view = memoryview(frame)
                if view.nbytes != size or unpack(view)[0] != seq:
                    return False
                if not filler.startswith(view[head:]):  # the lengths match: equality
                    return False
            return True

        return check_buffers if self.large else check


#: The shapes the workloads use, by name.
SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        Shape("64B", 1, 64),
        Shape("3x1KiB", 3, 1024),
        Shape("64KiB", 1, 64 * 1024),
        Shape("1MiB", 1, 1024 * 1024),
        Shape("16MiB", 1, 16 * 1024 * 1024),
        Shape("4KiB", 1, 4 * 1024),
    )
}
