"""Loop work per round trip, counted (not timed): the read path must stay as cheap as raw's.

A one-loop DEALER/ROUTER ping-pong on a loop that counts its turns and the callbacks it runs.
Raw ``zmq.asyncio`` needs 4 turns and 6 callbacks per round trip (per direction: pyzmq's fd
handler, its future clean-up, one task wake-up); zmqstreams must need no more.  Counts are
deterministic enough for CI, unlike microseconds (those are in ``benchmarks/``).
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.contenders import RawAsyncio, ZmqStreams
from benchmarks.loopcost import count_loop_cost
from zmqstreams._reader import RESUME_INTAKE_S

from helpers import measured

ROUND_TRIPS = 1000

#: Per round trip, apart from timers: raw's 4 turns and 6 callbacks.  Background intake after a
#: read() is resumed by one timer per 50 ms per stream, not per message; a timer can also cost
#: a turn.  How many fire depends on how long the round trips take, so a busy machine sees more
#: of them: they are counted apart and bounded by the time the round trips took.  The 0.01 left
#: for other callbacks covers a timer-resumed receive that finds a message.
MAX_CALLBACKS = 6.01
MAX_TURNS = 4.5
#: The streams that run that timer (every ``RESUME_INTAKE_S``) in the ping-pong: DEALER, ROUTER.
STREAMS = 2


def test_round_trip_costs_no_more_loop_work_than_raw(record_property: Any) -> None:
    """zmqstreams: 4 turns and 6 callbacks per round trip like raw zmq.asyncio, plus timers."""
    ours = count_loop_cost(ZmqStreams(), ROUND_TRIPS)
    raw = count_loop_cost(RawAsyncio(), ROUND_TRIPS)
    measured(
        record_property,
        f"per round trip: zmqstreams {ours}; raw {raw}",
        zmqstreams_turns=ours.turns,
        zmqstreams_callbacks=ours.callbacks,
        raw_turns=raw.turns,
        raw_callbacks=raw.callbacks,
    )
    assert ours.turns - ours.timers <= MAX_TURNS
    assert ours.callbacks - ours.timers <= MAX_CALLBACKS
    # The timer is periodic, not per message: at most one per interval and stream.
    seconds = ours.micros * ROUND_TRIPS / 1e6
    assert ours.timers * ROUND_TRIPS <= STREAMS * (seconds / RESUME_INTAKE_S + 1)
    # The counter itself works: raw's figures are the known ones.
    assert raw.turns == pytest.approx(4.0, abs=0.1)
    assert raw.callbacks == pytest.approx(6.0, abs=0.1)
    assert raw.timers == 0
