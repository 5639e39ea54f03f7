"""The high/low watermark rules shared by the read and the write buffers."""

from __future__ import annotations

from collections.abc import Sequence, Sized

__all__ = ("DEFAULT_HIGH", "message_size", "resolve_watermarks")

#: High watermark, in bytes, when neither limit is given (low is a quarter of it).
DEFAULT_HIGH = 64 * 1024


def resolve_watermarks(high: int | None, low: int | None, what: str) -> tuple[int, int]:
    """Return ``(high, low)`` from user values, with aiozmq's defaults.

    ``None`` for both gives 64 KiB / 16 KiB; ``low`` alone gives ``high = 4 * low``; ``high``
    alone gives ``low = high // 4``.  ``what`` names the limits in error messages.
    """
    for name, value in (("high", high), ("low", low)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"{what} {name} watermark must be an int or None, got {value!r}")
    if high is None:
        high = DEFAULT_HIGH if low is None else 4 * low
    if low is None:
        low = high // 4
    if low < 0:
        raise ValueError(f"{what} low watermark must be >= 0, got {low}")
    if high < low:
        raise ValueError(f"{what} high watermark ({high}) must be >= low watermark ({low})")
    return high, low


def message_size(frames: Sequence[Sized]) -> int:
    """Bytes a message counts against a watermark: its payload, and at least 1.

    A frame's ``len()`` is its size in bytes for ``bytes`` and ``zmq.Frame`` alike.

    Counting an empty message as one byte keeps a flood of ``[b""]`` bounded.
    """
    return sum(map(len, frames)) or 1
