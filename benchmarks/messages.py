"""Message shapes, and how every receiver proves it got each message intact and in order.

Every frame starts with the message's sequence number (8 bytes, big-endian) followed by a fixed
filler, so a receiver checks order, frame count, frame sizes and content with a few C-level
calls per message.  The same cost is paid by every contender.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ("SHAPES", "Shape")

_SEQ = struct.Struct(">Q")


@dataclass(frozen=True)
class Shape:
    """A message shape: ``frames`` frames of ``size`` bytes each (``size`` >= 8)."""

    name: str
    frames: int
    size: int
    _filler: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.size < _SEQ.size:
            raise ValueError("frames must hold the 8-byte sequence number")
        filler = bytes((i * 7 + 3) & 0xFF for i in range(self.size - _SEQ.size))
        object.__setattr__(self, "_filler", filler)

    @property
    def message_bytes(self) -> int:
        return self.frames * self.size

    def maker(self) -> Callable[[int], list[bytes]]:
        """Return ``make(seq)``, building message number ``seq``."""
        pack, filler, count = _SEQ.pack, self._filler, self.frames
        if count == 1:
            return lambda seq: [pack(seq) + filler]
        return lambda seq: [pack(seq) + filler] * count

    def checker(self) -> Callable[[list[bytes], int], bool]:
        """Return ``check(msg, seq)``: True if ``msg`` is exactly message number ``seq``."""
        unpack, filler, count, size = _SEQ.unpack_from, self._filler, self.frames, self.size

        def check(msg: list[bytes], seq: int) -> bool:
            if len(msg) != count:
                return False
            for frame in msg:
                if len(frame) != size or unpack(frame)[0] != seq or not frame.endswith(filler):
                    return False
            return True

        return check


#: The shapes the workloads use, by name.
SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        Shape("64B", 1, 64),
        Shape("3x1KiB", 3, 1024),
        Shape("64KiB", 1, 64 * 1024),
        Shape("4KiB", 1, 4 * 1024),
    )
}
