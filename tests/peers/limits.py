"""Child program for the tests at libzmq's limits, which could hang or exhaust a whole process.

    python limits.py blocked-loop   # libzmq's monitor must never stall on a busy loop
    python limits.py socket-limit   # enable_monitor() at the socket limit
    python limits.py many-streams   # create_zmq_stream() beyond MAX_SOCKETS

Prints ``OK ...`` and exits 0 on success; the test runs it with a timeout, so a deadlock shows
up as that timeout instead of hanging the test run.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
import threading

import zmq

import zmqstreams

#: Connections a peer opens and closes while the stream's loop cannot drain the monitor: each
#: brings about three events, well beyond the 1000 that libzmq's default HWM would hold.
CONNECTIONS = 3000


def churn(port: int) -> None:
    for _ in range(CONNECTIONS):
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass


async def blocked_loop() -> None:
    """The loop is busy while a peer churns connections; afterwards bind() returns and the
    events are there, bounded by events_backlog."""
    router = await zmqstreams.create_zmq_stream(
        zmq.ROUTER, bind="tcp://127.0.0.1:*", events_backlog=100
    )
    assert router.transport is not None
    await router.transport.enable_monitor()
    (endpoint,) = router.transport.bindings()
    port = int(endpoint.rsplit(":", 1)[1])
    peer = threading.Thread(target=churn, args=(port,))
    peer.start()
    peer.join()  # blocks the loop: nothing drains the monitor meanwhile
    await asyncio.wait_for(router.transport.bind("tcp://127.0.0.1:*"), 10)
    # Let the monitor task drain what libzmq queued; the stream keeps the newest 100.
    for _ in range(100):
        await asyncio.sleep(0.01)
        if router.statistics().events_dropped > CONNECTIONS:
            break
    dropped = router.statistics().events_dropped
    assert dropped > CONNECTIONS, dropped
    kept = 0
    while True:
        try:
            await asyncio.wait_for(router.read_event(), 0.5)
        except TimeoutError:
            break
        kept += 1
    assert kept >= 100, kept  # the newest 100, and whatever libzmq still delivered meanwhile
    router.close()
    await asyncio.wait_for(router.wait_closed(), 10)
    print(f"OK dropped={dropped} kept={kept}")


async def socket_limit() -> None:
    """At the context's socket limit enable_monitor() fails cleanly, leaving nothing half
    enabled: once the slots are freed it works, and term() of the context returns."""
    context = zmq.Context()
    context.set(zmq.MAX_SOCKETS, 8)
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    stream = await zmqstreams.create_zmq_stream(zmq.DEALER, zmq_sock=sock)
    assert stream.transport is not None
    fillers = []
    while True:
        try:
            fillers.append(context.socket(zmq.PAIR))
        except zmq.ZMQError:
            break
    refused = await _enable_monitor(stream.transport)
    assert refused is not None, "enable_monitor() succeeded with no socket slot left"
    assert refused.errno == errno.EMFILE, refused
    assert "MAX_SOCKETS is 8" in str(refused), refused
    assert "RLIMIT_NOFILE" in str(refused), refused
    for filler in fillers[-2:]:  # the PAIR of ours, and libzmq's own monitor socket
        filler.close(linger=0)
    for _ in range(500):  # libzmq frees the slots in its reaper thread, shortly after
        if await _enable_monitor(stream.transport) is None:
            break
        await asyncio.sleep(0.01)
    await stream.transport.bind("tcp://127.0.0.1:*")
    event = await asyncio.wait_for(stream.read_event(), 10)
    assert event.event == zmq.Event.LISTENING, event
    stream.close()
    await asyncio.wait_for(stream.wait_closed(), 10)
    for filler in fillers[:-2]:
        filler.close(linger=0)
    await asyncio.wait_for(asyncio.to_thread(context.term), 10)
    print("OK")


async def many_streams() -> None:
    """Streams beyond the global context's MAX_SOCKETS (1023): a clear OSError naming the type
    and both limits; closing one makes room again once libzmq released its slot."""
    streams = []
    refused: OSError | None = None
    while refused is None:
        try:
            streams.append(await zmqstreams.create_zmq_stream(zmq.DEALER))
        except OSError as exc:
            refused = exc
    message = str(refused)
    assert refused.errno == errno.EMFILE, refused
    assert "cannot create a DEALER socket" in message, message
    assert "MAX_SOCKETS is 1023" in message, message
    assert "RLIMIT_NOFILE" in message, message
    count = len(streams)
    assert 900 < count < 1024, count
    for stream in streams:
        stream.close()
    for stream in streams:
        await asyncio.wait_for(stream.wait_closed(), 10)
    for _ in range(500):  # libzmq frees the slots in its reaper thread, shortly after
        try:
            again = await zmqstreams.create_zmq_stream(zmq.DEALER)
        except OSError:
            await asyncio.sleep(0.01)
        else:
            again.close()
            await again.wait_closed()
            break
    else:
        raise AssertionError("no slot came back after closing every stream")
    print(f"OK streams={count}")


async def _enable_monitor(transport: zmqstreams.ZmqTransport) -> OSError | None:
    """``enable_monitor()``: ``None`` if it worked, else the ``OSError`` it raised."""
    try:
        await transport.enable_monitor()
    except OSError as exc:
        return exc
    return None


MODES = {"blocked-loop": blocked_loop, "socket-limit": socket_limit, "many-streams": many_streams}


def main() -> None:
    asyncio.run(MODES[sys.argv[1]]())


if __name__ == "__main__":
    main()
