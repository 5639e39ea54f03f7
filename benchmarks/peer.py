"""The peer in another process: blocking pyzmq serving one command at a time over a pipe.

In the "peer" topology the measured side is alone in its event loop and this process is the
other end: a source (PUSH) when the measured side receives, a sink (PULL) when it sends, an echo
(ROUTER) for round trips.  It is started once with ``multiprocessing`` (spawn) and reused;
every blocking call has a timeout, and the parent kills the process if a reply is late.

The peer must keep ahead of the measured side.  With frames of ``LEAN_FROM`` (1 MiB) and up it
therefore receives them as ``zmq.Frame`` (no copy) and sends from a few reused buffers,
rewriting only a buffer's sequence number once ZeroMQ has let go of it, instead of building each
message anew (at 16 MiB building alone runs at about 3 GB/s here, as fast as the fastest
receiver).  Below that it builds, sends and receives messages as the blocking contender does:
at 64 KiB the reused buffers' trackers cost more than they save.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
from typing import Any

import zmq

from benchmarks.contenders import (
    BLOCKING_TIMEOUT_MS,
    blocking_echo_n,
    blocking_recv_n,
    blocking_send_n,
)
from benchmarks.messages import SEQ, SHAPES, Shape

__all__ = ("Peer", "PeerError")

Reply = tuple[Any, ...]

#: Frames of this size and up are received without a copy and sent from reused buffers.
LEAN_FROM = 1024 * 1024


class PeerError(RuntimeError):
    """The peer failed, answered late (it was then killed) or reported bad messages."""


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """Child main: run commands until told to exit (or until the pipe closes)."""
    ctx = zmq.Context()
    while True:
        try:
            command, *args = conn.recv()
        except EOFError:
            break
        if command == "exit":
            break
        try:
            conn.send(_run(ctx, conn, command, *args))
        except zmq.ZMQBaseError as exc:  # ZMQError, or NotDone from a late tracker
            conn.send(("error", f"{command}: {type(exc).__name__}: {exc}"))
    ctx.destroy(linger=0)


def _run(
    ctx: zmq.Context[Any], conn: multiprocessing.connection.Connection, command: str, *args: Any
) -> Reply:
    kinds = {"source": zmq.PUSH, "sink": zmq.PULL, "echo": zmq.ROUTER}
    endpoint, shape_name, count = args
    sock = ctx.socket(kinds[command])
    sock.setsockopt(zmq.LINGER, 2000)
    sock.setsockopt(zmq.RCVTIMEO, BLOCKING_TIMEOUT_MS)
    sock.setsockopt(zmq.SNDTIMEO, BLOCKING_TIMEOUT_MS)
    shape = SHAPES[shape_name]
    sock.setsockopt(zmq.SNDHWM, shape.hwm)
    sock.setsockopt(zmq.RCVHWM, shape.hwm)
    sock.connect(endpoint)
    try:
        lean = shape.size >= LEAN_FROM
        if command == "source":
            if lean:
                _send_from_reused_buffers(sock, shape, count)
            else:
                blocking_send_n(sock, shape.maker(), 0, count)
            return ("done", 0)
        if command == "sink":
            check, copy = shape.checker(), not lean
            bad = blocking_recv_n(sock, check, 0, 1, copy)
            conn.send(("primed",))
            bad += blocking_recv_n(sock, check, 1, count - 1, copy)
            return ("done", bad)
        blocking_echo_n(sock, count)
        return ("done", 0)
    finally:
        sock.close()


def _send_from_reused_buffers(sock: zmq.Socket[Any], shape: Shape, count: int) -> None:
    """Send messages 0 .. ``count - 1`` of ``shape`` (one frame each) without a copy, from
    ``hwm + 2`` buffers (fewer for fewer messages): enough that only ZeroMQ's high-water mark
    makes this wait.

    A buffer is rewritten (its 8-byte sequence number) only once the tracker of its last send
    says ZeroMQ is done with it, so every message goes out as ``shape.maker()`` would build it.
    """
    if shape.frames != 1:
        raise ValueError("reused buffers hold one-frame messages")
    template = shape.maker()(0)[0]
    buffers = [bytearray(template) for _ in range(min(count, shape.hwm + 2))]
    trackers: list[zmq.MessageTracker | None] = [None] * len(buffers)
    pack_into, send = SEQ.pack_into, sock.send
    for seq in range(count):
        slot = seq % len(buffers)
        tracker = trackers[slot]
        if tracker is not None:
            tracker.wait(BLOCKING_TIMEOUT_MS / 1000)  # zmq.NotDone when late: the run fails
        pack_into(buffers[slot], 0, seq)
        trackers[slot] = send(buffers[slot], copy=False, track=True)
    for tracker in trackers:
        if tracker is not None:
            tracker.wait(BLOCKING_TIMEOUT_MS / 1000)


class Peer:
    """Parent-side handle of the peer process; restarts it after a failure."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: multiprocessing.connection.Connection | None = None

    def _ensure(self) -> multiprocessing.connection.Connection:
        if self._conn is None or self._proc is None or not self._proc.is_alive():
            self.stop()
            parent, child = self._ctx.Pipe()
            self._proc = self._ctx.Process(
                target=_serve, args=(child,), name="bench-peer", daemon=True
            )
            self._proc.start()
            child.close()
            self._conn = parent
        return self._conn

    def start(self, command: str, endpoint: str, shape: str, count: int) -> None:
        """Ask the peer to run ``command`` against ``endpoint`` (it connects there)."""
        self._ensure().send((command, endpoint, shape, count))

    async def reply(self, expect: str, limit: float) -> Reply:
        """Wait (without blocking the loop) for the peer's next reply, which must be ``expect``.

        On a timeout the peer is killed; an ``error`` reply or a bad count raises ``PeerError``.
        """
        conn = self._conn
        if conn is None:
            raise PeerError("the peer is not running")
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, conn.poll, limit)
        if not ready:
            self.stop()
            raise PeerError(f"the peer did not answer within {limit:.0f} s (killed)")
        try:
            reply: Reply = conn.recv()
        except EOFError:
            self.stop()
            raise PeerError("the peer died") from None
        if reply[0] != expect:
            raise PeerError(f"peer: {reply[1] if len(reply) > 1 else reply[0]}")
        if expect == "done" and reply[1]:
            raise PeerError(f"peer received {reply[1]} damaged or out-of-order messages")
        return reply

    def stop(self) -> None:
        """Ask the peer to exit; kill it if it does not within a second."""
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(("exit",))
            conn.close()
        if proc is not None:
            proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
