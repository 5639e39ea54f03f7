"""Exceptions raised by zmqstreams, and the one place ZeroMQ errors are translated.

Tree::

    Exception
     └── ZmqStreamClosed        read/write on a stream that was closed
    OSError                     a ZeroMQ failure; ``errno`` is the ZeroMQ errno

Socket failures surface as plain ``OSError`` (with the ZeroMQ ``errno`` and message), as aiozmq
users expect, so ``except OSError`` keeps working after the import change.
"""

from __future__ import annotations

import zmq

from ._frames import TornMessage

__all__ = ("ZmqStreamClosed", "option_name", "os_error", "stream_error")


class ZmqStreamClosed(Exception):
    """Raised by read operations (and ``write()``) on a stream that was closed."""

    def __init__(self, message: str = "the stream is closed") -> None:
        super().__init__(message)


def os_error(exc: zmq.ZMQError, context: str = "") -> OSError:
    """Return an ``OSError`` carrying ``exc``'s ZeroMQ errno, with ``exc`` as its cause.

    ``context`` (an endpoint or option name) is prefixed to the message so the error says what
    was being done.
    """
    # zmq.strerror() rather than exc.strerror: pyzmq appends the endpoint to the latter, and
    # ``context`` already names it.
    reason = zmq.strerror(exc.errno) if exc.errno is not None else str(exc)
    message = f"{context}: {reason}" if context else reason
    error = OSError(exc.errno, message)
    error.__cause__ = exc
    return error


def stream_error(exc: Exception, action: str) -> Exception:
    """The error a stream stores when ``action`` (``"read"``, ``"write"``) failed with ``exc``.

    A ZeroMQ error becomes an ``OSError`` (see ``os_error``), also one met after part of a
    message was sent; any other exception (a bug) is returned as it is, so that ``read()``
    raises it instead of waiting for a task that is gone.
    """
    if isinstance(exc, TornMessage) and isinstance(exc.error, zmq.ZMQError):
        return os_error(exc.error, f"{action} (after part of a message was sent)")
    if isinstance(exc, zmq.ZMQError):
        return os_error(exc, action)
    return exc


def option_name(option: int) -> str:
    """``zmq.LINGER`` -> ``"LINGER"``, for messages; a number libzmq lacks stays a number."""
    try:
        return zmq.SocketOption(option).name or str(option)
    except ValueError:
        return str(option)
