"""The one way zmqstreams reaches a libzmq socket: through the object that owns it.

pyzmq refuses any call through a socket object once that object is closed (``ENOTSOCK``), but a
raw handle such as ``zmq.Socket.shadow()`` never learns of it: after ``zmq_close`` libzmq frees
the socket, a new one may be placed at the same address, and a call through the old handle then
sends to or receives from that unrelated socket.  So zmqstreams keeps no raw handle at all:

* synchronous calls (non-blocking ``send``/``recv``, options, endpoints, the monitor switch) are
  made through the owner itself with ``zmq.Socket``'s methods, the synchronous ones even on a
  ``zmq.asyncio.Socket``, so pyzmq checks the owner's closed flag before each;
* the awaitable view (receive futures, readiness polls, the ``EVENTS`` re-arm) is reached only
  through ``SocketViews.waitable()``, which first checks through the owner that the socket is
  alive, because pyzmq's asyncio layer calls libzmq through a handle of its own.

A closed owner thus shows up as ``zmq.ZMQError(ENOTSOCK)`` from whichever call comes next, a
terminated context as ``ETERM``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import resource
from collections.abc import Awaitable, Callable
from types import MethodType
from typing import Any

import zmq
import zmq.asyncio

from ._errors import os_error
from ._socket_types import socket_type_name

__all__ = ("DEFAULT_LINGER", "OwnerWatch", "SocketViews", "ZmqSocket", "open_socket", "readiness")

#: LINGER (ms) given to sockets that zmqstreams creates: unsent data is kept for at most this
#: long after ``close()``, so a program with an unreachable peer still ends.
DEFAULT_LINGER = 1000

ZmqSocket = zmq.Socket[Any]

#: How often (s) ``OwnerWatch`` checks that a caller's synchronous socket is still open.
_OWNER_CHECK_S = 0.2

#: Makes every monitor endpoint unique, so disable/enable cycles never collide.
_monitor_ids = itertools.count()


def _unwatch_without_closing(sock: zmq.asyncio.Socket) -> None:
    """Remove ``sock``'s fd watcher from the event loop, leaving its libzmq handle open.

    pyzmq has no public call for this: ``zmq.asyncio.Socket.close()`` does it and then closes
    the handle too, even for a wrapper made with ``from_socket()`` that does not own it.  So we
    call the private ``_clear_io_state()`` that ``close()`` itself uses (as of pyzmq 27), here
    and nowhere else.  It uses the fd number pyzmq saved, never the handle.
    """
    sock._clear_io_state()  # type: ignore[no-untyped-call]


class SocketViews:
    """The owner of one libzmq socket, its synchronous calls and its guarded awaitable view."""

    __slots__ = ("_async", "owner", "recv", "send")

    def __init__(self, owner: ZmqSocket) -> None:
        #: The object that owns the handle: closing it frees the socket.
        self.owner = owner
        #: Awaitable view: the owner itself, or a ``zmq.asyncio`` wrapper of a plain owner (whose
        #: own calls pyzmq makes through the owner).  Reach it through ``waitable()`` only.
        self._async: zmq.asyncio.Socket = (
            owner
            if isinstance(owner, zmq.asyncio.Socket)
            else zmq.asyncio.Socket.from_socket(owner)
        )
        #: Non-blocking send and receive, refused by pyzmq once the owner is closed.
        self.send: Callable[..., Any] = MethodType(zmq.Socket.send, owner)
        self.recv: Callable[..., Any] = MethodType(zmq.Socket.recv, owner)

    @property
    def closed(self) -> bool:
        return bool(self.owner.closed)

    @property
    def owner_is_async(self) -> bool:
        """False when the handle belongs to a caller's synchronous socket.

        Closing such a socket cancels nothing on our async wrapper, so whoever waits on the
        wrapper must re-check ``closed`` now and then (``OwnerWatch``).
        """
        return self.owner is self._async

    def waitable(self) -> zmq.asyncio.Socket:
        """The awaitable view, once ``owner.closed`` says the handle is still the owner's.

        Raises ``zmq.ZMQError(ENOTSOCK)`` otherwise.  (A terminated context needs no check
        here: pyzmq raises ``ETERM`` as it starts a receive or a poll.)
        """
        if self.owner.closed:
            raise zmq.ZMQError(zmq.ENOTSOCK)
        return self._async

    def check(self) -> None:
        """Raise ``zmq.ZMQError`` unless the socket is alive: ``ENOTSOCK`` once the owner is
        closed, ``ETERM`` once its context is terminated.

        For a wait that was started earlier, which pyzmq never completes once the context is
        terminated.  One ``getsockopt(TYPE)`` through the owner: it processes none of the
        socket's commands, so it consumes no edge.  It costs pyzmq's Python-level ``get()``,
        about ten times ``owner.closed``, which hides ``ETERM``: not for every message.
        """
        zmq.Socket.get(self.owner, zmq.TYPE)

    def rearm(self) -> None:
        """Read ``EVENTS`` through the awaitable view, so pyzmq re-checks its pending futures.

        A synchronous call may have consumed the fd's edge that a pending receive or poll waits
        for.  Nothing to do once the socket is gone (its pending futures end by themselves).
        """
        with contextlib.suppress(zmq.ZMQError):
            self.waitable().get(zmq.EVENTS)

    def get(self, option: int) -> Any:
        return zmq.Socket.get(self.owner, option)

    def set(self, option: int, value: Any) -> None:
        zmq.Socket.set(self.owner, option, value)

    def bind(self, endpoint: str) -> None:
        zmq.Socket.bind(self.owner, endpoint)

    def unbind(self, endpoint: str) -> None:
        zmq.Socket.unbind(self.owner, endpoint)

    def connect(self, endpoint: str) -> None:
        zmq.Socket.connect(self.owner, endpoint)

    def disconnect(self, endpoint: str) -> None:
        zmq.Socket.disconnect(self.owner, endpoint)

    def monitor(self, events: int) -> SocketViews:
        """Start libzmq's monitor and return the views of our PAIR that receives its events.

        The PAIR is created, given ``RCVHWM`` 0 and connected first: libzmq sends events with a
        blocking send, which a full pipe would stall (and every socket of the context with it);
        an inproc pipe whose receiving side has ``RCVHWM`` 0 is unbounded.  The monitor is
        enabled last, so any failure leaves nothing half done.
        """
        context = self.owner.context
        if context is None:
            raise ValueError("enable_monitor(): the socket has no zmq.Context to monitor it in")
        address = f"inproc://zmqstreams.monitor.{next(_monitor_ids)}"
        try:
            pair = zmq.Socket(context, zmq.PAIR)
        except zmq.ZMQError as exc:
            raise too_many_sockets(exc, zmq.PAIR, context) from exc
        try:
            pair.set(zmq.RCVHWM, 0)
            pair.set(zmq.LINGER, 0)
            pair.connect(address)
            zmq.Socket.monitor(self.owner, address, events)
        except BaseException:
            pair.close(linger=0)
            raise
        return SocketViews(pair)

    def disable_monitor(self) -> None:
        zmq.Socket.disable_monitor(self.owner)

    def close(self, linger: int | None = None) -> None:
        """Unregister from the loop, then close the handle once, through its owner."""
        if self.owner is not self._async:
            # Closing the non-owning async wrapper would free the handle under the owner's
            # feet; drop only the wrapper's loop registration (even if the owner was closed
            # behind our back, so a reused fd number is not confused with this one).
            _unwatch_without_closing(self._async)
        if not self.owner.closed:
            self.owner.close(linger=linger)


def readiness(views: SocketViews, flag: int) -> Callable[[], Awaitable[Any]]:
    """Return a function whose awaitable ends when the socket is ready for ``flag``.

    A ``zmq.asyncio.Poller`` kept for the task's lifetime: it consumes nothing (cancelling its
    wait is always safe) and costs one future less per wait than ``Socket.poll()``.  Each wait
    first checks that the socket is still its owner's (``SocketViews.waitable()``).
    """
    poller = zmq.asyncio.Poller()
    poller.register(views.waitable(), flag)
    poll = poller.poll

    def wait() -> Awaitable[Any]:
        views.waitable()
        return poll()

    return wait


class OwnerWatch:
    """Calls ``lost`` once a caller's synchronous socket is closed behind our back.

    Closing a plain ``zmq.Socket`` cancels nothing on our ``zmq.asyncio`` wrapper, so a pending
    receive or poll would otherwise wait forever: we look every ``_OWNER_CHECK_S`` until
    cancelled.  (Calls we make find out at once: see the module docstring.)
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


def too_many_sockets(exc: zmq.ZMQError, zmq_type: int, context: zmq.Context[Any]) -> OSError:
    """The ``OSError`` for a socket that could not be created, naming both limits on ``EMFILE``.

    libzmq says ``EMFILE`` both when its context has no socket slot left (``MAX_SOCKETS``,
    1023 by default) and when the process is out of file descriptors.
    """
    kind = socket_type_name(zmq_type)
    if exc.errno != errno.EMFILE:
        return os_error(exc, f"cannot create a {kind} socket (zmq_type {zmq_type})")
    try:
        max_sockets = f"{context.get(zmq.MAX_SOCKETS)}"
    except zmq.ZMQError:
        max_sockets = "unknown"
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = "unlimited" if soft == resource.RLIM_INFINITY else str(soft)
    return os_error(
        exc,
        f"cannot create a {kind} socket: either the zmq.Context has no socket slot left (its "
        f"MAX_SOCKETS is {max_sockets}; raise it before the context creates its first socket, "
        f"e.g. zmq.Context.instance().set(zmq.MAX_SOCKETS, 4096), and note that a closed socket "
        f"keeps its slot while libzmq lingers) or the process has no file descriptor left "
        f"(RLIMIT_NOFILE is {limit})",
    )


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
            raise too_many_sockets(exc, zmq_type, context) from exc
        sock.setsockopt(zmq.LINGER, DEFAULT_LINGER)
        return SocketViews(sock)
    if not isinstance(zmq_sock, zmq.Socket):
        raise TypeError(f"zmq_sock must be a zmq.Socket, got {type(zmq_sock).__name__}")
    try:
        actual = int(zmq_sock.getsockopt(zmq.TYPE))
    except zmq.ZMQError as exc:
        raise os_error(exc, "zmq_sock") from exc
    if actual != zmq_type:
        raise ValueError(
            f"zmq_sock is a {socket_type_name(actual)} socket, not the "
            f"{socket_type_name(zmq_type)} (zmq_type {zmq_type}) asked for"
        )
    return SocketViews(zmq_sock)
