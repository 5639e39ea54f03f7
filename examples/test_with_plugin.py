"""Testing code that uses zmqstreams with the ``zmqstreams.testing`` pytest plugin.

``examples/conftest.py`` opts in with ``pytest_plugins = ["zmqstreams.testing"]``; in your
project that line goes in the ``conftest.py`` at the root of your tests.  Run it with
``pytest examples/test_with_plugin.py`` or ``python examples/test_with_plugin.py``.

Each test runs on asyncio and uvloop, and the pair fixtures over inproc, ipc and tcp; streams
are closed after the test, and a test that leaves tasks or fds behind, or hangs, fails.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
import zmq

import zmqstreams

if TYPE_CHECKING:  # imported by pytest itself, through conftest.py
    from zmqstreams.testing import PairFactory


async def echo_once(stream: zmqstreams.ZmqStream) -> None:
    """The code under test: answer one request with its frames reversed."""
    request = await stream.read()
    stream.write(request[::-1])
    await stream.drain()


async def test_echo(zmq_pair: tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]) -> None:
    server, client = zmq_pair
    client.write([b"ping", b"1"])
    await echo_once(server)
    assert await client.read() == [b"1", b"ping"]


async def test_router_answers_each_dealer(zmq_pair_factory: PairFactory) -> None:
    router, dealer = await zmq_pair_factory(zmq.ROUTER, zmq.DEALER)
    dealer.write([b"hello"])
    identity, body = await router.read()
    router.write([identity, body.upper()])
    assert await dealer.read() == [b"HELLO"]


@pytest.mark.parametrize("zmq_transport", ["tcp"])  # PUB/SUB over tcp only
async def test_subscriber_gets_only_its_topic(zmq_pair_factory: PairFactory) -> None:
    pub, sub = await zmq_pair_factory(zmq.PUB, zmq.SUB, subscribe=[b"news"])
    pub.write([b"sport", b"0:0"])
    pub.write([b"news", b"hello"])
    assert await sub.read() == [b"news", b"hello"]


@pytest.mark.zmqstreams_timeout(5)  # fail (and say where) if it takes longer than 5 s
async def test_with_a_tighter_time_limit(
    zmq_pair: tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream],
) -> None:
    server, client = zmq_pair
    for i in range(100):
        client.write([b"%d" % i])
    assert [await server.read() for _ in range(100)] == [[b"%d" % i] for i in range(100)]


if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", __file__]))
