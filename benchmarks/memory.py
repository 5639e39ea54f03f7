"""Peak memory of a reader that reads slowly while a peer floods it.

The reader runs alone in a fresh child process (spawn), so its RSS is not mixed with the rest
of the benchmark; the flood comes from a blocking PUSH socket in the parent.  The figure is the
child's peak RSS (``VmHWM``) minus its RSS just before the flood.  A reader that buffers
without bound grows with the flood; one bounded by its watermarks and ZeroMQ's HWM stays flat,
which is why each contender is run with a small and a large flood.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import time
from typing import Any

import zmq

from benchmarks.contenders import BLOCKING_TIMEOUT_MS, available_contenders, blocking_send_n
from benchmarks.messages import SHAPES
from benchmarks.workloads import ADDR, RunFailed

__all__ = ("measure_memory",)

SHAPE = "4KiB"
#: The reader takes this many messages, then sleeps ``PAUSE`` seconds: far slower than the flood.
BURST = 16
PAUSE = 0.001


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB: ``VmRSS`` now, ``VmHWM`` the peak.

    (``ru_maxrss`` would not do: it survives ``exec`` and so starts at the parent's RSS.)
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _read_slowly(conn: multiprocessing.connection.Connection, name: str, count: int) -> None:
    (contender,), _ = available_contenders([name])
    check = SHAPES[SHAPE].checker()
    end, endpoint = await contender.open(zmq.PULL, ADDR, bind=True)
    try:
        baseline = _status_kib("VmRSS")
        conn.send(("ready", endpoint))
        bad, seq = 0, 0
        while seq < count:
            burst = min(BURST, count - seq)
            bad += await contender.recv_n(end, check, seq, burst)
            seq += burst
            await asyncio.sleep(PAUSE)
        peak = _status_kib("VmHWM")
        conn.send(("done", bad, max(0, peak - baseline) / 1024))
    finally:
        await contender.close(end)


def _child(conn: multiprocessing.connection.Connection, loop: str, name: str, count: int) -> None:
    factory: Any = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_read_slowly(conn, name, count))
    except Exception as exc:
        conn.send(("error", repr(exc)))


def measure_memory(loop: str, contender: str, flood_mb: int, timeout: float) -> dict[str, float]:
    """Flood a slow ``contender`` reader with ``flood_mb`` MB; return its RSS growth in MB."""
    shape = SHAPES[SHAPE]
    count = flood_mb * 1024 * 1024 // shape.message_bytes
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, loop, contender, count), daemon=True)
    proc.start()
    child.close()
    deadline = time.monotonic() + timeout
    try:
        reply = _reply(parent, deadline)
        if reply[0] != "ready":
            raise RunFailed(f"reader: {reply[1]}")
        sock: zmq.Socket[Any] = zmq.Context.instance().socket(zmq.PUSH)
        sock.setsockopt(zmq.SNDTIMEO, BLOCKING_TIMEOUT_MS)
        # Closing must not drop the tail of the flood still queued here.
        sock.setsockopt(zmq.LINGER, BLOCKING_TIMEOUT_MS)
        try:
            sock.connect(reply[1])
            blocking_send_n(sock, shape.maker(), 0, count)
        except zmq.Again:
            raise RunFailed("the reader stopped taking messages") from None
        finally:
            sock.close()
        reply = _reply(parent, deadline)
        if reply[0] != "done":
            raise RunFailed(f"reader: {reply[1]}")
        if reply[1]:
            raise RunFailed(f"{reply[1]} damaged or out-of-order messages received")
        return {"rss_growth_mb": float(reply[2])}
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
