"""asyncio plumbing shared by the parts: background tasks named ``zmqstreams-<role>`` and
cancelled only from outside, and ``Wakeup``, one task waiting for a change."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ("Wakeup", "cancel", "spawn")


def spawn(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None], role: str
) -> asyncio.Task[None]:
    """Run ``coro`` in ``loop`` as the task ``zmqstreams-<role>`` (``reader``, ``writer``, ...).

    The loop is given, not looked up: a stream may be closed by plain code in its loop's thread
    while that loop is idle, and its tasks then start when the loop runs again.
    """
    return loop.create_task(coro, name=f"zmqstreams-{role}")


def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` unless it is done or is the caller (which then ends by itself)."""
    if task is not None and not task.done() and task is not asyncio.current_task(task.get_loop()):
        task.cancel()


class Wakeup:
    """One task waiting for a change: ``wait()`` ends at the next ``wake()``.

    Cancelling ``wait()`` is safe; a ``wake()`` with nobody waiting does nothing.
    """

    __slots__ = ("_future",)

    def __init__(self) -> None:
        #: What ``wait()`` awaits (None when nobody waits).
        self._future: asyncio.Future[None] | None = None

    @property
    def waiting(self) -> bool:
        return self._future is not None

    async def wait(self) -> None:
        self._future = asyncio.get_running_loop().create_future()
        try:
            await self._future
        finally:
            self._future = None

    def wake(self) -> None:
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)
