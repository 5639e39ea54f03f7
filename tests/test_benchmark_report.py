"""The benchmark tables: ratios above 1 always mean better, a legend under every table, and no
column for a base that did not run.  Fed made-up samples: nothing is measured here."""

from __future__ import annotations

import re

import pytest

from benchmarks.report import LARGE_TITLE, TARGET, Sample, render_tables


def samples(workload: str, figures: dict[str, dict[str, float]]) -> list[Sample]:
    """One round per contender of ``workload`` in one case, with the given metrics."""
    return [
        Sample("asyncio", workload, "one loop", name, 1, dict(metrics))
        for name, metrics in figures.items()
    ]


def cells(table: str, contender: str) -> list[str]:
    """The cells of ``contender``'s row after loop, case ("one loop") and contender."""
    line = next(line for line in table.splitlines() if f"  {contender}  " in line)
    return line.split()[4:]


def legend(table: str) -> str:
    return " ".join(line.strip() for line in table.split("\n\n")[-1].splitlines())


def test_latency_ratio_is_above_one_when_faster() -> None:
    """Half raw's round-trip time reads 2.00 x raw, not 0.50: above 1 is better for latency."""
    table = render_tables(
        samples(
            "rtt",
            {
                "zmqstreams": {"p50_us": 50.0, "p99_us": 80.0},
                "raw": {"p50_us": 100.0, "p99_us": 80.0},
                "blocking": {"p50_us": 25.0, "p99_us": 40.0},
            },
        )
    )
    # p50, min-max, x raw, x blocking, then the same for p99, then runs
    assert cells(table, "zmqstreams") == [
        "50.0",
        "50.0-50.0",
        "2.00",
        "0.50",
        "80.0",
        "80.0-80.0",
        "1.00",
        "0.50",
        "1/1",
    ]


def test_throughput_ratio_is_above_one_when_faster() -> None:
    """Three times raw's rate reads 3.00 x raw; half blocking's, 0.50 x blocking."""
    table = render_tables(
        samples(
            "push64",
            {"zmqstreams": {"rate": 300.0}, "raw": {"rate": 100.0}, "blocking": {"rate": 600.0}},
        )
    )
    assert cells(table, "zmqstreams")[-3:] == ["3.00", "0.50", "1/1"]


@pytest.mark.parametrize(
    ("workload", "metrics", "figures"),
    [
        ("push64", {"rate": 1.0}, "msg/s: messages received per second; ↑ higher is better"),
        ("rtt", {"p50_us": 1.0, "p99_us": 2.0}, "99th-percentile time of one round trip; ↓ lower"),
        ("memory", {"rss_growth_mb": 1.0}, "RSS grew during the flood; ↓ lower is better"),
    ],
)
def test_every_table_has_a_legend(workload: str, metrics: dict[str, float], figures: str) -> None:
    """Under each table: its contenders, what its figures are, which way is better, and what a
    ratio means."""
    table = render_tables(samples(workload, {n: metrics for n in ("zmqstreams", "raw", "aiozmq")}))
    text = legend(table)
    assert text.startswith("Contenders: zmqstreams: this library; raw: pyzmq's zmq.asyncio")
    assert "aiozmq: aiozmq 1.0 streams" in text
    assert "blocking:" not in text  # only the contenders of this table
    assert figures in text
    assert "x raw: how many times better than raw" in text
    assert "above 1 is better" in text


def test_no_column_for_a_base_that_did_not_run() -> None:
    """The quick run's memory table has zmqstreams alone: no ratio columns full of dashes."""
    table = render_tables(samples("memory", {"zmqstreams": {"rss_growth_mb": 10.8}}))
    header = table.splitlines()[2]
    assert "x raw" not in header
    assert "x blocking" not in header
    assert "—" not in table
    assert "No ratios: neither raw nor blocking ran this workload." in legend(table)


def test_large_messages_are_shown_in_gb_per_second() -> None:
    """The large-message tables show GB/s (two decimals), and their legend says what it is."""
    table = render_tables(
        [
            Sample("asyncio", "big1m", "one loop", name, 1, {"rate": rate, "gb_s": gb_s})
            for name, rate, gb_s in (("zmqstreams", 2000.0, 2.1), ("raw", 1000.0, 1.05))
        ]
    )
    assert "GB/s ↑" in table.splitlines()[2]
    assert "msg/s" not in table
    assert cells(table, "zmqstreams")[:3] == ["2.10", "2.10-2.10", "2.00"]
    assert "GB/s: payload received per second, in 10⁹ bytes" in legend(table)


def peer(workload: str, direction: str, figures: dict[str, float]) -> list[Sample]:
    """One round per contender of ``workload`` from a peer process, in GB/s."""
    return [
        Sample("asyncio", workload, f"peer process, {direction}", name, 1, {"gb_s": gb_s})
        for name, gb_s in figures.items()
    ]


def targets(samples: list[Sample]) -> list[list[str]]:
    """The rows of issue 17's ratios: frame size, then one cell per ratio."""
    text = render_tables(samples)
    rows = text[text.index(LARGE_TITLE) :].splitlines()
    return [re.split(r"\s{2,}", row.strip())[1:] for row in rows if row.startswith("asyncio")]


def test_issue_ratios_are_computed_from_the_right_rows() -> None:
    """recv: zmqstreams ÷ blocking; recv copy=False: the zero-copy pair; send: zmqstreams ÷ the
    better blocking; a ratio short of a target that applies is marked with *."""
    samples = [
        *peer(
            "big1m",
            "recv",
            {
                "zmqstreams": 2.7,
                "blocking": 3.0,
                "zmqstreams copy=False": 3.6,
                "blocking copy=False": 4.0,
                "raw": 9.0,  # never a base here
            },
        ),
        *peer(
            "big1m",
            "send",
            {
                "zmqstreams": 2.0,
                "blocking": 1.0,
                "blocking copy=False": 2.5,
                "zmqstreams copy=False": 2.5,
            },
        ),
    ]
    (row,) = targets(samples)
    assert row == ["1 MiB", "0.90", "0.90", "0.80*", "1.00"]


def test_a_ratio_without_a_target_is_never_marked_short() -> None:
    """Zero-copy receive at 64 KiB and the Frame send have no target: shown, never starred."""
    samples = [
        *peer("big64k", "recv", {"zmqstreams copy=False": 1.0, "blocking copy=False": 2.0}),
        *peer(
            "big64k",
            "send",
            {"zmqstreams copy=False": 1.0, "blocking": 2.0, "blocking copy=False": 1.5},
        ),
    ]
    (row,) = targets(samples)
    assert row == ["64 KiB", "—", "0.50", "—", "0.50"]


def test_a_ratio_needs_every_base() -> None:
    """send is over the better of two bases: with one missing (or failed) it cannot be told."""
    failed = Sample("asyncio", "big1m", "peer process, send", "blocking copy=False", 1)
    failed.error = "did not finish within 20 s"
    samples = [
        *peer("big1m", "recv", {"zmqstreams": 1.0, "blocking": 1.0}),
        *peer("big1m", "send", {"zmqstreams": 1.0, "blocking": 2.0}),
        failed,
    ]
    (row,) = targets(samples)
    assert row == ["1 MiB", "1.00", "—", "—", "—"]


def test_rows_without_any_ratio_are_left_out() -> None:
    """No zmqstreams row from a peer process: no summary at all."""
    text = render_tables(peer("big1m", "send", {"raw": 1.0, "blocking": 2.0}))
    assert LARGE_TITLE not in text


def test_issue_ratios_legend_says_what_each_ratio_is() -> None:
    text = render_tables(peer("big16m", "recv", {"zmqstreams": 1.0, "blocking": 1.0}))
    summary = " ".join(line.strip() for line in text[text.index(LARGE_TITLE) :].splitlines())
    assert "recv: zmqstreams ÷ blocking, both receiving bytes" in summary
    assert "the better of blocking and blocking copy=False" in summary
    assert f"Target: {TARGET:.2f} or more; * marks a ratio short of a target" in summary


def test_no_issue_ratios_without_large_messages() -> None:
    text = render_tables(
        samples("push64", {"zmqstreams": {"rate": 1.0}, "blocking": {"rate": 1.0}})
    )
    assert LARGE_TITLE not in text


def test_memory_table_shows_the_bound_next_to_the_growth() -> None:
    """The bound is shown as it is (no min-max, no ratio), and the legend says what it is."""
    table = render_tables(
        samples(
            "memory",
            {
                "zmqstreams": {"rss_growth_mb": 19.1, "bound_mb": 16.0625},
                "raw": {"rss_growth_mb": 19.0, "bound_mb": 16.0},
            },
        )
    )
    header = table.splitlines()[2].split("  ")
    assert [h.strip() for h in header if h.strip()][-2:] == ["bound MiB", "runs"]
    assert cells(table, "zmqstreams") == ["19.1", "19.1-19.1", "0.99", "16.1", "1/1"]
    assert "bound MiB: what the reader may hold" in legend(table)
    assert "RCVHWM times the message size" in legend(table)
