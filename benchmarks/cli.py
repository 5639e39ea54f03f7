"""Command line: pick settings, run every case for every contender in rounds, print the tables.

Contenders are interleaved within each round (and their order rotated from round to round) so
that machine noise hits them alike; each case starts with one untimed warm-up run per
contender.  Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from benchmarks.contenders import ZERO_COPY, Contender, available_contenders
from benchmarks.loopcost import count_loop_cost
from benchmarks.memory import FLOODS, Flood, measure_memory
from benchmarks.messages import SHAPES
from benchmarks.peer import Peer
from benchmarks.report import Sample, render_tables, save_json, save_plot
from benchmarks.workloads import CASES, LARGE, TITLES, Case, RunFailed, measure

__all__ = ("main",)

#: The zero-copy variants run the large-message workloads (``LARGE``) only.
ZERO_COPY_CONTENDERS = tuple(name + ZERO_COPY for name in ("zmqstreams", "raw", "blocking"))
ALL_CONTENDERS = ("zmqstreams", "raw", "blocking", "aiozmq", *ZERO_COPY_CONTENDERS)
#: Kept by ``--contender`` whatever it names: the bases of the ratios.
BASES = ("raw", "blocking", "blocking" + ZERO_COPY)


@dataclass(frozen=True)
class Settings:
    """How much work one run does; ``counts`` are timed messages (requests for rtt)."""

    rounds: int
    counts: dict[str, int]
    timeout: float
    memory_floods: tuple[Flood, ...] = FLOODS
    #: The zero-copy variants read the floods of large messages only.
    memory_contenders: tuple[str, ...] = ("zmqstreams", "raw", "aiozmq", "zmqstreams" + ZERO_COPY)
    #: Round trips counted per loop-work run (``loopcost``).
    loopcost_round_trips: int = 5_000
    warmup_fraction: float = 0.2


QUICK = Settings(
    rounds=3,
    counts={
        "push64": 20_000,
        "multi1k": 10_000,
        "big64k": 2_000,
        "big1m": 150,
        "big16m": 10,
        "rtt": 1_000,
        "docexample": 1_000,
        "pubsub": 10_000,
    },
    timeout=20.0,
    memory_contenders=("zmqstreams", "zmqstreams" + ZERO_COPY),
    loopcost_round_trips=1_000,
)
DEFAULT = Settings(
    rounds=5,
    counts={
        "push64": 100_000,
        "multi1k": 50_000,
        "big64k": 10_000,
        "big1m": 1_000,
        "big16m": 64,
        "rtt": 10_000,
        "docexample": 10_000,
        "pubsub": 50_000,
    },
    timeout=120.0,
)


@dataclass
class Progress:
    """Counts runs and prints one line per run to stderr."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    def report(self, sample: Sample) -> None:
        self.done += 1
        if sample.error:
            result = f"FAILED: {sample.error}"
        else:
            result = "  ".join(_short(k, v) for k, v in sample.metrics.items())
        elapsed = time.monotonic() - self.started
        print(
            f"[{self.done:>4}/{self.total}] {elapsed:6.1f}s  {sample.loop:<8} {sample.workload:<8}"
            f" {sample.case:<20} {sample.contender:<21} r{sample.round}  {result}",
            file=sys.stderr,
            flush=True,
        )


def _short(key: str, value: float) -> str:
    units = {
        "rate": "/s",
        "p50_us": " µs p50",
        "p99_us": " µs p99",
        "gb_s": " GB/s",
        "rss_growth_mb": " MiB",
        "bound_mb": " MiB bound",
        "turns": " turns",
        "callbacks": " callbacks",
        "micros": " µs",
    }
    digits = {"rate": 0, "gb_s": 2}.get(key, 1)
    return f"{value:,.{digits}f}{units[key]}"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark zmqstreams against raw zmq.asyncio, blocking pyzmq and aiozmq.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds (~2.5 min)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop", "both"), default="both")
    parser.add_argument("--json", metavar="FILE", help="save every sample as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="bar chart of ratios (matplotlib)")
    parser.add_argument("--rounds", type=int, help="timed rounds per case (default 5, quick 3)")
    parser.add_argument(
        "--workload",
        action="append",
        choices=(*TITLES, "loopcost", "memory"),
        help="run only this workload (repeatable)",
    )
    parser.add_argument(
        "--contender",
        action="append",
        choices=ALL_CONTENDERS,
        help="run only this contender (repeatable; raw, blocking and 'blocking copy=False' are "
        "kept for the ratios)",
    )
    parser.add_argument(
        "--topology",
        choices=("loop", "peer", "both"),
        default="both",
        help="both ends in one loop, peer in another process, or both (default)",
    )
    return parser.parse_args(argv)


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def _meta(settings: Settings, loops: list[str], notes: list[str]) -> dict[str, Any]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "zmqstreams": version("zmqstreams"),
        "aiozmq": version("aiozmq"),
        "uvloop": version("uvloop"),
        "loops": loops,
        "rounds": settings.rounds,
        "counts": settings.counts,
        "loadavg_start": os.getloadavg(),
        "notes": notes,
    }


async def _run_loop(
    loop: str,
    cases: list[Case],
    contenders: list[Contender[Any]],
    settings: Settings,
    samples: list[Sample],
    progress: Progress,
) -> None:
    peer = Peer()
    try:
        for case in cases:
            count = settings.counts[case.workload]
            # Warm-up, untimed.  A contender that fails it is reported FAILED for the case
            # without spending a timeout per round.
            broken: dict[str, str] = {}
            warmup = max(1, int(count * settings.warmup_fraction))
            for contender in contenders:
                if contender.name not in case_contenders(case):
                    continue
                try:
                    await measure(case, contender, peer, warmup, settings.timeout)
                except RunFailed as exc:
                    broken[contender.name] = f"warm-up run failed: {exc}"
                    peer.stop()
            runners = [c for c in contenders if c.name in case_contenders(case)]
            for rnd in range(1, settings.rounds + 1):
                shift = (rnd - 1) % len(runners)
                for contender in runners[shift:] + runners[:shift]:
                    gc.collect()
                    sample = Sample(loop, case.workload, case.label, contender.name, rnd)
                    sample.error = broken.get(contender.name)
                    try:
                        if sample.error is None:
                            sample.metrics = await measure(
                                case, contender, peer, count, settings.timeout
                            )
                    except RunFailed as exc:
                        sample.error = str(exc)
                        peer.stop()
                    except Exception as exc:  # a library error is a failed run, not a crash
                        sample.error = f"{type(exc).__name__}: {exc}"
                        peer.stop()
                    samples.append(sample)
                    progress.report(sample)
    finally:
        peer.stop()


def case_contenders(case: Case) -> set[str]:
    """Who runs ``case``: everyone, but aiozmq's Streams API example is awaited code only, and
    the zero-copy variants run the large-message workloads only (below pyzmq's copy threshold
    a copy is cheaper than a ``zmq.Frame``).

    Blocking pyzmq would run each of the example's four steps in a worker thread, which
    measures thread hand-offs, not the library.
    """
    if case.workload in LARGE:
        return set(ALL_CONTENDERS)
    others = set(ALL_CONTENDERS) - set(ZERO_COPY_CONTENDERS)
    if case.workload == "docexample":
        return others - {"blocking"}
    return others


def flood_contenders(flood: Flood, names: list[str]) -> list[str]:
    """Who reads ``flood``: ``names``, less the zero-copy variants for small messages."""
    if SHAPES[flood.shape].large:
        return names
    return [name for name in names if name not in ZERO_COPY_CONTENDERS]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = QUICK if args.quick else DEFAULT
    if args.rounds:
        settings = Settings(**{**settings.__dict__, "rounds": args.rounds})
    names = list(ALL_CONTENDERS)
    if args.contender:
        names = [n for n in ALL_CONTENDERS if n in {*args.contender, *BASES}]
    contenders, notes = available_contenders(names)
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if "uvloop" in loops:
            loops.remove("uvloop")
            notes.append("uvloop skipped: not importable")
    workloads = set(args.workload or [*TITLES, "loopcost", "memory"])
    cases = [c for c in CASES if c.workload in workloads and args.topology in ("both", c.topology)]
    memory_names = (
        [n for n in settings.memory_contenders if n in {c.name for c in contenders}]
        if "memory" in workloads
        else []
    )
    loopcost_names = (
        [c.name for c in contenders if c.name not in ("blocking", *ZERO_COPY_CONTENDERS)]
        if "loopcost" in workloads and "asyncio" in loops
        else []
    )
    total = (
        len(loops)
        * (
            sum(len(case_contenders(c) & {x.name for x in contenders}) for c in cases)
            * settings.rounds
            + sum(len(flood_contenders(f, memory_names)) for f in settings.memory_floods)
        )
        + len(loopcost_names) * settings.rounds
    )
    meta = _meta(settings, loops, notes)
    print(
        f"zmqstreams benchmarks ({'quick' if args.quick else 'default'}): "
        f"{len(contenders)} contenders, {len(cases)} cases, {settings.rounds} rounds, "
        f"loops {', '.join(loops)}; {total} timed runs.  Load average at start: "
        f"{meta['loadavg_start'][0]:.2f}",
        file=sys.stderr,
    )
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    samples: list[Sample] = []
    progress = Progress(total)
    try:
        _run_all(
            loops, cases, contenders, memory_names, loopcost_names, settings, samples, progress
        )
    except KeyboardInterrupt:
        notes.append("interrupted: the tables show the runs done so far")
    return _finish(args, samples, meta, notes, progress)


def _run_all(
    loops: list[str],
    cases: list[Case],
    contenders: list[Contender[Any]],
    memory_names: list[str],
    loopcost_names: list[str],
    settings: Settings,
    samples: list[Sample],
    progress: Progress,
) -> None:
    _run_loopcost([c for c in contenders if c.name in loopcost_names], settings, samples, progress)
    for loop in loops:
        with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
            runner.run(_run_loop(loop, cases, contenders, settings, samples, progress))
        for flood in settings.memory_floods:
            for name in flood_contenders(flood, memory_names):
                sample = Sample(loop, "memory", flood.label, name, 1)
                try:
                    sample.metrics = measure_memory(loop, name, flood, settings.timeout)
                except RunFailed as exc:
                    sample.error = str(exc)
                except Exception as exc:
                    sample.error = f"{type(exc).__name__}: {exc}"
                samples.append(sample)
                progress.report(sample)


def _run_loopcost(
    contenders: list[Contender[Any]],
    settings: Settings,
    samples: list[Sample],
    progress: Progress,
) -> None:
    """Count loop turns and callbacks per one-loop round trip (asyncio only: it counts them)."""
    for rnd in range(1, settings.rounds + 1):
        shift = (rnd - 1) % max(1, len(contenders))
        for contender in contenders[shift:] + contenders[:shift]:
            gc.collect()
            sample = Sample("asyncio", "loopcost", "one loop", contender.name, rnd)
            try:
                cost = count_loop_cost(contender, settings.loopcost_round_trips)
                sample.metrics = {
                    "turns": cost.turns,
                    "callbacks": cost.callbacks,
                    "micros": cost.micros,
                }
            except Exception as exc:
                sample.error = f"{type(exc).__name__}: {exc}"
            samples.append(sample)
            progress.report(sample)


def _finish(
    args: argparse.Namespace,
    samples: list[Sample],
    meta: dict[str, Any],
    notes: list[str],
    progress: Progress,
) -> int:
    meta["loadavg_end"] = os.getloadavg()
    meta["seconds"] = round(time.monotonic() - progress.started, 1)
    print()
    print(render_tables(samples))
    print()
    print(
        f"Machine: {meta['cpus']} CPUs, {meta['platform']}; Python {meta['python']}, "
        f"pyzmq {meta['pyzmq']}, libzmq {meta['libzmq']}, zmqstreams {meta['zmqstreams']}, "
        f"aiozmq {meta['aiozmq']}, uvloop {meta['uvloop']}.  Load average start/end: "
        f"{meta['loadavg_start'][0]:.2f}/{meta['loadavg_end'][0]:.2f}; "
        f"took {meta['seconds']} s."
    )
    for note in notes:
        print(f"Note: {note}")
    if args.json:
        save_json(args.json, samples, meta)
        print(f"samples saved to {args.json}")
    if args.plot:
        print(save_plot(args.plot, samples))
    failed = [s for s in samples if s.error]
    if failed:
        print(f"{len(failed)} run(s) FAILED (see the tables).")
    return 1 if failed else 0
