"""Liveness: heartbeats, reconnects and monitor events against a real peer process.

The peer (``peers/zmq_peer.py echo``) is a plain-pyzmq ROUTER in a child process that the tests
SIGKILL, SIGSTOP and SIGCONT.  Event waits are bounded generously (the machine may be busy); a
wait that must see *no* event lasts several heartbeat timeouts.  Every peer is killed and reaped
at teardown, however the test ends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
import zmq
from _helpers_proc import Peer, wait_event

import zmqstreams

pytestmark = pytest.mark.anyio

#: Heartbeats every 100 ms; a connection silent for 300 ms after a PING is closed.
HEARTBEATS = {zmq.HEARTBEAT_IVL: 100, zmq.HEARTBEAT_TIMEOUT: 300, zmq.RECONNECT_IVL: 100}

#: Bound on an event that must come (many heartbeat timeouts: the machine may be busy).
WITHIN = 5

#: How long a wait that must see no DISCONNECTED lasts: five heartbeat timeouts of HEARTBEATS.
QUIET = 1.5

PeerFactory = Callable[..., Awaitable[Peer]]


@pytest.fixture
async def start_peer() -> AsyncIterator[PeerFactory]:
    """``await start_peer(mode, endpoint, *args)``: a peer process, killed and reaped after."""
    peers: list[Peer] = []

    async def factory(mode: str, endpoint: str, *args: str) -> Peer:
        peer = await Peer.start(mode, endpoint, *args)
        peers.append(peer)
        return peer

    yield factory
    for peer in peers:
        await peer.aclose()  # SIGKILL ends a stopped process too
    for peer in peers:
        assert peer.proc.returncode is not None
        assert not process_exists(peer.proc.pid), "a zombie was left behind"


def process_exists(pid: int) -> bool:
    """Whether ``pid`` is still in the process table (running, stopped or a zombie)."""
    return os.path.exists(f"/proc/{pid}")


async def connected_client(
    zmq_stream_factory: Any, peer: Peer, options: dict[int, int]
) -> zmqstreams.ZmqStream:
    """A DEALER with ``options``, its monitor on, connected to ``peer`` and handshaken."""
    client = await zmq_stream_factory(zmq.DEALER, options=options)
    await client.transport.enable_monitor()
    await client.transport.connect(peer.endpoint)
    await wait_event(client, zmq.EVENT_HANDSHAKE_SUCCEEDED, within=WITHIN)
    await round_trip(client, b"hello")
    return client


async def round_trip(client: zmqstreams.ZmqStream, payload: bytes) -> None:
    with anyio.fail_after(WITHIN):
        client.write([payload])
        assert await client.read() == [payload]


async def no_disconnect_within(client: zmqstreams.ZmqStream, seconds: float) -> None:
    """Fail if a DISCONNECTED event comes within ``seconds``."""
    with anyio.move_on_after(seconds):
        event = await wait_event(client, zmq.EVENT_DISCONNECTED, within=seconds + 1)
        pytest.fail(f"unexpected {event}")


def unused_endpoint() -> str:
    """A tcp endpoint on 127.0.0.1 that nobody listens on (a port just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


async def test_killed_peer_is_reported_disconnected(
    zmq_stream_factory: Any, start_peer: PeerFactory
) -> None:
    """A SIGKILLed peer (no close, no goodbye) shows up as DISCONNECTED, then reconnect tries.

    On one host the kernel closes a killed process's connections, so this would be quick even
    without heartbeats; the frozen peer below is the case only heartbeats catch.
    """
    peer = await start_peer("echo", "tcp://127.0.0.1:*")
    client = await connected_client(zmq_stream_factory, peer, HEARTBEATS)
    await peer.kill()
    event = await wait_event(client, zmq.EVENT_DISCONNECTED, within=WITHIN)
    assert event.endpoint == peer.endpoint
    retried = await wait_event(client, zmq.EVENT_CONNECT_RETRIED, within=WITHIN)
    assert retried.value >= HEARTBEATS[zmq.RECONNECT_IVL]


async def test_frozen_peer_is_disconnected_by_heartbeats(
    zmq_stream_factory: Any, start_peer: PeerFactory
) -> None:
    """SIGSTOP keeps the TCP connection up; heartbeats close it; SIGCONT brings the peer back."""
    peer = await start_peer("echo", "tcp://127.0.0.1:*")
    client = await connected_client(zmq_stream_factory, peer, HEARTBEATS)
    peer.proc.send_signal(signal.SIGSTOP)
    try:
        await wait_event(client, zmq.EVENT_DISCONNECTED, within=WITHIN)
    finally:
        peer.proc.send_signal(signal.SIGCONT)
    # ZeroMQ reconnects by itself; the handshake says the peer's ZeroMQ answers again.
    await wait_event(client, zmq.EVENT_HANDSHAKE_SUCCEEDED, within=WITHIN)
    await round_trip(client, b"back")


async def test_frozen_peer_goes_unnoticed_without_heartbeats(
    zmq_stream_factory: Any, start_peer: PeerFactory
) -> None:
    """The contrast: without heartbeats nothing reports the frozen peer; TCP stays up."""
    peer = await start_peer("echo", "tcp://127.0.0.1:*")
    client = await connected_client(zmq_stream_factory, peer, {zmq.RECONNECT_IVL: 100})
    peer.proc.send_signal(signal.SIGSTOP)
    try:
        await no_disconnect_within(client, QUIET)
    finally:
        peer.proc.send_signal(signal.SIGCONT)
    await round_trip(client, b"same connection")


async def test_slow_peer_keeps_its_connection(
    zmq_stream_factory: Any, start_peer: PeerFactory
) -> None:
    """A peer busy for longer than the heartbeat timeout is not disconnected: its I/O thread
    answers the PINGs while its application sleeps."""
    peer = await start_peer("echo", "tcp://127.0.0.1:*")
    # A wider timeout than HEARTBEATS: a busy machine must not starve an I/O thread that long.
    options = {zmq.HEARTBEAT_IVL: 100, zmq.HEARTBEAT_TIMEOUT: 1000}
    client = await connected_client(zmq_stream_factory, peer, options)
    client.write([b"sleep 2.0"])
    watcher = asyncio.create_task(wait_event(client, zmq.EVENT_DISCONNECTED, within=30))
    try:
        with anyio.fail_after(WITHIN + 2):
            assert await client.read() == [b"sleep 2.0"]
    finally:
        watcher.cancel()
        await asyncio.wait([watcher])
    assert watcher.cancelled(), f"disconnected while the peer was busy: {watcher.result()}"


async def test_absent_peer_retries_with_backoff_and_buffers_writes(
    zmq_stream_factory: Any, start_peer: PeerFactory
) -> None:
    """No peer: CONNECT_RETRIED with growing intervals, and with IMMEDIATE the write waits in
    the stream's buffer (statistics()) until a peer appears and takes it."""
    endpoint = unused_endpoint()
    ivl, ivl_max = 50, 200
    client = await zmq_stream_factory(
        zmq.DEALER,
        options={zmq.RECONNECT_IVL: ivl, zmq.RECONNECT_IVL_MAX: ivl_max, zmq.IMMEDIATE: 1},
    )
    await client.transport.enable_monitor()
    await client.transport.connect(endpoint)
    client.write([b"anyone?"])
    intervals = [
        (await wait_event(client, zmq.EVENT_CONNECT_RETRIED, within=WITHIN)).value for _ in range(4)
    ]
    # libzmq doubles the interval up to the maximum (newer versions add a jitter below ivl).
    assert intervals == sorted(intervals), intervals
    assert ivl <= intervals[0] < 2 * ivl, intervals
    assert ivl_max <= intervals[-1] < ivl_max + ivl, intervals
    stats = client.statistics()
    assert (stats.write_buffer_messages, stats.messages_written) == (1, 0)

    await start_peer("echo", endpoint)
    await wait_event(client, zmq.EVENT_HANDSHAKE_SUCCEEDED, within=WITHIN)
    with anyio.fail_after(WITHIN):
        assert await client.read() == [b"anyone?"]
    stats = client.statistics()
    assert (stats.write_buffer_messages, stats.messages_written) == (0, 1)
