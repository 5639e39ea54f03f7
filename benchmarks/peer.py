"""The peer in another process: blocking pyzmq serving one command at a time over a pipe.

In the "peer" topology the measured side is alone in its event loop and this process is the
other end: a source (PUSH) when the measured side receives, a sink (PULL) when it sends, an echo
(ROUTER) for round trips.  It is started once with ``multiprocessing`` (spawn) and reused;
every blocking call has a timeout, and the parent kills the process if a reply is late.
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
from benchmarks.messages import SHAPES

__all__ = ("Peer", "PeerError")

Reply = tuple[Any, ...]


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
        except zmq.ZMQError as exc:
            conn.send(("error", f"{command}: {exc}"))
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
    sock.connect(endpoint)
    shape = SHAPES[shape_name]
    try:
        if command == "source":
            blocking_send_n(sock, shape.maker(), 0, count)
            return ("done", 0)
        if command == "sink":
            check = shape.checker()
            bad = blocking_recv_n(sock, check, 0, 1)
            conn.send(("primed",))
            bad += blocking_recv_n(sock, check, 1, count - 1)
            return ("done", bad)
        blocking_echo_n(sock, count)
        return ("done", 0)
    finally:
        sock.close()


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
