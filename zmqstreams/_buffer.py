"""ReadBuffer: the messages a stream holds between the socket and ``read()``.

It knows nothing about ZeroMQ.  Two sides use it:

* the **feeding side** (the transport's reader, or ``ZmqStream.feed_msg()``) calls ``room()``
  and ``feed()``;
* the **reading side** (``ZmqStream.read()``) calls ``pop()``, ``wait()`` and ``wake()``.

Crossing the high watermark calls ``flow(True)``, falling back to the low one ``flow(False)``:
the stream points ``flow`` at whatever stops and restarts intake (the reader, or a foreign
transport's ``pause_reading()``/``resume_reading()``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

from ._frames import Message
from ._statistics import ReadBufferStatistics
from ._tasks import Wakeup
from ._watermarks import resolve_watermarks

__all__ = ("ReadBuffer",)


def _no_flow(paused: bool) -> None:
    """``flow`` until the stream has a transport: nothing to pause."""


class ReadBuffer:
    """Unread messages, oldest first, with their byte count, watermarks and one waiter."""

    __slots__ = (
        "_bytes_kept",
        "_high",
        "_low",
        "_messages_kept",
        "_paused",
        "_queue",
        "_size",
        "_sizes",
        "_wakeup",
        "closed",
        "flow",
    )

    def __init__(self, high: int | None = None, low: int | None = None) -> None:
        self._high, self._low = resolve_watermarks(high, low, "read")
        #: The messages, and beside them each one's watermark size (two deques rather than one
        #: of pairs: a pair per message would be one more object for the garbage collector).
        self._queue: deque[Message] = deque()
        self._sizes: deque[int] = deque()
        #: Sum of ``_sizes``.
        self._size = 0
        #: True from crossing the high watermark until falling back to the low one.
        self._paused = False
        #: Ends a pending ``wait()``.
        self._wakeup = Wakeup()
        #: Called with True when intake should stop, with False when it may resume.
        self.flow: Callable[[bool], None] = _no_flow
        #: Once True, ``feed()`` drops what it is given (the stream is closing).
        self.closed = False
        #: Messages (and bytes) fed and not dropped by ``clear()``, counted per batch: those
        #: read are these minus the buffered ones (see ``messages_read``), so ``pop()`` counts
        #: nothing.
        self._messages_kept = self._bytes_kept = 0

    def __len__(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ feeding side

    def room(self) -> int:
        """Bytes that may still come in before the high watermark (negative: above it)."""
        return self._high - self._size

    def feed(self, messages: list[Message], sizes: list[int], total: int) -> None:
        """Append ``messages``, whose watermark ``sizes`` add up to ``total``; wake the waiter.

        One call per batch: one wake-up and one watermark check, however many messages.
        Ignored once ``closed``.
        """
        if self.closed:
            return
        self._queue.extend(messages)
        self._sizes.extend(sizes)
        self._size += total
        self._messages_kept += len(messages)
        self._bytes_kept += total
        self._wakeup.wake()
        if not self._paused and self._size > self._high:
            self._set_paused(True)

    # ------------------------------------------------------------------ reading side

    def pop(self) -> Message | None:
        """Remove and return the oldest message, or ``None`` if there is none."""
        queue = self._queue
        if not queue:
            return None
        self._size -= self._sizes.popleft()
        if self._paused and self._size <= self._low:
            self._set_paused(False)
        return queue.popleft()

    def wait(self) -> Awaitable[None]:
        """Wait until ``feed()`` or ``wake()`` is called.  Cancelling it is safe."""
        return self._wakeup.wait()

    def wake(self) -> None:
        """End a pending ``wait()`` (the buffer or the stream's state changed)."""
        self._wakeup.wake()

    def clear(self) -> None:
        """Drop every unread message (the stream closed; nobody will read them)."""
        self._messages_kept -= len(self._queue)
        self._bytes_kept -= self._size
        self._queue.clear()
        self._sizes.clear()
        self._size = 0

    # ------------------------------------------------------------------ limits and views

    @property
    def limits(self) -> tuple[int, int]:
        """``(low, high)``, the watermarks in bytes (the order of the write side's)."""
        return self._low, self._high

    def set_limits(self, high: int | None, low: int | None) -> None:
        """Set the watermarks (aiozmq's defaults, see ``resolve_watermarks``) and re-check."""
        self._high, self._low = resolve_watermarks(high, low, "read")
        if self._paused and self._size <= self._low:
            self._set_paused(False)
        elif not self._paused and self._size > self._high:
            self._set_paused(True)

    @property
    def paused(self) -> bool:
        """True while above the high watermark (until falling back to the low one)."""
        return self._paused

    @property
    def messages_read(self) -> int:
        """Messages ``pop()`` returned so far."""
        return self._messages_kept - len(self._queue)

    @property
    def bytes_read(self) -> int:
        """Their watermark sizes' sum."""
        return self._bytes_kept - self._size

    def statistics(self) -> ReadBufferStatistics:
        return ReadBufferStatistics(
            len(self._queue), self._size, self.messages_read, self.bytes_read
        )

    def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.flow(paused)
