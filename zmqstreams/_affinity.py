"""A stream belongs to the event loop, and so the thread, that made it.

libzmq sockets are not thread-safe (two threads sending at once can abort the process) and
asyncio objects belong to one loop, so every method that does I/O or changes state checks
``LoopAffinity.check()`` before it touches anything; a misuse raises ``RuntimeError`` saying
what went wrong.  Read-only calls are not checked.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

__all__ = ("THREADSAFE_ADVICE", "LoopAffinity", "running_loop")

_get_ident = threading.get_ident

#: What ``write()`` from another thread should do instead, for its ``RuntimeError``.
THREADSAFE_ADVICE = "from other threads, use stream.write_threadsafe()"


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, or ``None``."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LoopAffinity:
    """The loop a stream belongs to, and the check that a call comes from it."""

    __slots__ = ("_is_running", "_thread", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._is_running = loop.is_running
        #: The thread the loop runs in (where the stream was made; updated if it moves).
        self._thread = _get_ident()

    @property
    def here(self) -> bool:
        """True when called from the stream's thread while its loop runs there or is idle.

        Exact and cheap: only one loop can run in a thread at a time, so if the stream's loop
        runs and this is its thread, the running loop is the stream's.  (``asyncio``'s own
        ``get_running_loop()`` costs a system call per call on Python 3.11.)  Plain code in the
        loop's thread between two runs of it is allowed too: nothing else runs then.
        """
        if _get_ident() == self._thread and self._is_running():
            return True
        running = running_loop()
        if running is self.loop:  # the loop now runs in another thread than it used to
            self._thread = _get_ident()
            return True
        return running is None and _get_ident() == self._thread and not self.loop.is_closed()

    def check(self, action: str, instead: str = "") -> None:
        """Raise ``RuntimeError`` unless ``here``.

        ``action`` names the call (``"write()"``); ``instead`` is advice added for calls from
        another thread (``"use write_threadsafe()"``).
        """
        if not self.here:
            raise RuntimeError(self.misuse(action, instead))

    def misuse(self, action: str, instead: str = "") -> str:
        """Why ``action`` may not run here, for the ``RuntimeError``."""
        if self.loop.is_closed():
            return (
                f"{action} on a stream whose event loop is closed (it was created in an "
                "earlier asyncio.run() or loop); only close() still works, to release its socket"
            )
        if _get_ident() != self._thread:
            advice = f"; {instead}" if instead else ""
            return f"{action} called from another thread than the stream's event loop{advice}"
        return f"{action} called in another event loop than the one that created the stream"

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` in the stream's loop: now if called from it, else as soon as the loop
        runs.  If the loop is closed, or idle in this very thread, nothing else can run there,
        so ``callback`` runs now (the garbage collector's way to release an abandoned stream).
        """
        if self.here or self.loop.is_closed():
            callback()
        else:
            try:
                self.loop.call_soon_threadsafe(callback)
            except RuntimeError:  # closed meanwhile
                callback()
