"""Monitor: libzmq's socket monitor, drained into the stream's ``EventQueue``.

``Monitor()`` connects a PAIR of ours to a unique inproc address and then enables libzmq's
monitor there (``SocketViews.monitor()``: the PAIR's unbounded pipe means libzmq's blocking
event sends never stall); a task awaits the PAIR's readiness and decodes every ready message
into a ``SocketEvent``.  ``stop()`` undoes it in the order libzmq needs: disable, then close the
PAIR (libzmq#3575), before the socket itself is closed; a terminated context or a closed socket
makes the disable fail, and the PAIR is closed all the same.  A socket closed behind our back
cannot be disabled: libzmq stops its monitor only when it destroys the socket, with a blocking
send of ``MONITOR_STOPPED`` into the PAIR, so the PAIR stays open until that event.

While the loop is blocked the unbounded pipe grows by one event (two small messages) per
connection change: a peer churning thousands of connections meanwhile costs memory inside libzmq
instead of a deadlock; ``events_backlog`` bounds what is kept once the loop runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import zmq

from ._events import EventQueue, SocketEvent
from ._frames import BATCH
from ._socket import SocketViews, readiness
from ._tasks import cancel, spawn

__all__ = ("Monitor",)

logger = logging.getLogger("zmqstreams")

#: How long to wait for ``MONITOR_STOPPED`` from a socket closed behind our back.  libzmq
#: destroys a socket once its LINGER is over; past this, the PAIR is closed anyway.
STOPPED_WAIT_S = 10.0

_STOPPED = zmq.EVENT_MONITOR_STOPPED


class Monitor:
    """A running monitor of one socket: its PAIR and the task draining it."""

    __slots__ = ("_destroyed", "_loop", "_mask", "_pair", "_socket", "_stopped", "_task")

    def __init__(
        self, socket: SocketViews, mask: int, events: EventQueue, cancelled: Callable[[], None]
    ) -> None:
        """Monitor ``socket`` for the ``mask`` events into ``events``.

        Raises ``zmq.ZMQError`` if libzmq refuses; ``cancelled`` is called when the task sees
        ``CancelledError`` (see ``ZmqTransport``).  ``MONITOR_STOPPED`` is always asked of
        libzmq (``stop()`` may need it) but reaches ``events`` only if ``mask`` has it.
        """
        self._loop = asyncio.get_running_loop()
        self._socket = socket
        self._mask = mask
        self._pair = socket.monitor(mask | _STOPPED)
        self._stopped = False
        #: libzmq reported MONITOR_STOPPED: the socket is destroyed, nothing more will come.
        self._destroyed = False
        self._task = spawn(self._loop, self._run(events, cancelled), "monitor")

    @property
    def task(self) -> asyncio.Task[None]:
        return self._task

    def stop(self) -> asyncio.Task[None]:
        """Stop delivering events and release the PAIR; return the task to wait for."""
        self._stopped = True
        cancel(self._task)
        if self._socket.closed and not self._destroyed:
            self._task = spawn(self._loop, self._close_after_stopped(), "monitor-stop")
            return self._task
        try:
            if not self._socket.closed:
                # ETERM (context terminated) or ENOTSOCK: libzmq stops it with the socket.
                with contextlib.suppress(zmq.ZMQError):
                    self._socket.disable_monitor()
        finally:
            self._pair.close(linger=0)
        return self._task

    async def _run(self, events: EventQueue, cancelled: Callable[[], None]) -> None:
        poll = readiness(self._pair, zmq.POLLIN)
        recv = self._pair.owner.recv_multipart  # our PAIR is a plain socket: this never waits
        put = events.put
        mask = self._mask
        try:
            while True:
                await poll()
                for _ in range(BATCH):
                    try:
                        frames = recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    event = SocketEvent.parse(frames)
                    if event.event == _STOPPED:
                        self._destroyed = True
                    if event.event & mask:
                        put(event)
        except asyncio.CancelledError:
            cancelled()
        except zmq.ZMQError as exc:
            if not self._stopped:
                logger.debug("monitor ended: %s", exc)

    async def _close_after_stopped(self) -> None:
        """Drain the PAIR until libzmq has destroyed the socket (``MONITOR_STOPPED``), close it."""
        poll = readiness(self._pair, zmq.POLLIN)
        try:
            async with asyncio.timeout(STOPPED_WAIT_S):
                while not self._discard_ready():
                    await poll()
        except TimeoutError:
            logger.warning("no MONITOR_STOPPED from a socket closed under its stream")
        except zmq.ZMQError as exc:  # pragma: no cover - the PAIR is ours and open
            logger.debug("monitor drain ended: %s", exc)
        finally:
            self._pair.close(linger=0)

    def _discard_ready(self) -> bool:
        """Drop the events waiting in the PAIR; return whether ``MONITOR_STOPPED`` was one."""
        recv = self._pair.owner.recv_multipart
        while True:
            try:
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                return False
            if SocketEvent.parse(frames).event == _STOPPED:
                self._destroyed = True
                return True
