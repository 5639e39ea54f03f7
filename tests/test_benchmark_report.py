"""The benchmark tables: ratios above 1 always mean better, a legend under every table, and no
column for a base that did not run.  Fed made-up samples: nothing is measured here."""

from __future__ import annotations

import pytest

from benchmarks.report import Sample, render_tables


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
        "50.0", "50.0-50.0", "2.00", "0.50", "80.0", "80.0-80.0", "1.00", "0.50", "1/1",
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

