"""The benchmark harness: what every receiver checks, and who runs which case.  No sockets:
made-up frames and the case lists only."""

from __future__ import annotations

from typing import Any

import pytest
import zmq

from benchmarks.cli import case_contenders, flood_contenders
from benchmarks.memory import FLOODS
from benchmarks.messages import SHAPES
from benchmarks.workloads import CASES, LARGE

ZERO_COPY = {"zmqstreams copy=False", "raw copy=False", "blocking copy=False"}


class NoCopyFrame(zmq.Frame):
    """A frame whose bytes must not be asked for: the check reads it in place."""

    @property
    def bytes(self) -> Any:
        raise AssertionError("the check copied the frame")


@pytest.mark.parametrize("shape", ["64KiB", "1MiB"])
@pytest.mark.parametrize("kind", [bytes, NoCopyFrame])
def test_large_frames_are_checked_whole_as_bytes_or_frames(shape: str, kind: Any) -> None:
    """Size, sequence number and every byte after it, for bytes and for uncopied frames."""
    check = SHAPES[shape].checker()
    good = SHAPES[shape].maker()(7)[0]
    assert check([kind(good)], 7)
    assert not check([kind(good)], 8)  # out of order
    assert not check([kind(good[:-1])], 7)  # short
    assert not check([kind(good), kind(good)], 7)  # a frame too many
    for where in (8, len(good) // 2, len(good) - 1):  # damaged after the sequence number
        damaged = bytearray(good)
        damaged[where] ^= 0xFF
        assert not check([kind(bytes(damaged))], 7)


def test_small_frames_are_checked_as_before() -> None:
    """Below the copy threshold frames are always bytes, checked without a memoryview."""
    shape = SHAPES["3x1KiB"]
    msg = shape.maker()(3)
    assert shape.checker()(msg, 3)
    assert not shape.checker()(msg[:2], 3)
    # The filler is the one the documented results were measured with.
    assert msg[0][8:] == bytes((i * 7 + 3) & 0xFF for i in range(1024 - 8))


def test_queues_hold_at_most_64_mib() -> None:
    """ZeroMQ's default HWM up to 64 KiB frames, fewer messages above."""
    assert {name: SHAPES[name].hwm for name in ("64B", "64KiB", "1MiB", "16MiB")} == {
        "64B": 1000,
        "64KiB": 1000,
        "1MiB": 64,
        "16MiB": 4,
    }


def test_zero_copy_variants_run_the_large_message_workloads_only() -> None:
    for case in CASES:
        runners = case_contenders(case)
        assert (runners >= ZERO_COPY) == (case.workload in LARGE), case
        assert "zmqstreams" in runners


def test_large_message_workloads_run_in_every_topology_and_direction() -> None:
    for workload in ("big1m", "big16m"):
        assert {(c.topology, c.direction) for c in CASES if c.workload == workload} == {
            ("loop", "both"),
            ("peer", "recv"),
            ("peer", "send"),
        }


def test_the_zero_copy_reader_is_flooded_with_large_messages_only() -> None:
    names = ["zmqstreams", "zmqstreams copy=False"]
    large = [f for f in FLOODS if SHAPES[f.shape].large]
    assert large, "a flood of large messages"
    for flood in FLOODS:
        expected = names if flood in large else ["zmqstreams"]
        assert flood_contenders(flood, names) == expected


def test_the_1_mib_flood_states_a_small_bound() -> None:
    """64 KiB of read buffer plus 16 queued 1 MiB messages; the flood is far larger."""
    (small, large) = [f for f in FLOODS if f.shape == "1MiB"]
    assert small.bound_mib(64 * 1024) == pytest.approx(16.0625)
    assert small.mib >= 3 * small.bound_mib(64 * 1024)
    assert large.mib == 4 * small.mib
