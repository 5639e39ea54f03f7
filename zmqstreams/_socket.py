"""Two views of one libzmq socket: an awaitable one for readiness, a plain one for I/O.

The background tasks await readiness on the ``zmq.asyncio`` view (``poll`` consumes nothing, so
cancelling it loses nothing) and then send and receive without waiting on the synchronous view.
This module opens or adopts a socket and closes it in the order pyzmq and libzmq need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio

from ._errors import os_error

__all__ = ("DEFAULT_LINGER", "OwnerWatch", "SocketViews", "ZmqSocket", "open_socket", "readiness")

#: LINGER (ms) given to sockets that zmqstreams creates: unsent data is kept for at most this
#: long after ``close()``, so a program with an unreachable peer still ends.
DEFAULT_LINGER = 1000

ZmqSocket = zmq.Socket[Any]

#: How often (s) ``OwnerWatch`` checks that a caller's synchronous socket is still open.
_OWNER_CHECK_S = 0.2


def readiness(sock: zmq.asyncio.Socket, flag: int) -> Callable[..., Awaitable[Any]]:
    """Return a function whose awaitable ends when ``sock`` is ready for ``flag``.

    It takes an optional timeout in ms, after which it ends anyway.

    A ``zmq.asyncio.Poller`` kept for the task's lifetime: it consumes nothing (cancelling its
    wait is always safe) and costs one future less per wait than ``Socket.poll()``.
    """
    poller = zmq.asyncio.Poller()
    poller.register(sock, flag)
    return poller.poll


def _unwatch_without_closing(sock: zmq.asyncio.Socket) -> None:
    """Remove ``sock``'s fd watcher from the event loop, leaving its libzmq handle open.

    pyzmq has no public call for this: ``zmq.asyncio.Socket.close()`` does it and then closes
    the handle too, even for a wrapper made with ``from_socket()`` that does not own it.  So we
    call the private ``_clear_io_state()`` that ``close()`` itself uses (as of pyzmq 27), here
    and nowhere else.
    """
    sock._clear_io_state()  # type: ignore[no-untyped-call]


class SocketViews:
    """The async and sync views of one socket, and the object that owns its libzmq handle."""

    __slots__ = ("async_sock", "owner", "sync_sock")

    def __init__(self, owner: ZmqSocket) -> None:
        #: The object that owns the handle: closing it frees the socket.
        self.owner = owner
        #: Awaitable view: ``poll()`` and pyzmq's fd watcher live here.
        self.async_sock: zmq.asyncio.Socket = (
            owner
            if isinstance(owner, zmq.asyncio.Socket)
            else zmq.asyncio.Socket.from_socket(owner)
        )
        #: Non-owning synchronous view of the same handle, for non-blocking send and recv.
        self.sync_sock: ZmqSocket = zmq.Socket.shadow(owner.underlying)

    @property
    def closed(self) -> bool:
        return bool(self.owner.closed)

    def monitor(self, events: int, addr: str) -> SocketViews:
        """Start libzmq's monitor on ``addr`` and return the views of the connected PAIR."""
        return SocketViews(self.owner.get_monitor_socket(events, addr))

    @property
    def owner_is_async(self) -> bool:
        """False when the handle belongs to a caller's synchronous socket.

        Closing such a socket cancels nothing on our async wrapper, so whoever waits on the
        wrapper must re-check ``closed`` now and then.
        """
        return self.owner is self.async_sock

    def close(self, linger: int | None = None) -> None:
        """Unregister from the loop, then close the handle once, through its owner."""
        if self.owner is not self.async_sock:
            # Closing the non-owning async wrapper would free the handle under the owner's
            # feet; drop only the wrapper's loop registration (even if the owner was closed
            # behind our back, so a reused fd number is not confused with this one).
            _unwatch_without_closing(self.async_sock)
        if not self.owner.closed:
            self.owner.close(linger=linger)


class OwnerWatch:
    """Calls ``lost`` once a caller's synchronous socket is closed behind our back.

    Closing a plain ``zmq.Socket`` cancels nothing on our ``zmq.asyncio`` wrapper, so a pending
    receive would otherwise wait forever: we look every ``_OWNER_CHECK_S`` until cancelled.
    """

    __slots__ = ("_handle", "_lost", "_views")

    def __init__(self, views: SocketViews, lost: Callable[[], None]) -> None:
        self._views = views
        self._lost = lost
        self._handle = asyncio.get_running_loop().call_later(_OWNER_CHECK_S, self._check)

    def cancel(self) -> None:
        self._handle.cancel()

    def _check(self) -> None:
        if self._views.closed:
            self._lost()
        else:
            self._handle = asyncio.get_running_loop().call_later(_OWNER_CHECK_S, self._check)


def open_socket(zmq_type: int, zmq_sock: ZmqSocket | None) -> SocketViews:
    """Create a socket of ``zmq_type`` in the global context, or adopt ``zmq_sock``.

    Sockets we create live in ``zmq.Context.instance()``, so inproc endpoints work with plain
    pyzmq sockets of the same process, and get LINGER = ``DEFAULT_LINGER``.
    """
    if isinstance(zmq_type, bool) or not isinstance(zmq_type, int):
        raise TypeError(f"zmq_type must be an int such as zmq.DEALER, got {zmq_type!r}")
    if zmq_sock is None:
        context = zmq.asyncio.Context(zmq.Context.instance())
        try:
            sock = context.socket(zmq_type)
        except zmq.ZMQError as exc:
            raise os_error(exc, f"zmq_type {zmq_type}") from exc
        sock.setsockopt(zmq.LINGER, DEFAULT_LINGER)
        return SocketViews(sock)
    if not isinstance(zmq_sock, zmq.Socket):
        raise TypeError(f"zmq_sock must be a zmq.Socket, got {type(zmq_sock).__name__}")
    try:
        actual = zmq_sock.getsockopt(zmq.TYPE)
    except zmq.ZMQError as exc:
        raise os_error(exc, "zmq_sock") from exc
    if actual != zmq_type:
        raise ValueError(f"zmq_sock is of type {actual!r}, not the zmq_type {zmq_type} asked for")
    return SocketViews(zmq_sock)
