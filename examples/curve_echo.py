"""A CURVE-encrypted echo server whose ZAP handler admits one client key, with an intruder.

What it shows:

- the server (ROUTER) is a CURVE server: traffic is encrypted, and every client must prove it
  holds the secret key matching its public key;
- pyzmq's ``AsyncioAuthenticator`` answers ZeroMQ's ZAP requests on this loop and admits only
  the public keys it was told about (here through a callback; ``configure_curve(location=...)``
  reads them from a directory of certificates instead);
- ``MAXMSGSIZE`` caps what one peer can make the server buffer (an oversized frame disconnects
  that peer), and the read watermarks cap the rest;
- an intruder with a key of its own gets nothing through; the server's monitor reports the
  refused handshake (``HANDSHAKE_FAILED_AUTH``, value 400: the ZAP status code).

Options are given to ``create_zmq_stream(options=...)``, which sets them before it binds or
connects: CURVE options only apply to connections made after they are set.

Run: python examples/curve_echo.py   (ends by itself within seconds, exit status 0)
"""

from __future__ import annotations

import asyncio
import sys

import zmq
from zmq.auth.asyncio import AsyncioAuthenticator

import zmqstreams


class AllowOneKey:
    """ZAP credentials provider: admits exactly one Z85 public key."""

    def __init__(self, public_key: bytes) -> None:
        self.public_key = public_key

    def callback(self, domain: str, key: bytes) -> bool:
        allowed = key == self.public_key
        print(f"ZAP: key {key[:8].decode()}... {'allowed' if allowed else 'denied'}")
        return allowed


async def echo(server: zmqstreams.ZmqStream) -> None:
    """Echo every message back to its sender, until the server stream is closed."""
    try:
        while True:
            identity, *frames = await server.read()
            server.write([identity, b"echo: " + b" ".join(frames)])
    except zmqstreams.ZmqStreamClosed:
        pass


async def main() -> int:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    intruder_public, intruder_secret = zmq.curve_keypair()

    # The ZAP handler lives in the context zmqstreams uses: zmq.Context.instance().
    auth = AsyncioAuthenticator()
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=AllowOneKey(client_public))

    server = await zmqstreams.create_zmq_stream(
        zmq.ROUTER,
        bind="tcp://127.0.0.1:*",
        options={
            zmq.CURVE_SERVER: 1,
            zmq.CURVE_SECRETKEY: server_secret,
            zmq.MAXMSGSIZE: 64 * 1024,
        },
    )
    assert server.transport is not None
    await server.transport.enable_monitor(
        zmq.EVENT_HANDSHAKE_SUCCEEDED
        | zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    )
    (address,) = server.transport.bindings()
    print(f"server: CURVE echo on {address}")
    echoing = asyncio.create_task(echo(server))

    def client_options(public: bytes, secret: bytes) -> dict[int, int | bytes]:
        return {
            zmq.CURVE_SERVERKEY: server_public,
            zmq.CURVE_PUBLICKEY: public,
            zmq.CURVE_SECRETKEY: secret,
        }

    intruder = await zmqstreams.create_zmq_stream(
        zmq.DEALER, options=client_options(intruder_public, intruder_secret)
    )
    client = await zmqstreams.create_zmq_stream(
        zmq.DEALER, options=client_options(client_public, client_secret)
    )
    assert client.transport is not None
    assert intruder.transport is not None
    status = 0
    try:
        async with asyncio.timeout(10):
            await intruder.transport.connect(address)
            intruder.write([b"let me in"])
            event = await server.read_event()
            while event.event != zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                event = await server.read_event()
            print(f"server monitor: {event.event.name} (ZAP status {event.value}): refused")

            await client.transport.connect(address)
            for n in range(3):
                client.write([b"message %d" % n])
                reply = await client.read()
                print(f"client got: {reply[0].decode()}")
        try:
            async with asyncio.timeout(0.2):
                await intruder.read()
            print("intruder got a reply: this must not happen")
            status = 1
        except TimeoutError:
            print("intruder: nothing got through")
    finally:
        for stream in (intruder, client, server):
            stream.close()
        for stream in (intruder, client, server):
            await stream.wait_closed()
        await echoing
        auth.stop()
    return status


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
