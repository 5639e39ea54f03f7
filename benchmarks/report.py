"""Turning samples into the tables, the JSON file and the optional bar chart.

Every figure is a median over rounds, shown with its min-max.  The ratios compare a contender
with raw ``zmq.asyncio`` (``x raw``) and with blocking pyzmq (``x blocking``) in the same loop and
case, oriented so that above 1 is better in every table: how many times the base's throughput
for a rate (own / base), how many times less time, turns or memory for the rest (base / own).
A ratio column appears only when its base ran in that table.  Under each table a legend names
its contenders and says what its figures and ratios mean.  A contender with any failed round
shows FAILED and the reason, never a figure.  After the large-message tables, a summary gives
the ratios that issue 17 sets targets for (``TARGETS``).
"""

from __future__ import annotations

import json
import statistics
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.messages import SHAPES
from benchmarks.workloads import LARGE, TITLES

__all__ = (
    "TARGET",
    "TARGETS",
    "Sample",
    "Target",
    "layout",
    "legend",
    "medians",
    "render_tables",
    "save_json",
    "save_plot",
)

MEMORY_TITLE = "Reader memory under a flood read slowly (peak RSS growth of its own process)"
LARGE_TITLE = "Large messages against blocking pyzmq, peer process: issue 17's ratios"
LOOPCOST_TITLE = (
    "Loop work per round trip: one-loop DEALER/ROUTER ping-pong, 64 B, on a counting asyncio loop"
)


@dataclass
class Sample:
    """One timed run of one contender."""

    loop: str
    workload: str
    case: str
    contender: str
    round: int
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


#: (metric key, column heading, better) per workload; better is "higher" or "lower".
_METRICS: dict[str, list[tuple[str, str, str]]] = {
    "rtt": [("p50_us", "p50 µs", "lower"), ("p99_us", "p99 µs", "lower")],
    "docexample": [("p50_us", "p50 µs", "lower"), ("p99_us", "p99 µs", "lower")],
    "loopcost": [
        ("turns", "turns", "lower"),
        ("callbacks", "callbacks", "lower"),
        ("micros", "µs", "lower"),
    ],
    "pubsub": [("rate", "deliveries/s", "higher")],
    "memory": [("rss_growth_mb", "RSS growth MiB", "lower")],
    **{workload: [("gb_s", "GB/s", "higher")] for workload in LARGE},
}
_THROUGHPUT = [("rate", "msg/s", "higher")]
#: Columns shown as they are (a median, no min-max, no ratios) after the metrics.
_INFO: dict[str, list[tuple[str, str]]] = {"memory": [("bound_mb", "bound MiB")]}

#: What each contender is, for the legends.
CONTENDERS = {
    "zmqstreams": "this library",
    "raw": "pyzmq's zmq.asyncio, one await per message (the baseline)",
    "blocking": "plain pyzmq, blocking calls in a worker thread",
    "aiozmq": "aiozmq 1.0 streams",
    "zmqstreams copy=False": "zmqstreams with create_zmq_stream(..., copy=False), reading "
    "zmq.Frame, writing zmq.Frame",
    "raw copy=False": "zmq.asyncio with recv_multipart(copy=False) / send_multipart(copy=False)",
    "blocking copy=False": "blocking pyzmq with recv_multipart(copy=False) / "
    "send_multipart(copy=False)",
}

#: What the figures of a workload are, for its legend (throughput workloads: the default).
_FIGURES = {
    "rtt": "p50/p99 µs: median and 99th-percentile time of one round trip",
    "docexample": "p50/p99 µs: median and 99th-percentile time of one iteration",
    "loopcost": "turns and callbacks: event loop iterations and ready callbacks run per round "
    "trip; µs: time per round trip",
    "pubsub": "deliveries/s: messages received per second by all SUBs together",
    "memory": "RSS growth MiB: how much the reading process's peak RSS grew during the flood",
    **{
        workload: "GB/s: payload received per second, in 10⁹ bytes (the frames' bytes)"
        for workload in LARGE
    },
}
_THROUGHPUT_FIGURES = "msg/s: messages received per second"
#: What the ``_INFO`` columns of a workload are, for its legend.
_INFO_FIGURES = {
    "memory": "bound MiB: what the reader may hold, its read buffer's high watermark (64 KiB on "
    "the streams, raw has none) plus ZeroMQ's queue (RCVHWM times the message size); issue "
    "17's target for 1 MiB messages: the growth stays within the bound and a few MiB",
}

#: The contenders ratios are taken against, in column order.
_BASES = ("raw", "blocking")


def _fmt(value: float, key: str) -> str:
    if key == "rate":
        return f"{value:,.0f}"
    if key == "gb_s":
        return f"{value:,.2f}"
    return f"{value:,.1f}"


def _ratio(value: float, base: float | None, better: str) -> str:
    """How many times better than ``base`` ``value`` is: above 1 is better, whichever way the
    metric goes (``better`` is "higher" or "lower")."""
    if not base or not value:
        return "—"
    return f"{value / base if better == 'higher' else base / value:.2f}"


def _group(samples: Iterable[Sample]) -> dict[tuple[str, str, str], dict[str, list[Sample]]]:
    """(workload, loop, case) -> contender -> samples, keeping first-seen order."""
    groups: dict[tuple[str, str, str], dict[str, list[Sample]]] = {}
    for sample in samples:
        key = (sample.workload, sample.loop, sample.case)
        groups.setdefault(key, {}).setdefault(sample.contender, []).append(sample)
    return groups


def medians(runs: Sequence[Sample], key: str) -> tuple[float, float, float] | None:
    """Median, min and max of ``key`` over ``runs``; None if any run failed."""
    if not runs or any(run.error for run in runs):
        return None
    values = [run.metrics[key] for run in runs]
    return statistics.median(values), min(values), max(values)


def _workload_legend(workload: str, names: list[str], bases: list[str]) -> list[str]:
    """The lines under a table: its contenders, its figures and what its ratios mean."""
    contenders = "; ".join(f"{name}: {CONTENDERS.get(name, name)}" for name in names)
    directions = {better for _, _, better in _METRICS.get(workload, _THROUGHPUT)}
    arrows = ", ".join(
        text
        for direction, text in (("higher", "↑ higher is better"), ("lower", "↓ lower is better"))
        if direction in directions
    )
    figures = f"{_FIGURES.get(workload, _THROUGHPUT_FIGURES)}; {arrows}"
    if workload in _INFO_FIGURES:
        figures += f".  {_INFO_FIGURES[workload]}"
    if bases:
        columns = " and ".join(f"x {base}" for base in bases)
        ratios = (
            f"{columns}: how many times better than {' / '.join(bases)} in the same loop and "
            "case (a rate: own ÷ base; time, turns or memory: base ÷ own), so above 1 is "
            "better and below 1 worse."
        )
    else:
        ratios = "No ratios: neither raw nor blocking ran this workload."
    text = f"Contenders: {contenders}.  {figures}.  {ratios}"
    return legend(text)


def _table(workload: str, title: str, samples: list[Sample]) -> list[str]:
    metrics = _METRICS.get(workload, _THROUGHPUT)
    info = _INFO.get(workload, [])
    names = list(dict.fromkeys(s.contender for s in samples))
    bases = [base for base in _BASES if base in names]
    header = ["loop", "case", "contender"]
    for _, heading, better in metrics:
        arrow = "↑" if better == "higher" else "↓"
        header += [f"{heading} {arrow}", "min-max", *(f"x {base}" for base in bases)]
    header += [heading for _, heading in info]
    header.append("runs")
    rows: list[list[str]] = []
    failures: list[str] = []
    for (_, loop, case), by_contender in _group(samples).items():
        for name, runs in by_contender.items():
            row = [loop, case, name]
            for key, _, better in metrics:
                own = medians(runs, key)
                if own is None:
                    row += ["FAILED", "", *("" for _ in bases)]
                    continue
                row += [_fmt(own[0], key), f"{_fmt(own[1], key)}-{_fmt(own[2], key)}"]
                for base in bases:
                    theirs = medians(by_contender.get(base, []), key)
                    row.append(_ratio(own[0], theirs[0] if theirs else None, better))
            for key, _ in info:
                shown = medians(runs, key) if all(key in r.metrics for r in runs) else None
                row.append(_fmt(shown[0], key) if shown else "")
            ok = sum(1 for run in runs if not run.error)
            row.append(f"{ok}/{len(runs)}")
            rows.append(row)
            failures += [
                f"{loop} {case} {name} round {run.round}: {run.error}" for run in runs if run.error
            ]
    out = layout(title, header, rows, text_columns=3)
    out += [f"  FAILED: {failure}" for failure in failures]
    out += ["", *_workload_legend(workload, names, bases)]
    return out


def legend(text: str) -> list[str]:
    """``text`` as the legend under a table: wrapped at 100 columns, indented two."""
    return textwrap.wrap(
        text, width=100, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False
    )


def layout(
    title: str, header: list[str], rows: list[list[str]], text_columns: int, grouped_by: int = 2
) -> list[str]:
    """A titled table: the first ``text_columns`` columns left-aligned, the rest right-aligned,
    and a blank line between groups of rows (rows whose first ``grouped_by`` cells differ)."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i < text_columns else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [title, "=" * len(title), line(header), line(["-" * w for w in widths])]
    previous = ""
    for row in rows:
        group = "/".join(row[:grouped_by])
        if previous and group != previous:
            out.append("")
        previous = group
        out.append(line(row))
    return out


@dataclass(frozen=True)
class Target:
    """One of issue 17's ratios: ``contender``'s GB/s over the best of ``bases``' in ``case``
    of the large-message workloads, whose target is ``TARGET`` in ``workloads``."""

    heading: str
    case: str
    contender: str
    bases: tuple[str, ...]
    workloads: tuple[str, ...]
    meaning: str


#: The ratio every ``Target`` must reach, where it applies.
TARGET = 0.9
_SIZES = tuple(LARGE)
_BEST_BLOCKING = ("blocking", "blocking copy=False")
TARGETS = (
    Target(
        heading="recv",
        case="peer process, recv",
        contender="zmqstreams",
        bases=("blocking",),
        workloads=_SIZES,
        meaning="zmqstreams ÷ blocking, both receiving bytes; target at every size",
    ),
    Target(
        heading="recv copy=False",
        case="peer process, recv",
        contender="zmqstreams copy=False",
        bases=("blocking copy=False",),
        workloads=("big1m", "big16m"),
        meaning="zmqstreams copy=False ÷ blocking copy=False, both receiving zmq.Frame; target "
        "at 1 MiB and 16 MiB",
    ),
    Target(
        heading="send",
        case="peer process, send",
        contender="zmqstreams",
        bases=_BEST_BLOCKING,
        workloads=_SIZES,
        meaning="zmqstreams (write() of bytes, then drain()) ÷ the better of blocking and "
        "blocking copy=False; target at every size",
    ),
    Target(
        heading="send Frame",
        case="peer process, send",
        contender="zmqstreams copy=False",
        bases=_BEST_BLOCKING,
        workloads=(),
        meaning="zmqstreams copy=False (write() of a zmq.Frame) ÷ the same; no target",
    ),
)


def _target_ratio(target: Target, by_contender: dict[str, list[Sample]], workload: str) -> str:
    """The ratio's cell: ``0.95``, ``0.85*`` when short of a target that applies, ``—`` when a
    contender or every base is missing or failed."""
    own = medians(by_contender.get(target.contender, []), "gb_s")
    theirs = [medians(by_contender.get(base, []), "gb_s") for base in target.bases]
    if own is None or any(t is None for t in theirs):
        return "— "
    ratio = own[0] / max(t[0] for t in theirs if t is not None)
    short = workload in target.workloads and ratio < TARGET
    return f"{ratio:.2f}{'*' if short else ' '}"


def _targets_table(samples: list[Sample]) -> list[str]:
    """Issue 17's ratios, one row per loop and message size; empty if there is none to show."""
    groups = _group(s for s in samples if s.workload in LARGE)
    rows: list[list[str]] = []
    for loop in dict.fromkeys(s.loop for s in samples):
        for workload, shape in LARGE.items():
            cells = [
                _target_ratio(t, groups.get((workload, loop, t.case), {}), workload)
                for t in TARGETS
            ]
            if any(cell != "— " for cell in cells):
                rows.append([loop, SHAPES[shape].label, *cells])
    if not rows:
        return []
    header = ["loop", "frames", *(f"{t.heading} " for t in TARGETS)]
    meanings = "  ".join(f"{t.heading}: {t.meaning}." for t in TARGETS)
    text = (
        f"GB/s medians of the tables above, in the peer-process topology.  {meanings}  Target: "
        f"{TARGET:.2f} or more; * marks a ratio short of a target that applies; — a contender "
        "or base that did not run or failed."
    )
    return [
        *layout(LARGE_TITLE, header, rows, text_columns=2, grouped_by=1),
        "",
        *legend(text),
    ]


def render_tables(samples: list[Sample]) -> str:
    """One plain-text table per workload, in a fixed order; issue 17's ratios after the
    large-message tables."""
    blocks: list[str] = []
    titles = {**TITLES, "loopcost": LOOPCOST_TITLE, "memory": MEMORY_TITLE}
    ran = {s.workload for s in samples}
    last_large = [w for w in LARGE if w in ran][-1:]
    for workload, title in titles.items():
        chosen = [s for s in samples if s.workload == workload]
        if chosen:
            blocks.append("\n".join(_table(workload, title, chosen)))
        if [workload] == last_large and (summary := _targets_table(samples)):
            blocks.append("\n".join(summary))
    return "\n\n".join(blocks)


def save_json(path: str, samples: list[Sample], meta: dict[str, Any]) -> None:
    """Write every sample, with the machine and settings, to ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "samples": [asdict(s) for s in samples]}, fh, indent=1)


def save_plot(path: str, samples: list[Sample]) -> str:
    """Draw the ``x raw`` ratios as grouped bars (one panel per loop); return a status line."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return (
            f"--plot {path}: matplotlib is not installed, no chart drawn "
            "(pip install -e '.[bench]' to get it)"
        )
    loops = list(dict.fromkeys(s.loop for s in samples if s.workload != "memory"))
    contenders = [c for c in dict.fromkeys(s.contender for s in samples) if c != "raw"]
    fig, axes = plt.subplots(len(loops), 1, figsize=(13, 4.5 * len(loops)), squeeze=False)
    for ax, loop in zip(axes[:, 0], loops, strict=True):
        groups = {
            key: runs
            for key, runs in _group(s for s in samples if s.loop == loop).items()
            if "raw" in runs
        }
        labels: list[str] = []
        ratios: dict[str, list[float]] = {c: [] for c in contenders}
        for (workload, _, case), by_contender in groups.items():
            if workload in ("memory", "loopcost"):
                continue
            key, _, better = _METRICS.get(workload, _THROUGHPUT)[0]
            raw = medians(by_contender["raw"], key)
            short = case.replace("peer process, ", "peer ").replace("peer process", "peer")
            labels.append(f"{workload}\n{short}")
            for name in contenders:
                own = medians(by_contender.get(name, []), key)
                value = own[0] / raw[0] if own and raw else 0.0
                # Latency: plot raw/own so that taller is better everywhere.
                ratios[name].append(1 / value if better == "lower" and value else value)
        width = 0.8 / max(1, len(contenders))
        for i, name in enumerate(contenders):
            xs = [x + i * width for x in range(len(labels))]
            ax.bar(xs, ratios[name], width, label=name)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels, fontsize=7)
        ax.set_ylabel("speed vs raw zmq.asyncio (x)")
        ax.set_title(f"{loop} loop — taller is better (latency shown as raw/own)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"chart saved to {path}"
