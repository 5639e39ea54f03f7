"""read() and write() over real sockets: every transport, every socket type, message shapes."""

from __future__ import annotations

import anyio
import pytest

import zmqstreams

pytestmark = pytest.mark.anyio


async def test_pair_round_trip(pair: tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]) -> None:
    server, client = pair
    with anyio.fail_after(5):
        client.write([b"hello", b"world"])
        assert await server.read() == [b"hello", b"world"]
        server.write((b"back",))
        assert await client.read() == [b"back"]
