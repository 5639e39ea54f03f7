"""StreamStatistics: a cheap snapshot of a stream's buffers and totals."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ("StreamStatistics",)


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
