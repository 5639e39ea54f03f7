"""Loop work per round trip, counted (not timed): the read path must stay as cheap as raw's.

A one-loop DEALER/ROUTER ping-pong on a loop that counts its turns and the callbacks it runs.
Raw ``zmq.asyncio`` needs 4 turns and 6 callbacks per round trip (per direction: pyzmq's fd
handler, its future clean-up, one task wake-up); zmqstreams must need no more.  Counts are
deterministic enough for CI, unlike microseconds (those are in ``benchmarks/``).
"""

from __future__ import annotations

import pytest

from benchmarks.contenders import RawAsyncio, ZmqStreams
from benchmarks.loopcost import count_loop_cost

ROUND_TRIPS = 1000

#: Background intake after a read() is resumed by one timer per 50 ms, not per message: over
#: 1000 round trips that is a handful of callbacks, hence the small allowance over 6.
MAX_CALLBACKS = 6.05
MAX_TURNS = 4.5


def test_round_trip_costs_no_more_loop_work_than_raw() -> None:
    """zmqstreams: at most 4.5 turns and ~6 callbacks per round trip, like raw zmq.asyncio."""
    ours = count_loop_cost(ZmqStreams(), ROUND_TRIPS)
    raw = count_loop_cost(RawAsyncio(), ROUND_TRIPS)
    print(f"\nper round trip: zmqstreams {ours}\n                raw        {raw}")
    assert ours.turns <= MAX_TURNS
    assert ours.callbacks <= MAX_CALLBACKS
    # The counter itself works: raw's figures are the known ones.
    assert raw.turns == pytest.approx(4.0, abs=0.1)
    assert raw.callbacks == pytest.approx(6.0, abs=0.1)
