"""Endpoints: the ZeroMQ half of ``ZmqTransport``'s API, options, endpoints, subscriptions
and the monitor switch, as a part the transport owns and forwards those calls to.

It calls the socket, remembers what it was asked (bindings, connections, topics) and switches
the monitor on and off.  Every call that may process the socket's commands ends with
``Edge.touched()``: ZeroMQ's fd is edge-triggered, and a pending wait must not miss its wake-up.
What the owner decides is given as callables: whether the stream is closing, and what error a
failed call raises (a socket that is gone ends the stream).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import zmq
import zmq.asyncio

from ._affinity import LoopAffinity
from ._edge import Edge
from ._errors import ZmqStreamClosed, option_name
from ._events import EventQueue
from ._monitor import Monitor
from ._socket import SocketViews

__all__ = ("Endpoints",)

logger = logging.getLogger("zmqstreams")


class Endpoints:
    """Options, endpoints, subscriptions and monitor of one socket (see ``ZmqTransport``)."""

    def __init__(
        self,
        views: SocketViews,
        zmq_type: int,
        affinity: LoopAffinity,
        edge: Edge,
        *,
        closing: Callable[[], bool],
        failed: Callable[[zmq.ZMQError, str], Exception],
        cancelled: Callable[[], None],
        owner: object,
    ) -> None:
        self._loop = affinity.loop
        #: Every call that does I/O or changes state checks it first.
        self._affinity = affinity
        self._views = views
        self._edge = edge
        self._zmq_type = zmq_type
        # The owner's answers: is the stream closing, what does a failed call raise, and the
        # monitor task's CancelledError (see ZmqTransport); the owner is named in log records.
        self._closing, self._failed, self._cancelled = closing, failed, cancelled
        self._owner = owner
        self._bindings: set[str] = set()
        self._connections: set[str] = set()
        self._subscriptions: set[bytes] = set()
        #: Where monitor events go: the stream's queue, once the transport is attached to one.
        self.events = EventQueue(None)
        #: The running monitor (None while disabled).
        self._monitor: Monitor | None = None
        #: The last stopped monitor's task, for ``wait_closed()`` (it may outlive ``stop()``).
        self._monitor_stopping: asyncio.Task[None] | None = None

    @property
    def monitor_task(self) -> asyncio.Task[None] | None:
        """The monitor's task, running or stopping, for ``wait_closed()``."""
        return self._monitor.task if self._monitor is not None else self._monitor_stopping

    def getsockopt(self, option: int) -> Any:
        """Return a socket option; ``zmq.LAST_ENDPOINT`` comes back as ``str``."""
        self._affinity.check("getsockopt()")
        try:
            value = self._views.get(option)
        except zmq.ZMQError as exc:
            raise self._failed(exc, f"getsockopt({option_name(option)})") from exc
        if option == zmq.EVENTS:
            self._edge.touched()  # reading EVENTS processes the socket's commands
        if option == zmq.LAST_ENDPOINT and isinstance(value, bytes):
            return value.decode("utf-8").rstrip("\x00")
        return value

    def setsockopt(self, option: int, value: Any) -> None:
        """Set a socket option; subscriptions made this way are tracked too."""
        self._affinity.check("setsockopt()")
        try:
            self._views.set(option, value)
        except zmq.ZMQError as exc:
            raise self._failed(exc, f"setsockopt({option_name(option)})") from exc
        if option == zmq.SUBSCRIBE:
            self._subscriptions.add(value)
        elif option == zmq.UNSUBSCRIBE:
            self._subscriptions.discard(value)
        self._edge.touched()

    def bind(self, endpoint: str) -> asyncio.Future[str]:
        """Bind now; the awaitable gives the real endpoint (see ``ZmqTransport.bind``)."""

        def do_bind() -> str:
            self._views.bind(endpoint)
            real: str = self.getsockopt(zmq.LAST_ENDPOINT)
            self._bindings.add(real)
            return real

        return self._endpoint_call("bind", endpoint, do_bind)

    def unbind(self, endpoint: str) -> asyncio.Future[None]:
        """Stop listening on ``endpoint`` (as returned by ``bind``)."""

        def do_unbind() -> None:
            self._views.unbind(endpoint)
            self._bindings.discard(endpoint)

        return self._endpoint_call("unbind", endpoint, do_unbind)

    def connect(self, endpoint: str) -> asyncio.Future[str]:
        """Connect to ``endpoint``; the awaitable gives ``endpoint`` back."""

        def do_connect() -> str:
            self._views.connect(endpoint)
            self._connections.add(endpoint)
            return endpoint

        return self._endpoint_call("connect", endpoint, do_connect)

    def disconnect(self, endpoint: str) -> asyncio.Future[None]:
        """Disconnect from ``endpoint``."""

        def do_disconnect() -> None:
            self._views.disconnect(endpoint)
            self._connections.discard(endpoint)

        return self._endpoint_call("disconnect", endpoint, do_disconnect)

    def bindings(self) -> set[str]:
        """The endpoints this socket is bound to (a copy)."""
        return set(self._bindings)

    def connections(self) -> set[str]:
        """The endpoints this socket is connected to (a copy)."""
        return set(self._connections)

    def subscribe(self, value: bytes) -> None:
        """Subscribe a SUB socket to messages starting with ``value``."""
        self._affinity.check("subscribe()")
        self._check_subscription("subscribe", value)
        if value not in self._subscriptions:
            self.setsockopt(zmq.SUBSCRIBE, value)

    def unsubscribe(self, value: bytes) -> None:
        """Remove a subscription of a SUB socket."""
        self._affinity.check("unsubscribe()")
        self._check_subscription("unsubscribe", value)
        self.setsockopt(zmq.UNSUBSCRIBE, value)

    def subscriptions(self) -> set[bytes]:
        """The topics a SUB socket is subscribed to (a copy)."""
        if self._zmq_type != zmq.SUB:
            raise NotImplementedError("subscriptions() is only for SUB sockets")
        return set(self._subscriptions)

    # ------------------------------------------------------------------ monitor

    async def enable_monitor(self, events: int | None = None) -> None:
        """Start the monitor unless it runs (see ``ZmqTransport.enable_monitor``)."""
        self._affinity.check("enable_monitor()")
        if self._closing():
            raise ZmqStreamClosed("cannot enable the monitor: the stream is closed")
        if self._monitor is not None:
            return
        mask = zmq.EVENT_ALL if events is None else events
        try:
            self._monitor = Monitor(self._views, mask, self.events, self._cancelled)
        except zmq.ZMQError as exc:
            raise self._failed(exc, "enable_monitor") from exc
        self._edge.touched()
        logger.debug("monitor started on %r", self._owner)

    async def disable_monitor(self) -> None:
        """Stop the monitor (disable it, then close its PAIR socket) and wait for its task."""
        self._affinity.check("disable_monitor()")
        task = self.stop_monitor()
        if task is not None:
            await asyncio.wait([task])

    def stop_monitor(self) -> asyncio.Task[None] | None:
        """Stop the monitor, if it runs; return its task (it may outlive this call)."""
        monitor = self._monitor
        if monitor is None:
            return None
        self._monitor = None
        task = self._monitor_stopping = monitor.stop()
        logger.debug("monitor stopped on %r", self._owner)
        return task

    # ------------------------------------------------------------------ internals

    def _endpoint_call(
        self, action: str, endpoint: str, call: Callable[[], Any]
    ) -> asyncio.Future[Any]:
        self._affinity.check(f"{action}()")
        future: asyncio.Future[Any] = self._loop.create_future()
        try:
            if not isinstance(endpoint, str):
                raise TypeError(f"{action}() endpoint must be a str, got {endpoint!r}")
            if self._closing():
                raise ZmqStreamClosed(f"cannot {action} {endpoint!r}: the stream is closed")
            try:
                result = call()
            except zmq.ZMQError as exc:
                raise self._failed(exc, f"{action} {endpoint!r}") from exc
            finally:
                self._edge.touched()
        except Exception as exc:
            future.set_exception(exc)
        else:
            logger.debug("%s %s on %r", action, endpoint, self._owner)
            future.set_result(result)
        return future

    def _check_subscription(self, action: str, value: object) -> None:
        if self._zmq_type != zmq.SUB:
            raise NotImplementedError(f"{action}() is only for SUB sockets")
        if not isinstance(value, bytes):
            raise TypeError(f"{action}() topic must be bytes, got {type(value).__name__}")
