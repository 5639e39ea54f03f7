"""The workloads: what one timed run of one contender does, in each topology.

A run opens fresh sockets on ``tcp://127.0.0.1``, primes the connection with one untimed
message (so connecting is never timed), times ``count`` messages, checks that every one arrived
intact and in order, and closes.  A run that lost, damaged or reordered a message raises
``RunFailed``; the caller reports it as FAILED, never as a figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import zmq

from benchmarks.contenders import Contender
from benchmarks.messages import SHAPES
from benchmarks.peer import Peer, PeerError

__all__ = ("CASES", "LARGE", "TITLES", "Case", "RunFailed", "measure")

ADDR = "tcp://127.0.0.1:*"
#: Subscribers in the PUB/SUB workload.
SUBSCRIBERS = 4
#: Round trips made before the timed ones, in every round-trip run.
RTT_WARMUP = 50


class RunFailed(Exception):
    """A run lost, damaged or reordered a message, or did not finish in time."""


@dataclass(frozen=True)
class Case:
    """One workload in one topology; ``direction`` says which side is measured."""

    workload: str  # push64 | multi1k | big64k | big1m | big16m | rtt | docexample | pubsub
    topology: str  # loop (both ends in one event loop) | peer (peer in another process)
    direction: str  # both | recv | send | rtt
    shape: str  # a key of messages.SHAPES

    @property
    def label(self) -> str:
        where = "one loop" if self.topology == "loop" else "peer process"
        return where if self.direction in ("both", "rtt") else f"{where}, {self.direction}"


#: Workload titles, in table order.
TITLES: dict[str, str] = {
    "push64": "PUSH/PULL, 64 B messages",
    "multi1k": "PUSH/PULL, 3-frame messages of 1 KiB frames",
    "big64k": "PUSH/PULL, 64 KiB frames",
    "big1m": "PUSH/PULL, 1 MiB frames",
    "big16m": "PUSH/PULL, 16 MiB frames",
    "rtt": "DEALER/ROUTER round trip, 64 B, one request outstanding",
    "docexample": "aiozmq's Streams API example: DEALER writes, ROUTER reads and echoes, "
    "DEALER reads (one task)",
    "pubsub": f"PUB to {SUBSCRIBERS} SUBs, 64 B messages, one loop",
}

#: The large-message workloads: figures in GB/s, and the zero-copy contenders run them too.
LARGE: dict[str, str] = {"big64k": "64KiB", "big1m": "1MiB", "big16m": "16MiB"}

CASES: tuple[Case, ...] = (
    *(
        case
        for workload, shape in (("push64", "64B"), ("multi1k", "3x1KiB"), *LARGE.items())
        for case in (
            Case(workload, "loop", "both", shape),
            Case(workload, "peer", "recv", shape),
            Case(workload, "peer", "send", shape),
        )
    ),
    Case("rtt", "loop", "rtt", "64B"),
    Case("rtt", "peer", "rtt", "64B"),
    Case("docexample", "loop", "rtt", "doc"),
    Case("pubsub", "loop", "both", "64B"),
)


async def measure(
    case: Case, contender: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    """Run ``case`` once for ``contender`` with ``count`` timed messages; return its metrics.

    Throughput cases give ``{"rate": messages per second}`` (deliveries for PUB/SUB), and the
    large-message ones ``"gb_s"`` too (10^9 payload bytes per second); round trips give
    ``{"p50_us", "p99_us"}``.  Raises ``RunFailed``.
    """
    runner = {
        ("loop", "both"): _loop_stream,
        ("peer", "recv"): _peer_recv,
        ("peer", "send"): _peer_send,
        ("loop", "rtt"): _loop_rtt,
        ("peer", "rtt"): _peer_rtt,
    }[(case.topology, case.direction)]
    if case.workload == "pubsub":
        runner = _loop_pubsub
    elif case.workload == "docexample":
        runner = _loop_doc_example
    try:
        metrics = await asyncio.wait_for(runner(case, contender, peer, count, limit), limit)
    except TimeoutError:
        raise RunFailed(f"did not finish within {limit:.0f} s") from None
    except PeerError as exc:
        raise RunFailed(str(exc)) from None
    if case.workload in LARGE:
        metrics["gb_s"] = metrics["rate"] * SHAPES[case.shape].message_bytes / 1e9
    return metrics


def _verify(bad: int, what: str) -> None:
    if bad:
        raise RunFailed(f"{bad} damaged or out-of-order messages {what}")


def _rtt_metrics(latencies_ns: list[int]) -> dict[str, float]:
    timed = sorted(latencies_ns[RTT_WARMUP:])
    p99 = timed[min(len(timed) - 1, round(0.99 * (len(timed) - 1)))]
    return {"p50_us": statistics.median(timed) / 1000, "p99_us": p99 / 1000}


async def _loop_stream(
    case: Case, c: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    shape = SHAPES[case.shape]
    make, check = shape.maker(), shape.checker()
    pull, endpoint = await c.open(zmq.PULL, ADDR, bind=True, hwm=shape.hwm)
    try:
        push, _ = await c.open(zmq.PUSH, endpoint, bind=False, hwm=shape.hwm)
        try:
            await c.send_n(push, make, 0, 1)
            _verify(await c.recv_n(pull, check, 0, 1), "(priming)")
            started = time.perf_counter()
            sender = asyncio.ensure_future(c.send_n(push, make, 1, count))
            try:
                bad = await c.recv_n(pull, check, 1, count)
                await sender
            finally:
                sender.cancel()
            elapsed = time.perf_counter() - started
            _verify(bad, "received")
        finally:
            await c.close(push)
    finally:
        await c.close(pull)
    return {"rate": count / elapsed}


async def _peer_recv(
    case: Case, c: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    shape = SHAPES[case.shape]
    check = shape.checker()
    pull, endpoint = await c.open(zmq.PULL, ADDR, bind=True, hwm=shape.hwm)
    try:
        peer.start("source", endpoint, case.shape, count + 1)
        _verify(await c.recv_n(pull, check, 0, 1), "(priming)")
        started = time.perf_counter()
        bad = await c.recv_n(pull, check, 1, count)
        elapsed = time.perf_counter() - started
        await peer.reply("done", limit)
        _verify(bad, "received")
    finally:
        await c.close(pull)
    return {"rate": count / elapsed}


async def _peer_send(
    case: Case, c: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    shape = SHAPES[case.shape]
    make = shape.maker()
    push, endpoint = await c.open(zmq.PUSH, ADDR, bind=True, hwm=shape.hwm)
    try:
        peer.start("sink", endpoint, case.shape, count + 1)
        await c.send_n(push, make, 0, 1)
        await peer.reply("primed", limit)
        started = time.perf_counter()
        await c.send_n(push, make, 1, count)
        # Timed until the peer has received and checked the last message.
        await peer.reply("done", limit)
        elapsed = time.perf_counter() - started
    finally:
        await c.close(push)
    return {"rate": count / elapsed}


@contextlib.asynccontextmanager
async def _router_dealer(c: Contender[Any]) -> AsyncIterator[tuple[Any, Any]]:
    """A bound ROUTER and a DEALER connected to it, both closed on the way out."""
    router, endpoint = await c.open(zmq.ROUTER, ADDR, bind=True)
    try:
        dealer, _ = await c.open(zmq.DEALER, endpoint, bind=False)
        try:
            yield router, dealer
        finally:
            await c.close(dealer)
    finally:
        await c.close(router)


async def _loop_rtt(
    case: Case, c: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    shape = SHAPES[case.shape]
    total = RTT_WARMUP + count
    async with _router_dealer(c) as (router, dealer):
        echo = asyncio.ensure_future(c.echo_n(router, total))
        try:
            latencies, bad = await c.request_n(dealer, shape.maker(), shape.checker(), total)
            await echo
        finally:
            echo.cancel()
    _verify(bad, "in replies")
    return _rtt_metrics(latencies)


async def _peer_rtt(
    case: Case, c: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    shape = SHAPES[case.shape]
    total = RTT_WARMUP + count
    dealer, endpoint = await c.open(zmq.DEALER, ADDR, bind=True)
    try:
        peer.start("echo", endpoint, case.shape, total)
        latencies, bad = await c.request_n(dealer, shape.maker(), shape.checker(), total)
        await peer.reply("done", limit)
    finally:
        await c.close(dealer)
    _verify(bad, "in replies")
    return _rtt_metrics(latencies)


async def _loop_doc_example(
    case: Case, c: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    """The first example of aiozmq's "Streams API" documentation page, timed per iteration,
    in one task.

    ``dealer.write((b"data", b"ask", i))``, ``router.read()``, ``router.write(data)``,
    ``dealer.read()``: each step awaited in turn, as the document writes it.
    """
    total = RTT_WARMUP + count
    latencies: list[int] = []
    bad = 0
    now = time.perf_counter_ns
    async with _router_dealer(c) as (router, dealer):
        for i in range(total):
            msg = [b"data", b"ask", str(i).encode("utf-8")]
            started = now()
            await c.send_one(dealer, msg)
            data = await c.recv_one(router)
            await c.send_one(router, data)
            answer = await c.recv_one(dealer)
            latencies.append(now() - started)
            if answer != msg:
                bad += 1
    _verify(bad, "in answers")
    return _rtt_metrics(latencies)


async def _loop_pubsub(
    case: Case, c: Contender[Any], peer: Peer, count: int, limit: float
) -> dict[str, float]:
    """PUB and 4 SUBs in one loop; HWMs lifted so that PUB never drops (a drop fails the run)."""
    shape = SHAPES[case.shape]
    make, check = shape.maker(), shape.checker()
    pub, endpoint = await c.open(zmq.PUB, ADDR, bind=True, hwm=0)
    subs: list[Any] = []
    try:
        for _ in range(SUBSCRIBERS):
            subs.append((await c.open(zmq.SUB, endpoint, bind=False, hwm=0))[0])
        # Subscriptions travel asynchronously: publish a marker until every SUB has one.
        joined = [asyncio.ensure_future(c.recv_until(sub, [b"S"])) for sub in subs]
        try:
            while not all(task.done() for task in joined):
                await c.send_one(pub, [b"S"])
                await asyncio.wait(joined, timeout=0.005)
            await asyncio.gather(*joined)
        finally:
            for task in joined:
                task.cancel()
        await c.send_one(pub, [b"G"])
        await asyncio.gather(*(c.recv_until(sub, [b"G"]) for sub in subs))
        started = time.perf_counter()
        readers = [asyncio.ensure_future(c.recv_n(sub, check, 0, count)) for sub in subs]
        try:
            await c.send_n(pub, make, 0, count)
            bad = sum(await asyncio.gather(*readers))
        finally:
            for reader in readers:
                reader.cancel()
        elapsed = time.perf_counter() - started
        _verify(bad, "received")
    finally:
        for sub in subs:
            await c.close(sub)
        await c.close(pub)
    return {"rate": SUBSCRIBERS * count / elapsed}
