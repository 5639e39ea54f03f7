"""Work per large message, counted: where the time of a large message goes, contender by contender.

``python -m benchmarks.largecost [--workload big1m] [--count 1000] [--loop asyncio]``.  Each
contender receives ``count`` messages from the blocking peer process, and sends as many to it,
twice on a ``CountingLoop``: once plain, for the GB/s, the loop turns, the CPU time of the loop's
thread and of the whole process (with libzmq's I/O thread) and the page faults; once under
cProfile, for the Python calls.  Blocking pyzmq runs here in the loop's own thread (the loop
waits while it blocks), so that one thread does every contender's work and its CPU time and
calls compare.  A run's figures include opening the socket and one untimed message: noise next
to a thousand large ones.  Large-message throughput is noisy on a small machine; these counts
much less so, which is what they are for: they say where a difference in GB/s comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.contenders import Blocking, Contender, available_contenders
from benchmarks.loopcost import CountingLoop
from benchmarks.messages import SHAPES
from benchmarks.peer import Peer
from benchmarks.report import layout, legend
from benchmarks.workloads import CASES, LARGE, Case, measure

__all__ = ("LargeCost", "count_large_cost", "main")

#: Contenders, in table order: each library's default and zero-copy variant.
CONTENDERS = (
    "zmqstreams",
    "raw",
    "blocking",
    "zmqstreams copy=False",
    "raw copy=False",
    "blocking copy=False",
)
#: A run gives up after this long (s).
LIMIT = 120.0


class BlockingHere(Blocking):
    """Blocking pyzmq in the calling thread: the loop waits while a call blocks."""

    def _run(self, end: Any, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        future.set_result(fn(*args))
        return future


@dataclass(frozen=True)
class LargeCost:
    """One contender's work per message in one direction."""

    contender: str
    direction: str  # recv | send
    gb_s: float
    turns: float
    calls: float
    loop_thread_us: float
    process_us: float
    page_faults: float


def _contender(name: str) -> Contender[Any]:
    if name.startswith("blocking"):
        return BlockingHere(copy=name == "blocking")
    (contender,), _ = available_contenders([name])
    return contender


def _case(workload: str, direction: str) -> Case:
    return next(
        case
        for case in CASES
        if (case.workload, case.topology, case.direction) == (workload, "peer", direction)
    )


def count_large_cost(
    name: str,
    workload: str,
    direction: str,
    count: int,
    *,
    peer: Peer,
    loop_factory: Callable[[], Any] = CountingLoop,
) -> LargeCost:
    """Run ``count`` messages of ``workload`` for contender ``name`` (see the module's doc)."""
    contender, case = _contender(name), _case(workload, direction)
    loop = loop_factory()
    counting = isinstance(loop, CountingLoop)
    profiler = cProfile.Profile()

    async def run() -> tuple[dict[str, float], float, float, float, float]:
        await measure(case, contender, peer, max(1, count // 10), LIMIT)  # warm-up
        turns = loop.turns if counting else 0
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        thread, process = time.thread_time(), time.process_time()
        metrics = await measure(case, contender, peer, count, LIMIT)
        thread, process = time.thread_time() - thread, time.process_time() - process
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        turns = (loop.turns - turns) if counting else float("nan")
        profiler.enable()
        try:
            await measure(case, contender, peer, count, LIMIT)
        finally:
            profiler.disable()
        return metrics, turns, thread, process, faults

    try:
        metrics, turns, thread, process, faults = loop.run_until_complete(run())
    finally:
        loop.close()
    calls = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
    return LargeCost(
        contender=name,
        direction=direction,
        gb_s=metrics["gb_s"],
        turns=turns / count,
        calls=calls / count,
        loop_thread_us=thread / count * 1e6,
        process_us=process / count * 1e6,
        page_faults=faults / count,
    )


def render(costs: list[LargeCost], workload: str, loop: str, count: int) -> str:
    """The table of ``costs``, with its legend."""
    label = SHAPES[LARGE[workload]].label
    title = f"Work per message: {label} frames from and to a peer process, {loop}, {count} each"
    header = ["direction", "contender", "GB/s ↑", "turns", "calls", "loop µs", "proc µs", "faults"]
    rows = [
        [
            cost.direction,
            cost.contender,
            f"{cost.gb_s:.2f}",
            f"{cost.turns:.2f}",
            f"{cost.calls:.0f}",
            f"{cost.loop_thread_us:.0f}",
            f"{cost.process_us:.0f}",
            f"{cost.page_faults:.1f}",
        ]
        for cost in costs
    ]
    text = (
        "Per message: turns: event-loop turns (counted on the asyncio loop only); calls: Python "
        "and C calls in the loop's thread (cProfile, a run of its own; the driver's loop and "
        "check are counted too, alike for all); loop µs: CPU time of the loop's thread; proc µs: "
        "CPU time of the process, libzmq's I/O thread included; faults: minor page faults of "
        "the process.  Blocking pyzmq runs in the loop's thread here.  Lower is better in every "
        "column but GB/s."
    )
    return "\n".join(
        [*layout(title, header, rows, text_columns=2, grouped_by=1), "", *legend(text)]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.largecost")
    parser.add_argument("--workload", choices=tuple(LARGE), default="big1m")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--contender", action="append", choices=CONTENDERS)
    args = parser.parse_args(argv)
    factory: Callable[[], Any] = CountingLoop
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    peer = Peer()
    try:
        costs = [
            count_large_cost(
                name, args.workload, direction, args.count, peer=peer, loop_factory=factory
            )
            for direction in ("recv", "send")
            for name in args.contender or CONTENDERS
        ]
    finally:
        peer.stop()
    print(render(costs, args.workload, args.loop, args.count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
