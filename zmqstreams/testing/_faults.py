"""Fault injection: make a stream's socket fail where libzmq rarely or never does.

Most failures a stream must survive can be provoked with real sockets: close the socket behind
the stream's back, terminate its context, let the peer leave, fill its queues.  A few cannot: a
send that fails after part of a multipart message was taken (libzmq 4.3 refuses messages at
their first frame only), or an exception of a kind that means a bug.  ``socket_faults()``
replaces the synchronous ``send`` and ``recv`` that the stream calls on its socket, so a test
can provoke those, and puts them back when the block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import zmq

from .._stream import ZmqStream

__all__ = ("SocketFaults", "socket_faults")


class SocketFaults:
    """The faults a ``socket_faults()`` block injects into one stream's socket."""

    def __init__(self, send: Callable[..., Any], recv: Callable[..., Any]) -> None:
        self._real_send, self._real_recv = send, recv
        #: Frames the failing ``send`` took before it failed (see ``fail_sends``).
        self.sent: list[Any] = []
        #: What the stream calls for each frame it sends (``send(frame, flags, copy=...)``) and
        #: for each frame it receives without waiting: the socket's own, until replaced here or
        #: by the test (a wrapper that records the calls, say).
        self.send: Callable[..., Any] = send
        self.recv: Callable[..., Any] = recv

    def fail_sends(self, errno: int, *, after_frames: int = 0) -> None:
        """From now on, ``send`` takes ``after_frames`` more frames (kept in ``sent``, not sent)
        and then fails every call with ``zmq.ZMQError(errno)`` (``zmq.Again`` for ``EAGAIN``).

        ``after_frames=1`` with a multipart message fails after its first frame was taken,
        which a stream must treat as a torn message.
        """

        def send(frame: Any, flags: int = 0, copy: bool = True) -> None:
            if len(self.sent) >= after_frames:
                raise zmq.Again() if errno == zmq.EAGAIN else zmq.ZMQError(errno)
            self.sent.append(frame)

        self.send = send

    def fail_receives(self, error: BaseException) -> None:
        """From now on, every non-blocking ``recv`` the stream makes raises ``error``."""

        def recv(*args: Any, **kwargs: Any) -> Any:
            raise error

        self.recv = recv


@contextlib.contextmanager
def socket_faults(stream: ZmqStream[Any]) -> Iterator[SocketFaults]:
    """Within the block, the stream's synchronous socket calls go through a ``SocketFaults``.

    Example::

        with socket_faults(stream) as faults:
            faults.fail_sends(zmq.EHOSTUNREACH, after_frames=1)
            with pytest.raises(OSError):
                stream.write([b"torn", b"message"])  # the stream ends: it cannot be undone

    Receives that pyzmq makes for the stream's awaited receive futures are pyzmq's own and go
    on as before; the stream's batches of ready messages use the replaced ``recv``.
    """
    transport = stream.transport
    if transport is None:
        raise ValueError("socket_faults() needs an open stream")
    views = transport.views
    faults = SocketFaults(views.send, views.recv)
    views.send = lambda *args, **kwargs: faults.send(*args, **kwargs)
    views.recv = lambda *args, **kwargs: faults.recv(*args, **kwargs)
    try:
        yield faults
    finally:
        views.send, views.recv = faults._real_send, faults._real_recv
