"""Monitor: libzmq's socket monitor, drained into the stream's ``EventQueue``.

``Monitor()`` enables the monitor on a unique inproc address and connects a PAIR to it; a
task awaits the PAIR's readiness and decodes every ready message into a ``SocketEvent``.
``stop()`` undoes it in the order libzmq needs: disable, then close the PAIR (libzmq#3575),
before the socket itself is closed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

import zmq

from ._events import EventQueue, SocketEvent
from ._frames import BATCH
from ._socket import SocketViews, readiness
from ._tasks import cancel, spawn

__all__ = ("Monitor",)

logger = logging.getLogger("zmqstreams")

#: Makes every monitor endpoint unique, so disable/enable cycles never collide.
_monitor_ids = itertools.count()


class Monitor:
    """A running monitor of one socket: its PAIR and the task draining it."""

    __slots__ = ("_pair", "_socket", "_stopped", "_task")

    def __init__(
        self, socket: SocketViews, mask: int, events: EventQueue, cancelled: Callable[[], None]
    ) -> None:
        """Monitor ``socket`` for the ``mask`` events into ``events``.

        Raises ``zmq.ZMQError`` if libzmq refuses; ``cancelled`` is called when the task sees
        ``CancelledError`` (see ``ZmqTransport``).
        """
        self._socket = socket
        self._pair = socket.monitor(mask, f"inproc://zmqstreams.monitor.{next(_monitor_ids)}")
        self._stopped = False
        self._task = spawn(self._run(events, cancelled), "monitor")

    @property
    def task(self) -> asyncio.Task[None]:
        return self._task

    def stop(self) -> asyncio.Task[None]:
        """Cancel the task, disable the monitor and close the PAIR; return the task."""
        self._stopped = True
        cancel(self._task)
        if not self._socket.closed:
            self._socket.owner.disable_monitor()
        self._pair.close(linger=0)
        return self._task

    async def _run(self, events: EventQueue, cancelled: Callable[[], None]) -> None:
        poll = readiness(self._pair.async_sock, zmq.POLLIN)
        recv = self._pair.sync_sock.recv_multipart
        put = events.put
        try:
            while True:
                await poll()
                for _ in range(BATCH):
                    try:
                        frames = recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    put(SocketEvent.parse(frames))
        except asyncio.CancelledError:
            cancelled()
        except zmq.ZMQError as exc:
            if not self._stopped:
                logger.debug("monitor ended: %s", exc)
