"""``benchmarks.largecost``: the per-message counts of large messages, over a real peer process.

Small runs (64 KiB frames, a few dozen messages): what is checked is that every figure is
counted where the module says, not its size, which belongs to the benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from benchmarks.largecost import count_large_cost, render
from benchmarks.peer import Peer

COUNT = 40


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    peer = Peer()
    yield peer
    peer.stop()


@pytest.mark.parametrize("direction", ["recv", "send"])
def test_blocking_runs_in_the_loop_thread_and_a_stream_on_the_loop(
    peer: Peer, direction: str
) -> None:
    """Blocking pyzmq blocks the loop's own thread (the loop barely turns: its thread's CPU
    time and calls are its work); a stream's messages take loop turns."""
    blocking = count_large_cost("blocking", "big64k", direction, COUNT, peer=peer)
    stream = count_large_cost("zmqstreams", "big64k", direction, COUNT, peer=peer)
    for cost in (blocking, stream):
        assert cost.gb_s > 0
        assert cost.calls >= 1  # at least the driver's own call per message
        assert cost.loop_thread_us > 0
        assert cost.process_us >= cost.loop_thread_us
        assert cost.page_faults >= 0
    assert blocking.turns < 0.5  # the warm-up's and the set-up's turns, spread over COUNT
    if direction == "recv":
        assert stream.turns > blocking.turns
    table = render([blocking, stream], "big64k", "asyncio", COUNT)
    assert "64 KiB frames" in table
    assert [line.split()[:2] for line in table.splitlines()[4:6]] == [
        [direction, "blocking"],
        [direction, "zmqstreams"],
    ]


def test_turns_are_not_counted_on_another_loop(peer: Peer) -> None:
    """uvloop has no turn counter: the column says so rather than showing a zero."""
    uvloop = pytest.importorskip("uvloop")
    cost = count_large_cost(
        "zmqstreams", "big64k", "recv", COUNT, peer=peer, loop_factory=uvloop.new_event_loop
    )
    assert math.isnan(cost.turns)
    assert cost.gb_s > 0
