"""StreamStatistics: a cheap snapshot of a stream's buffers and totals.

``ZmqStream.statistics()`` assembles it from the small read-only views below, one for each part
that keeps counts: the read buffer and the writer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = (
    "NO_WRITER",
    "ReadBufferStatistics",
    "StreamStatistics",
    "WriterStatistics",
    "assemble",
)


@dataclass(frozen=True, slots=True)
class StreamStatistics:
    """What ``ZmqStream.statistics()`` returns; sizes are watermark bytes."""

    #: Messages received from the socket and not yet returned by ``read()``.
    read_buffer_messages: int
    #: Their size in bytes (an empty message counts as one).
    read_buffer_bytes: int
    #: Messages accepted by ``write()`` that the socket has not taken yet.
    write_buffer_messages: int
    #: Their size in bytes.
    write_buffer_bytes: int
    #: True while the reader is not taking messages (read buffer full or ``pause_reading()``).
    reading_paused: bool
    #: Messages returned by ``read()`` so far.
    messages_read: int
    #: Their size in bytes.
    bytes_read: int
    #: Messages the socket took so far: sent at once by ``write()`` or later from the write
    #: buffer.  Messages still buffered, refused or dropped by ``abort()`` are not counted.
    messages_written: int
    #: Their size in bytes.
    bytes_written: int
    #: Messages ``write()`` buffered that the socket then refused (e.g. ``EHOSTUNREACH`` once
    #: a ROUTER_MANDATORY peer is gone): dropped with a warning on the ``zmqstreams`` logger.
    #: A message refused at once is not counted: ``write()`` raised ``OSError`` for it.
    messages_refused: int
    #: Unread monitor events discarded because ``events_backlog`` was exceeded.
    events_dropped: int


@dataclass(frozen=True, slots=True)
class ReadBufferStatistics:
    """The read buffer's part of ``StreamStatistics`` (see the fields of the same meaning)."""

    messages: int
    bytes: int
    messages_read: int
    bytes_read: int


@dataclass(frozen=True, slots=True)
class WriterStatistics:
    """The writer's part of ``StreamStatistics`` (see the fields of the same meaning)."""

    messages: int
    bytes: int
    messages_written: int
    bytes_written: int
    messages_refused: int


#: What a stream without a ``ZmqTransport`` reports for its write side.
NO_WRITER = WriterStatistics(0, 0, 0, 0, 0)


def assemble(
    read: ReadBufferStatistics,
    write: WriterStatistics,
    *,
    reading_paused: bool,
    events_dropped: int,
) -> StreamStatistics:
    """Build a stream's snapshot from its parts' views."""
    return StreamStatistics(
        read_buffer_messages=read.messages,
        read_buffer_bytes=read.bytes,
        write_buffer_messages=write.messages,
        write_buffer_bytes=write.bytes,
        reading_paused=reading_paused,
        messages_read=read.messages_read,
        bytes_read=read.bytes_read,
        messages_written=write.messages_written,
        bytes_written=write.bytes_written,
        messages_refused=write.messages_refused,
        events_dropped=events_dropped,
    )
