"""Edge: the socket's readiness signal, shared by the parts that wait on it.

libzmq signals a socket's fd only when the socket's state changes (it is edge-triggered), and
any synchronous call that processes the socket's commands (a send, a receive, reading
``EVENTS``, setting some options) can consume the change that one of pyzmq's pending waits was
to be woken by.  After such a call, reading ``EVENTS`` through the ``zmq.asyncio`` view makes
pyzmq check its pending futures again: the *re-arm* (``SocketViews.rearm()``).

Two parts wait: the reader (a receive future) and the writer (a ``POLLOUT`` poll).  The
policies, side by side:

* ``sent()``, after a send: if a receive is pending, re-arm once, at the end of this loop turn,
  however many sends come before it.  Sends come in bursts, and reading ``EVENTS`` through
  ``zmq.asyncio`` costs more than a send.
* ``received()``, after a receive without waiting: if the writer awaits ``POLLOUT``, re-arm at
  once.  Rare (the writer waits only while the peer is slow), and the receive cost more.
* ``touched()``, after any other call (options, endpoints, the monitor switch): re-arm at once
  if anyone waits.  Rare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ._socket import SocketViews

__all__ = ("Edge",)


def _never() -> bool:
    return False


class Edge:
    """Who waits on one socket's readiness, and the re-arm after each kind of call."""

    __slots__ = ("_loop", "_receiving", "_scheduled", "_views", "polling")

    def __init__(self, views: SocketViews, loop: asyncio.AbstractEventLoop) -> None:
        self._views = views
        self._loop = loop
        #: Whether a receive future is pending (the reader says, see ``watch_receives``).
        self._receiving: Callable[[], bool] = _never
        #: True while the writer awaits ``POLLOUT`` (the writer sets it around its wait).
        self.polling = False
        #: A re-arm is scheduled for the end of this loop turn (see ``sent()``).
        self._scheduled = False

    def watch_receives(self, pending: Callable[[], bool]) -> None:
        """Learn from the reader whether a receive future is pending."""
        self._receiving = pending

    def sent(self) -> None:
        """After a synchronous send (see the module docstring)."""
        if self._scheduled or not self._receiving():
            return
        self._scheduled = True
        self._loop.call_soon(self._rearm_pending)

    def received(self) -> None:
        """After a synchronous receive."""
        if self.polling:
            self._views.rearm()

    def touched(self) -> None:
        """After any other synchronous call on the socket."""
        if self.polling or self._receiving():
            self._views.rearm()

    def _rearm_pending(self) -> None:
        self._scheduled = False
        if self._receiving():
            self._views.rearm()  # a socket gone since the send: nothing to re-arm, no error
