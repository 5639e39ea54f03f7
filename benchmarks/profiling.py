"""Profile one contender on one case with cProfile, to find where the per-message time goes.

``python -m benchmarks.profiling [recv|send|loop|rtt|pubsub] [--workload push64]
[--contender zmqstreams] [--loop asyncio] [--count 100000] [--top 25]``.  The measured side runs
under cProfile in this process (for ``recv``, ``send`` and ``rtt`` the peer is a separate,
unprofiled process); the top functions by own time and by cumulative time are printed.
``--workload`` picks the messages of ``recv``, ``send`` and ``loop`` (``big1m``: 1 MiB frames;
give a ``--count`` to match, e.g. 2000).  For a sampling profile without
cProfile's overhead, run the same command under ``py-spy record -o out.svg --`` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from typing import Any

from benchmarks.cli import ALL_CONTENDERS
from benchmarks.contenders import available_contenders
from benchmarks.peer import Peer
from benchmarks.workloads import CASES, LARGE, Case, measure

__all__ = ("main",)

#: The cases by name: (topology, direction), and the workload when it is fixed.
_CASES = {
    "recv": ("peer", "recv", None),
    "send": ("peer", "send", None),
    "loop": ("loop", "both", None),
    "rtt": ("peer", "rtt", "rtt"),
    "pubsub": ("loop", "both", "pubsub"),
}
#: The workloads ``--workload`` may pick, for recv, send and loop.
_THROUGHPUT = ("push64", "multi1k", *LARGE)


def _case(name: str, workload: str) -> Case:
    topology, direction, fixed = _CASES[name]
    wanted = fixed or workload
    return next(
        case
        for case in CASES
        if (case.workload, case.topology, case.direction) == (wanted, topology, direction)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument("case", choices=tuple(_CASES), nargs="?", default="recv")
    parser.add_argument("--workload", choices=_THROUGHPUT, default="push64")
    parser.add_argument("--contender", choices=ALL_CONTENDERS, default="zmqstreams")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-cprofile", action="store_true", help="just run (for py-spy)")
    args = parser.parse_args(argv)
    (contender,), _ = available_contenders([args.contender])
    case = _case(args.case, args.workload)
    factory: Any = None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    profiler = cProfile.Profile()

    async def run() -> dict[str, float]:
        peer = Peer()
        try:
            await measure(case, contender, peer, max(1, args.count // 10), 60)  # warm-up
            if args.no_cprofile:
                return await measure(case, contender, peer, args.count, 120)
            profiler.enable()
            try:
                return await measure(case, contender, peer, args.count, 120)
            finally:
                profiler.disable()
        finally:
            peer.stop()

    with asyncio.Runner(loop_factory=factory) as runner:
        metrics = runner.run(run())
    print(f"{args.contender} {args.case} on {args.loop}: {metrics} (slowed by cProfile)")
    if not args.no_cprofile:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
