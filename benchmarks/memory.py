"""Peak memory of a reader that reads slowly while a peer floods it.

The reader runs alone in a fresh child process (spawn), so its RSS is not mixed with the rest
of the benchmark; the flood comes from a blocking PUSH socket in the parent.  The figure is the
child's peak RSS (``VmHWM``) minus its RSS just before the flood.  A reader that buffers
without bound grows with the flood; one bounded by its watermarks and ZeroMQ's HWM stays flat,
which is why each contender is run with a small and a large flood of each message size.

What may be held is stated, and reported as the bound: the read buffer's high watermark
(``high_read``, set to ``HIGH_READ`` on the streams; raw ``zmq.asyncio`` has no buffer) plus
ZeroMQ's queue, ``RCVHWM`` messages (the flood's ``hwm``, also its sender's ``SNDHWM``).  Issue
17's target for 1 MiB messages: the growth stays within the bound and a few MiB (the message
being decoded, the one being read, a watermark's overshoot of one message).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass
from typing import Any

import zmq

from benchmarks.contenders import BLOCKING_TIMEOUT_MS, available_contenders, blocking_send_n
from benchmarks.messages import SHAPES
from benchmarks.workloads import ADDR, RunFailed

__all__ = ("FLOODS", "HIGH_READ", "Flood", "measure_memory")

MIB = 1024 * 1024
#: The streams' read high watermark in this workload (their default, set explicitly).
HIGH_READ = 64 * 1024


@dataclass(frozen=True)
class Flood:
    """``mib`` MiB of ``shape`` messages, against a reader that takes ``burst`` messages, then
    sleeps ``pause`` seconds: far slower than the flood."""

    shape: str  # a key of messages.SHAPES
    mib: int
    burst: int
    pause: float
    #: The flood's SNDHWM and the reader's RCVHWM.
    hwm: int

    @property
    def label(self) -> str:
        return f"{self.mib} MiB of {SHAPES[self.shape].label}"

    @property
    def count(self) -> int:
        return self.mib * MIB // SHAPES[self.shape].message_bytes

    def bound_mib(self, high_read: int) -> float:
        """What the reader may hold: ``high_read`` plus ZeroMQ's queue, in MiB."""
        return (high_read + self.hwm * SHAPES[self.shape].message_bytes) / MIB


#: 4 KiB messages at ZeroMQ's default HWM; 1 MiB messages at an HWM of 16 (a 16 MiB queue),
#: read at most one per 5 ms (200 MiB/s).
FLOODS = (
    Flood("4KiB", 50, burst=16, pause=0.001, hwm=1000),
    Flood("4KiB", 200, burst=16, pause=0.001, hwm=1000),
    Flood("1MiB", 64, burst=1, pause=0.005, hwm=16),
    Flood("1MiB", 256, burst=1, pause=0.005, hwm=16),
)


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB: ``VmRSS`` now, ``VmHWM`` the peak.

    (``ru_maxrss`` would not do: it survives ``exec`` and so starts at the parent's RSS.)
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _read_slowly(
    conn: multiprocessing.connection.Connection, name: str, flood: Flood
) -> None:
    (contender,), _ = available_contenders([name])
    check = SHAPES[flood.shape].checker()
    count = flood.count
    end, endpoint = await contender.open(zmq.PULL, ADDR, bind=True, hwm=flood.hwm)
    try:
        high_read = 0
        if hasattr(end, "set_read_buffer_limits"):  # the streams; raw has no read buffer
            end.set_read_buffer_limits(HIGH_READ)
            high_read = HIGH_READ
        baseline = _status_kib("VmRSS")
        conn.send(("ready", endpoint))
        bad, seq = 0, 0
        while seq < count:
            burst = min(flood.burst, count - seq)
            bad += await contender.recv_n(end, check, seq, burst)
            seq += burst
            await asyncio.sleep(flood.pause)
        peak = _status_kib("VmHWM")
        conn.send(("done", bad, max(0, peak - baseline) / 1024, flood.bound_mib(high_read)))
    finally:
        await contender.close(end)


def _child(conn: multiprocessing.connection.Connection, loop: str, name: str, flood: Flood) -> None:
    factory: Any = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_read_slowly(conn, name, flood))
    except Exception as exc:
        conn.send(("error", repr(exc)))


def measure_memory(loop: str, contender: str, flood: Flood, timeout: float) -> dict[str, float]:
    """Flood a slow ``contender`` reader; return its RSS growth and the bound, in MiB."""
    shape = SHAPES[flood.shape]
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, loop, contender, flood), daemon=True)
    proc.start()
    child.close()
    deadline = time.monotonic() + timeout
    try:
        reply = _reply(parent, deadline)
        if reply[0] != "ready":
            raise RunFailed(f"reader: {reply[1]}")
        sock: zmq.Socket[Any] = zmq.Context.instance().socket(zmq.PUSH)
        sock.setsockopt(zmq.SNDTIMEO, BLOCKING_TIMEOUT_MS)
        sock.setsockopt(zmq.SNDHWM, flood.hwm)
        # Closing must not drop the tail of the flood still queued here.
        sock.setsockopt(zmq.LINGER, BLOCKING_TIMEOUT_MS)
        try:
            sock.connect(reply[1])
            blocking_send_n(sock, shape.maker(), 0, flood.count)
        except zmq.Again:
            raise RunFailed("the reader stopped taking messages") from None
        finally:
            sock.close()
        reply = _reply(parent, deadline)
        if reply[0] != "done":
            raise RunFailed(f"reader: {reply[1]}")
        if reply[1]:
            raise RunFailed(f"{reply[1]} damaged or out-of-order messages received")
        return {"rss_growth_mb": float(reply[2]), "bound_mb": float(reply[3])}
    finally:
        parent.close()
        proc.join(max(0.1, min(5.0, deadline - time.monotonic())))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)


def _reply(conn: multiprocessing.connection.Connection, deadline: float) -> tuple[Any, ...]:
    if not conn.poll(max(0.0, deadline - time.monotonic())):
        raise RunFailed("the reader did not finish in time (killed)")
    try:
        reply: tuple[Any, ...] = conn.recv()
    except EOFError:
        raise RunFailed("the reader process died") from None
    return reply
