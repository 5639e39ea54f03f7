"""Socket monitoring: events as SocketEvent, backlog eviction, enable/disable cycles (tcp only)."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
import zmq
from _helpers_proc import run_limits

import zmqstreams

from helpers import endpoint_of, settle_tasks, task_names, wait_until

pytestmark = pytest.mark.anyio


async def read_events_until(
    stream: zmqstreams.ZmqStream, wanted: zmq.Event
) -> list[zmqstreams.SocketEvent]:
    events = []
    with anyio.fail_after(5):
        while not events or events[-1].event != wanted:
            events.append(await stream.read_event())
    return events


async def test_connect_events_are_reported(zmq_stream_factory: Any) -> None:
    """The document's flow: enable_monitor, connect, then read_event() sees the connection."""
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    address = endpoint_of(router)
    dealer = await zmq_stream_factory(zmq.DEALER)
    await dealer.transport.enable_monitor()
    await dealer.transport.connect(address)
    events = await read_events_until(dealer, zmq.Event.HANDSHAKE_SUCCEEDED)
    kinds = [e.event for e in events]
    assert zmq.Event.CONNECTED in kinds
    for event in events:
        assert isinstance(event, zmqstreams.SocketEvent)
        assert isinstance(event.event, zmq.Event)
        assert type(event.value) is int
        assert event.endpoint == address
    connected = next(e for e in events if e.event == zmq.Event.CONNECTED)
    assert connected.value > 2  # a real fd, not a flag set


async def test_disconnect_is_reported(zmq_stream_factory: Any) -> None:
    """Closing the peer shows up as DISCONNECTED on the monitored stream."""
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    dealer = await zmq_stream_factory(zmq.DEALER, connect=endpoint_of(router))
    await router.transport.enable_monitor()
    dealer.write([b"hello"])
    with anyio.fail_after(5):
        await router.read()
    dealer.close()
    await read_events_until(router, zmq.Event.DISCONNECTED)


async def test_events_mask(zmq_stream_factory: Any) -> None:
    """enable_monitor(events) delivers only the requested kinds."""
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    dealer = await zmq_stream_factory(zmq.DEALER)
    await dealer.transport.enable_monitor(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    await dealer.transport.connect(endpoint_of(router))
    with anyio.fail_after(5):
        event = await dealer.read_event()
    assert event.event == zmq.Event.HANDSHAKE_SUCCEEDED


async def test_backlog_discards_oldest_events(zmq_stream_factory: Any) -> None:
    """With events_backlog=1 only the newest unread event is kept."""
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    dealer = await zmq_stream_factory(zmq.DEALER, events_backlog=1)
    await dealer.transport.enable_monitor()
    await dealer.transport.connect(endpoint_of(router))
    # CONNECT_DELAYED, CONNECTED and HANDSHAKE_SUCCEEDED arrive; two are evicted.
    await wait_until(lambda: dealer.statistics().events_dropped >= 2)
    with anyio.fail_after(5):
        event = await dealer.read_event()
    assert event.event == zmq.Event.HANDSHAKE_SUCCEEDED


async def test_enable_twice_is_harmless(zmq_stream_factory: Any) -> None:
    """A second enable_monitor() while running does nothing (one monitor task)."""
    stream = await zmq_stream_factory(zmq.DEALER)
    await stream.transport.enable_monitor()
    await stream.transport.enable_monitor()
    assert [n for n in task_names() if n == "zmqstreams-monitor"] == ["zmqstreams-monitor"]
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    await stream.transport.connect(endpoint_of(router))
    await read_events_until(stream, zmq.Event.HANDSHAKE_SUCCEEDED)


async def test_disable_enable_cycles(zmq_stream_factory: Any) -> None:
    """Many disable/enable cycles in a row work, and events still flow afterwards."""
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    stream = await zmq_stream_factory(zmq.DEALER)
    for _ in range(50):
        await stream.transport.enable_monitor()
        await stream.transport.disable_monitor()
    assert "zmqstreams-monitor" not in task_names()
    await stream.transport.enable_monitor()
    await stream.transport.connect(endpoint_of(router))
    await read_events_until(stream, zmq.Event.HANDSHAKE_SUCCEEDED)


async def test_disable_without_enable_and_twice(zmq_stream_factory: Any) -> None:
    """disable_monitor() with no monitor, or twice, does nothing."""
    stream = await zmq_stream_factory(zmq.DEALER)
    await stream.transport.disable_monitor()
    await stream.transport.enable_monitor()
    await stream.transport.disable_monitor()
    await stream.transport.disable_monitor()


async def test_close_with_monitor_wakes_read_event(zmq_stream_factory: Any) -> None:
    """close() of a monitored stream ends a pending read_event() and the monitor task."""
    stream = await zmq_stream_factory(zmq.DEALER)
    await stream.transport.enable_monitor()
    with anyio.fail_after(5):
        task = asyncio.create_task(stream.read_event())
        await settle_tasks()
        stream.close()
        with pytest.raises(zmqstreams.ZmqStreamClosed):
            await task
        await stream.wait_closed()
    assert "zmqstreams-monitor" not in task_names()
    with pytest.raises(zmqstreams.ZmqStreamClosed):
        await stream.read_event()


async def test_monitor_on_send_only_stream(zmq_stream_factory: Any) -> None:
    """A PUSH stream (no reader) still reports its connection events."""
    pull = await zmq_stream_factory(zmq.PULL, bind="tcp://127.0.0.1:*")
    push = await zmq_stream_factory(zmq.PUSH)
    await push.transport.enable_monitor()
    await push.transport.connect(endpoint_of(pull))
    await read_events_until(push, zmq.Event.HANDSHAKE_SUCCEEDED)
    push.write([b"x"])
    with anyio.fail_after(5):
        assert await pull.read() == [b"x"]


@pytest.mark.parametrize("pending_read", [False, True], ids=["idle", "pending-read"])
async def test_monitored_socket_closed_behind_our_back(
    zmq_stream_factory: Any, pending_read: bool
) -> None:
    """A monitored socket closed under the stream ends it, and libzmq can destroy the socket.

    libzmq sends MONITOR_STOPPED from the socket's destructor with a blocking send into the
    monitor pipe, so the stream keeps its PAIR open and drained until that event; closing the
    PAIR first left the socket's fds behind (seen on uvloop, caught by the leak check).  With
    no read pending, the reader task itself must notice that the socket is gone.  Each round
    binds the port the last one used: it must be free once ``wait_closed()`` has returned.
    """
    endpoint = "tcp://127.0.0.1:*"
    for _ in range(3):
        stream = await zmq_stream_factory(zmq.PAIR, bind=endpoint)
        endpoint = endpoint_of(stream)
        assert stream.transport is not None
        await stream.transport.enable_monitor(zmq.EVENT_LISTENING | zmq.EVENT_CLOSED)
        with anyio.fail_after(10):
            pending = asyncio.create_task(stream.read()) if pending_read else None
            await settle_tasks()
            stream.get_extra_info("zmq_socket").close()
            await stream.wait_closed()
            if pending is not None:
                with pytest.raises(zmqstreams.ZmqStreamClosed):
                    await pending


# ---------------------------------------------------------------- limits (in a child process)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["blocked-loop", "socket-limit"])
def test_monitor_never_stalls_libzmq(mode: str) -> None:
    """libzmq sends monitor events with a blocking send: they must never fill a pipe (a busy
    loop while a peer churns 3000 connections, then bind()), and enable_monitor() at the socket
    limit must leave nothing half enabled (term() of the context returns afterwards).  Either
    failure hangs the whole process, so each runs in a child process with a timeout."""
    run_limits(mode)
