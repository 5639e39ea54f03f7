"""Each socket type as a stream: PAIR, PUSH/PULL, PUB/SUB, XPUB/XSUB, REQ/REP, DEALER/ROUTER."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import zmq

import zmqstreams

from helpers import endpoint_of

pytestmark = pytest.mark.anyio


async def test_push_pull(zmq_stream_factory: Any, zmq_endpoint: str) -> None:
    """PUSH to PULL over every transport."""
    pull = await zmq_stream_factory(zmq.PULL, bind=zmq_endpoint)
    push = await zmq_stream_factory(zmq.PUSH, connect=endpoint_of(pull))
    with anyio.fail_after(5):
        push.write([b"job", b"1"])
        assert await pull.read() == [b"job", b"1"]


async def test_dealer_router_echo(zmq_stream_factory: Any, zmq_endpoint: str) -> None:
    """The document's example: ROUTER echoes what a DEALER asks, identity frame included."""
    router = await zmq_stream_factory(zmq.ROUTER, bind=zmq_endpoint)
    dealer = await zmq_stream_factory(zmq.DEALER, connect=endpoint_of(router))
    with anyio.fail_after(5):
        for i in range(10):
            msg = (b"data", b"ask", str(i).encode())
            dealer.write(msg)
            data = await router.read()
            assert data[1:] == list(msg)
            router.write(data)
            assert await dealer.read() == list(msg)


async def test_req_rep(zmq_stream_factory: Any) -> None:
    """REQ/REP request and reply."""
    rep = await zmq_stream_factory(zmq.REP, bind="tcp://127.0.0.1:*")
    req = await zmq_stream_factory(zmq.REQ, connect=endpoint_of(rep))
    with anyio.fail_after(5):
        req.write([b"question"])
        assert await rep.read() == [b"question"]
        rep.write([b"answer"])
        assert await req.read() == [b"answer"]


async def publish_until_received(
    pub: zmqstreams.ZmqStream, sub: zmqstreams.ZmqStream, msg: list[bytes]
) -> list[bytes]:
    """PUB drops messages until the subscription has propagated: publish until one arrives."""
    with anyio.fail_after(5):
        while True:
            pub.write(msg)
            with anyio.move_on_after(0.02):
                return await sub.read()


async def test_pub_sub_with_subscriptions(zmq_stream_factory: Any) -> None:
    """SUB receives only subscribed topics; subscriptions() tracks them."""
    pub = await zmq_stream_factory(zmq.PUB, bind="tcp://127.0.0.1:*")
    sub = await zmq_stream_factory(zmq.SUB, connect=endpoint_of(pub))
    sub.transport.subscribe(b"news")
    sub.transport.subscribe(b"news")
    assert sub.transport.subscriptions() == {b"news"}
    assert await publish_until_received(pub, sub, [b"news", b"1"]) == [b"news", b"1"]
    pub.write([b"sport", b"2"])
    pub.write([b"news", b"3"])
    with anyio.fail_after(5):
        while (msg := await sub.read()) == [b"news", b"1"]:
            pass
    assert msg == [b"news", b"3"]
    sub.transport.unsubscribe(b"news")
    assert sub.transport.subscriptions() == set()


async def test_subscription_via_setsockopt_is_tracked(zmq_stream_factory: Any) -> None:
    """setsockopt(SUBSCRIBE) and subscribe() share the same bookkeeping."""
    sub = await zmq_stream_factory(zmq.SUB)
    sub.transport.setsockopt(zmq.SUBSCRIBE, b"a")
    assert sub.transport.subscriptions() == {b"a"}
    sub.transport.setsockopt(zmq.UNSUBSCRIBE, b"a")
    assert sub.transport.subscriptions() == set()


async def test_subscribe_errors(zmq_stream_factory: Any) -> None:
    """subscribe() needs a SUB socket and a bytes topic."""
    sub = await zmq_stream_factory(zmq.SUB)
    with pytest.raises(TypeError, match="bytes"):
        sub.transport.subscribe("text")
    dealer = await zmq_stream_factory(zmq.DEALER)
    with pytest.raises(NotImplementedError):
        dealer.transport.subscribe(b"x")
    with pytest.raises(NotImplementedError):
        dealer.transport.unsubscribe(b"x")
    with pytest.raises(NotImplementedError):
        dealer.transport.subscriptions()


async def test_xpub_xsub(zmq_stream_factory: Any) -> None:
    """XSUB sends subscription messages that XPUB reads; XPUB's data reaches XSUB."""
    xpub = await zmq_stream_factory(zmq.XPUB, bind="tcp://127.0.0.1:*")
    xsub = await zmq_stream_factory(zmq.XSUB, connect=endpoint_of(xpub))
    xsub.write([b"\x01topic"])
    with anyio.fail_after(5):
        assert await xpub.read() == [b"\x01topic"]
        xpub.write([b"topic", b"payload"])
        assert await xsub.read() == [b"topic", b"payload"]


async def test_pair(zmq_stream_factory: Any, zmq_endpoint: str) -> None:
    """PAIR both ways over every transport."""
    a = await zmq_stream_factory(zmq.PAIR, bind=zmq_endpoint)
    b = await zmq_stream_factory(zmq.PAIR, connect=endpoint_of(a))
    with anyio.fail_after(5):
        a.write([b"to b"])
        b.write([b"to a"])
        assert await b.read() == [b"to b"]
        assert await a.read() == [b"to a"]
