"""Liveness: telling a frozen, dead or absent peer from a slow one.

A DEALER talks to an echo server run as a separate process, which the example then slows down,
freezes (SIGSTOP), revives (SIGCONT) and kills (SIGKILL).  What it shows:

- ZeroMQ heartbeats (``HEARTBEAT_IVL``/``HEARTBEAT_TIMEOUT``/``HEARTBEAT_TTL``, given to
  ``create_zmq_stream(options=...)``) close a connection whose peer stopped answering, and the
  monitor reports ``DISCONNECTED`` within the heartbeat timeout; a frozen process keeps its TCP
  connection up, so without heartbeats nothing would ever be reported;
- a *slow* peer is not a dead one: its ZeroMQ I/O thread answers the heartbeats while its
  application is busy, so no ``DISCONNECTED`` comes while it works on a long request;
- ``HANDSHAKE_SUCCEEDED`` (not ``CONNECTED``, which only means TCP) says a ZeroMQ peer answers;
- with no peer, ZeroMQ retries at ``RECONNECT_IVL``, doubling up to ``RECONNECT_IVL_MAX``
  (``CONNECT_RETRIED`` events), and with ``IMMEDIATE`` the messages nobody can take wait in the
  stream's write buffer, where ``statistics()`` shows them;
- the slow joiner of PUB/SUB: a publisher drops what it sends before a subscription reaches it;
  an XPUB sees the subscription arrive as a message, and only then publishes.

Times printed are what this run measured.  POSIX only (it sends signals to its peer).

Run: python examples/liveness.py   (ends by itself within a few seconds, exit status 0)
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import zmq

import zmqstreams

#: Options of the client: heartbeats, reconnect back-off, and no queueing without a peer.
LIVENESS: dict[int, int] = {
    zmq.HEARTBEAT_IVL: 100,  # send a PING every 100 ms on each connection
    zmq.HEARTBEAT_TIMEOUT: 300,  # no traffic for 300 ms after a PING: close the connection
    zmq.HEARTBEAT_TTL: 1000,  # ask the peer to drop us after 1 s without traffic from us
    zmq.RECONNECT_IVL: 100,  # retry a lost connection after 100 ms...
    zmq.RECONNECT_IVL_MAX: 400,  # ...then after 200, 400, 400 ms...
    zmq.IMMEDIATE: 1,  # queue messages only on connections whose handshake succeeded
}


def run_peer() -> None:
    """The peer process: a plain pyzmq ROUTER that echoes, sleeping first on ``sleep <s>``."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind("tcp://127.0.0.1:*")
    print("READY", sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    while True:
        routing_id, *frames = sock.recv_multipart()
        if frames[0].startswith(b"sleep "):
            time.sleep(float(frames[0].split()[1]))  # busy: only the application thread waits
        sock.send_multipart([routing_id, *frames])


async def wait_for(stream: zmqstreams.ZmqStream, kind: zmq.Event) -> zmqstreams.SocketEvent:
    """Read monitor events until one of ``kind`` comes."""
    while (event := await stream.read_event()).event != kind:
        pass
    return event


async def read_watching(stream: zmqstreams.ZmqStream) -> tuple[list[bytes], bool]:
    """``read()`` the next message; also say whether a ``DISCONNECTED`` came meanwhile."""
    watcher = asyncio.create_task(wait_for(stream, zmq.Event.DISCONNECTED))
    try:
        msg = await stream.read()
    finally:
        watcher.cancel()  # cancelling read_event() loses no event
        await asyncio.wait([watcher])  # one read_event() at a time: let it end first
    return msg, not watcher.cancelled()


async def liveness() -> None:
    peer = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "peer", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert peer.stdout is not None
        endpoint = (await peer.stdout.readline()).decode().split()[1]
        client = await zmqstreams.create_zmq_stream(zmq.DEALER, options=LIVENESS)
        assert client.transport is not None
        async with client, asyncio.timeout(10):
            await client.transport.enable_monitor()  # before connect, to see every event
            await client.transport.connect(endpoint)
            await wait_for(client, zmq.Event.HANDSHAKE_SUCCEEDED)
            print("peer up: HANDSHAKE_SUCCEEDED")

            # Slow: the request takes 1 s, more than three heartbeat timeouts.
            started = time.monotonic()
            client.write([b"sleep 1.0"])
            reply, disconnected = await read_watching(client)
            print(f"peer slow: reply {reply} after {time.monotonic() - started:.1f} s,")
            if disconnected:
                print("  but DISCONNECTED meanwhile: heartbeats unanswered?")
            else:
                print("  no DISCONNECTED meanwhile: its I/O thread answered the heartbeats")

            # Frozen: the process stops, its TCP connection stays up.
            peer.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            await wait_for(client, zmq.Event.DISCONNECTED)
            print(f"peer frozen: DISCONNECTED after {time.monotonic() - started:.1f} s")
            print(f"  (heartbeat timeout {LIVENESS[zmq.HEARTBEAT_TIMEOUT] / 1000} s)")

            # Back: ZeroMQ reconnects by itself; the handshake says the peer answers again.
            peer.send_signal(signal.SIGCONT)
            await wait_for(client, zmq.Event.HANDSHAKE_SUCCEEDED)
            client.write([b"are you back?"])
            print(f"peer back: HANDSHAKE_SUCCEEDED, reply {await client.read()}")

            # Dead: the kernel closes a killed process's connections at once.
            peer.kill()
            await peer.wait()
            await wait_for(client, zmq.Event.DISCONNECTED)
            print("peer killed: DISCONNECTED")

            # Absent: ZeroMQ retries with back-off; writes wait in the stream's buffer.
            client.write([b"anyone there?"])
            retries = [(await wait_for(client, zmq.Event.CONNECT_RETRIED)).value for _ in range(4)]
            print(f"no peer: CONNECT_RETRIED, next attempts in {retries} ms")
            stats = client.statistics()
            print(f"no peer: {stats.write_buffer_messages} message waits in the write buffer")
            client.transport.abort()  # drop the message nobody will take, without lingering
    finally:
        if peer.returncode is None:
            peer.kill()  # SIGKILL ends a stopped process too
        await peer.wait()


async def slow_joiner() -> None:
    """PUB/SUB: publish only once the subscription has reached the publisher."""
    pub = await zmqstreams.create_zmq_stream(zmq.XPUB, bind="tcp://127.0.0.1:*")
    assert pub.transport is not None
    (endpoint,) = pub.transport.bindings()
    sub = await zmqstreams.create_zmq_stream(
        zmq.SUB, connect=endpoint, options={zmq.SUBSCRIBE: b"news"}
    )
    async with pub, sub, asyncio.timeout(10):
        pub.write([b"news: too early"])  # the subscription is still on its way: dropped
        subscription = await pub.read()  # XPUB: b"\x01" + topic when a subscription arrives
        print(f"publisher: subscription {subscription} arrived")
        pub.write([b"news: on time"])
        first = await sub.read()
        if first == [b"news: too early"]:  # the subscription won the race this time
            first = await sub.read()
        print(f"subscriber got {first}")


async def main() -> None:
    await liveness()
    await slow_joiner()


if __name__ == "__main__":
    if sys.argv[1:] == ["peer"]:
        run_peer()
    else:
        asyncio.run(main())
