"""Loop work per round trip: event-loop turns and ready callbacks, counted, not timed.

A round trip's latency in one event loop is mostly the loop work it causes: every turn runs the
selector once, every ready callback is a task step or a library handler.  ``CountingLoop`` counts
both on the standard asyncio loop, so a change to the read or write path can be judged by a
deterministic number (the tests assert it) as well as by the noisy microseconds.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import zmq

from benchmarks.contenders import Contender

__all__ = ("CountingLoop", "LoopCost", "count_loop_cost", "ping_pong")


class _CountingDeque(collections.deque):  # type: ignore[type-arg]
    """The loop's ready queue; every callback the loop runs is popped from its left once."""

    popped = 0
    #: How many of the popped callbacks were timers (``call_later``/``call_at``) falling due.
    timers = 0

    def popleft(self) -> Any:
        self.popped += 1
        handle = super().popleft()
        if isinstance(handle, asyncio.TimerHandle):
            self.timers += 1
        return handle


class CountingLoop(asyncio.SelectorEventLoop):
    """A ``SelectorEventLoop`` that counts its turns and the callbacks it runs.

    It relies on two attributes of CPython's ``BaseEventLoop`` (``_ready``, ``_run_once``), so it
    belongs in benchmarks and tests, never in the library.
    """

    def __init__(self) -> None:
        super().__init__()
        self._ready: _CountingDeque = _CountingDeque()
        self.turns = 0

    def _run_once(self) -> None:
        self.turns += 1
        super()._run_once()  # type: ignore[misc]

    @property
    def callbacks(self) -> int:
        return self._ready.popped

    @property
    def timers(self) -> int:
        """The callbacks that were timers: their number depends on time, not only on work."""
        return self._ready.timers


@dataclass(frozen=True)
class LoopCost:
    """Loop work and wall time per round trip, averaged over ``round_trips``."""

    round_trips: int
    turns: float
    callbacks: float
    micros: float
    #: Timer callbacks among ``callbacks``: a periodic timer adds more of them the slower the
    #: machine is, so they are counted apart from the work that every round trip causes.
    timers: float = 0.0


async def ping_pong(
    contender: Contender[Any],
    round_trips: int,
    *,
    measure: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]],
) -> None:
    """A DEALER sends a 64 B request and awaits its echo from a ROUTER in the same loop.

    The ``round_trips`` measured ones run inside ``measure``; a few before them warm up.
    """
    router, endpoint = await contender.open(zmq.ROUTER, "tcp://127.0.0.1:*", bind=True)
    try:
        dealer, _ = await contender.open(zmq.DEALER, endpoint, bind=False)
        try:

            def make(seq: int) -> list[bytes]:
                return [seq.to_bytes(8, "little") * 8]

            def check(msg: list[bytes], seq: int) -> bool:
                return msg == make(seq)

            warmup = 20
            echo = asyncio.ensure_future(contender.echo_n(router, warmup + round_trips))
            try:
                _, bad = await contender.request_n(dealer, make, check, warmup)

                async def timed() -> None:
                    nonlocal bad
                    _, more_bad = await contender.request_n(dealer, make, check, round_trips)
                    bad += more_bad

                await measure(timed)
                await echo
            finally:
                echo.cancel()
            if bad:
                raise RuntimeError(f"{bad} replies were damaged or out of order")
        finally:
            await contender.close(dealer)
    finally:
        await contender.close(router)


def count_loop_cost(contender: Contender[Any], round_trips: int = 1000) -> LoopCost:
    """Run ``ping_pong`` on a fresh ``CountingLoop`` and return the work per round trip."""
    loop = CountingLoop()
    result: list[LoopCost] = []

    async def measure(timed: Callable[[], Awaitable[None]]) -> None:
        turns, callbacks, timers = loop.turns, loop.callbacks, loop.timers
        started = time.perf_counter()
        await timed()
        elapsed = time.perf_counter() - started
        result.append(
            LoopCost(
                round_trips,
                (loop.turns - turns) / round_trips,
                (loop.callbacks - callbacks) / round_trips,
                elapsed / round_trips * 1e6,
                timers=(loop.timers - timers) / round_trips,
            )
        )

    try:
        loop.run_until_complete(ping_pong(contender, round_trips, measure=measure))
    finally:
        loop.close()
    return result[0]
