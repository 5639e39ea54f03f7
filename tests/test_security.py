"""CURVE with ZAP: only the allowed client key gets messages through a CURVE server stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq
import zmq.auth
from _helpers_proc import wait_event
from zmq.auth.asyncio import AsyncioAuthenticator
from zmq.auth.base import Authenticator
from zmq.auth.thread import ThreadAuthenticator

import zmqstreams

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "curve_echo.py"


@dataclass
class Keys:
    """Z85 CURVE key pairs: the server's, the allowed client's and an unknown client's."""

    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes
    other_public: bytes
    other_secret: bytes
    #: Directory of allowed client public keys, as ``configure_curve()`` reads it.
    allowed_dir: Path


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    allowed = tmp_path / "allowed"
    secrets = tmp_path / "secrets"
    allowed.mkdir()
    secrets.mkdir()
    zmq.auth.create_certificates(secrets, "client")
    client_public, client_secret = zmq.auth.load_certificate(secrets / "client.key_secret")
    assert client_secret is not None
    (secrets / "client.key").rename(allowed / "client.key")
    server_public, server_secret = zmq.curve_keypair()
    other_public, other_secret = zmq.curve_keypair()
    return Keys(
        server_public,
        server_secret,
        client_public,
        client_secret,
        other_public,
        other_secret,
        allowed,
    )


@pytest.fixture(params=["asyncio-authenticator", "thread-authenticator"])
async def authenticator(request: pytest.FixtureRequest, keys: Keys) -> AsyncIterator[None]:
    """ZAP handler in the global context (where zmqstreams opens its sockets), one key allowed."""
    auth: Authenticator
    if request.param == "asyncio-authenticator":
        auth = AsyncioAuthenticator()
    else:
        auth = ThreadAuthenticator()
    auth.start()
    auth.configure_curve(domain="*", location=keys.allowed_dir)
    try:
        yield
    finally:
        auth.stop()


def _curve_client_options(keys: Keys, public: bytes, secret: bytes) -> dict[int, bytes | int]:
    return {
        zmq.CURVE_SERVERKEY: keys.server_public,
        zmq.CURVE_PUBLICKEY: public,
        zmq.CURVE_SECRETKEY: secret,
    }


async def _stream(
    zmq_type: int, options: dict[int, bytes | int], how: str, *, bind: str = "", connect: str = ""
) -> tuple[zmqstreams.ZmqStream, str]:
    """A stream whose options are set before bind/connect: by setsockopt, or on a zmq_sock."""
    if how == "setsockopt":
        stream = await zmqstreams.create_zmq_stream(zmq_type)
        assert stream.transport is not None
        for option, value in options.items():
            stream.transport.setsockopt(option, value)
        await stream.transport.enable_monitor()
        if bind:
            address = await stream.transport.bind(bind)
        else:
            address = await stream.transport.connect(connect)
        return stream, address
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq_type)
    for option, value in options.items():
        sock.setsockopt(option, value)
    stream = await zmqstreams.create_zmq_stream(
        zmq_type, zmq_sock=sock, bind=bind or None, connect=connect or None
    )
    assert stream.transport is not None
    await stream.transport.enable_monitor()
    return stream, next(iter(stream.transport.bindings())) if bind else connect


@pytest.mark.parametrize("how", ["setsockopt", "zmq_sock"])
async def test_curve_server_admits_only_the_allowed_key(
    keys: Keys, authenticator: None, how: str
) -> None:
    """The allowed key's messages arrive; another key's and a plaintext client's never do."""
    streams: list[zmqstreams.ZmqStream] = []
    try:
        server, address = await _stream(
            zmq.ROUTER,
            {zmq.CURVE_SERVER: 1, zmq.CURVE_SECRETKEY: keys.server_secret},
            how,
            bind="tcp://127.0.0.1:*",
        )
        streams.append(server)
        options = _curve_client_options(keys, keys.client_public, keys.client_secret)
        good, _ = await _stream(zmq.DEALER, options, how, connect=address)
        streams.append(good)
        # Refused clients keep their message: LINGER 0 lets their sockets go when closed
        # (a user socket's LINGER is libzmq's -1, which would keep it, and its fd, forever).
        options = _curve_client_options(keys, keys.other_public, keys.other_secret)
        intruder, _ = await _stream(zmq.DEALER, {**options, zmq.LINGER: 0}, how, connect=address)
        streams.append(intruder)
        plaintext, _ = await _stream(zmq.DEALER, {zmq.LINGER: 0}, how, connect=address)
        streams.append(plaintext)

        intruder.write([b"from the intruder"])
        plaintext.write([b"in plain text"])
        good.write([b"hello"])

        async with asyncio.timeout(5):
            identity, body = await server.read()
            assert body == b"hello"
            server.write([identity, b"echo: hello"])
            assert await good.read() == [b"echo: hello"]

        # The server's monitor names both failed handshakes.
        seen: dict[zmq.Event, int] = {}
        async with asyncio.timeout(5):
            while not {zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL} <= (
                seen.keys()
            ):
                event = await server.read_event()
                seen.setdefault(event.event, event.value)
        assert seen[zmq.EVENT_HANDSHAKE_FAILED_AUTH] == 400  # the ZAP status code
        assert zmq.EVENT_HANDSHAKE_SUCCEEDED in seen
        if how == "setsockopt":  # its monitor ran before connect(): the client saw it too
            await wait_event(intruder, zmq.EVENT_HANDSHAKE_FAILED_AUTH)

        # Everything the server got up to a marker came from the allowed client.
        good.write([b"marker"])
        async with asyncio.timeout(5):
            while (msg := await server.read()) != [identity, b"marker"]:
                pytest.fail(f"unexpected message reached the server: {msg!r}")
        assert server.statistics().read_buffer_messages == 0
    finally:
        for stream in streams:
            stream.close()
        async with asyncio.timeout(5):
            for stream in streams:
                await stream.wait_closed()


def test_curve_echo_example_runs() -> None:
    """examples/curve_echo.py runs to completion, exits 0 and reports the refused intruder."""
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "echo: message 2" in result.stdout
    assert "refused" in result.stdout
