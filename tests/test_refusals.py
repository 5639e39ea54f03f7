"""A message the socket refuses is the caller's problem, never the end of the stream.

Refused at once: ``write()`` raises ``OSError`` with the ZeroMQ errno, nothing is sent or
counted as written, and the stream goes on.  Refused after waiting in the write buffer: dropped,
counted in ``messages_refused`` and logged, and the messages behind it still go out in order.
Only errors meaning the socket is gone end the stream.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio

import zmqstreams
from zmqstreams._frames import TornMessage, send_now
from zmqstreams.testing import socket_faults

from helpers import endpoint_of, failing_send, wait_until

pytestmark = pytest.mark.anyio


async def mandatory_router(
    zmq_stream_factory: Any, endpoint: str, **options: int
) -> zmqstreams.ZmqStream:
    """A ROUTER with ROUTER_MANDATORY (and ``options``) set before it binds ``endpoint``."""
    router = await zmq_stream_factory(zmq.ROUTER)
    router.transport.setsockopt(zmq.ROUTER_MANDATORY, 1)
    for option, value in options.items():
        router.transport.setsockopt(getattr(zmq, option), value)
    await router.transport.bind(endpoint)
    return router


async def dealer_known_to(
    zmq_stream_factory: Any, router: zmqstreams.ZmqStream, routing_id: bytes, **options: int
) -> zmqstreams.ZmqStream:
    """A DEALER with ``routing_id`` whose hello the router has read (so it can be addressed)."""
    dealer = await zmq_stream_factory(zmq.DEALER)
    dealer.transport.setsockopt(zmq.ROUTING_ID, routing_id)
    for option, value in options.items():
        dealer.transport.setsockopt(getattr(zmq, option), value)
    await dealer.transport.connect(endpoint_of(router))
    dealer.write([b"hello"])
    with anyio.fail_after(5):
        assert await router.read() == [routing_id, b"hello"]
    return dealer


async def assert_exchanges(router: zmqstreams.ZmqStream, dealer: zmqstreams.ZmqStream) -> None:
    """One request from ``dealer`` and the ROUTER's reply to it still work."""
    dealer.write([b"ping"])
    with anyio.fail_after(5):
        routing_id, body = await router.read()
        router.write([routing_id, body + b"-pong"])
        assert await dealer.read() == [b"ping-pong"]


async def test_write_to_unknown_identity_raises(zmq_stream_factory: Any) -> None:
    """ROUTER_MANDATORY: an unknown routing id is EHOSTUNREACH; the stream carries on."""
    router = await mandatory_router(zmq_stream_factory, "tcp://127.0.0.1:*")
    peers = [await dealer_known_to(zmq_stream_factory, router, name) for name in (b"a", b"b")]
    before = router.statistics()
    with pytest.raises(OSError, match="] write: ") as info:
        router.write([b"nobody", b"reply"])
    assert info.value.errno == zmq.EHOSTUNREACH
    assert isinstance(info.value.__cause__, zmq.ZMQError)
    after = router.statistics()
    assert after.messages_written == before.messages_written
    assert after.bytes_written == before.bytes_written
    assert after.messages_refused == 0
    assert router.exception() is None
    for peer in peers:
        await assert_exchanges(router, peer)
    # The monitor can still be started and reports new peers.
    await router.transport.enable_monitor(zmq.EVENT_ACCEPTED)
    await zmq_stream_factory(zmq.DEALER, connect=endpoint_of(router))
    with anyio.fail_after(5):
        assert (await router.read_event()).event == zmq.Event.ACCEPTED
    assert router.exception() is None


async def test_reply_to_departed_peer_is_refused(zmq_stream_factory: Any) -> None:
    """Once libzmq has seen a peer go, a reply to it is EHOSTUNREACH; other peers are fine."""
    router = await mandatory_router(zmq_stream_factory, "tcp://127.0.0.1:*")
    await router.transport.enable_monitor(zmq.EVENT_DISCONNECTED)
    leaving = await dealer_known_to(zmq_stream_factory, router, b"leaving")
    staying = await dealer_known_to(zmq_stream_factory, router, b"staying")
    leaving.close()
    await leaving.wait_closed()
    with anyio.fail_after(5):
        assert (await router.read_event()).event == zmq.Event.DISCONNECTED
    # The event comes from libzmq's I/O thread; the router socket drops the peer's pipe when it
    # next processes its commands.  Until then a reply is accepted (and discarded by libzmq).
    refusals: list[OSError] = []

    def reply_refused() -> bool:
        try:
            router.write([b"leaving", b"late reply"])
        except OSError as exc:
            refusals.append(exc)
        return bool(refusals)

    await wait_until(reply_refused)
    assert refusals[0].errno == zmq.EHOSTUNREACH
    assert router.exception() is None
    await assert_exchanges(router, staying)
    assert router.statistics().messages_refused == 0


async def test_req_out_of_turn_raises_efsm(zmq_stream_factory: Any) -> None:
    """REQ: a second request before the reply is EFSM; the pending one and the next complete."""
    rep = await zmq_stream_factory(zmq.REP, bind="tcp://127.0.0.1:*")
    req = await zmq_stream_factory(zmq.REQ, connect=endpoint_of(rep))
    req.write([b"first"])
    with pytest.raises(OSError, match="] write: ") as info:
        req.write([b"out of turn"])
    assert info.value.errno == zmq.EFSM
    assert req.exception() is None
    with anyio.fail_after(5):
        assert await rep.read() == [b"first"]
        rep.write([b"first reply"])
        assert await req.read() == [b"first reply"]
        req.write([b"next"])
        assert await rep.read() == [b"next"]
        rep.write([b"next reply"])
        assert await req.read() == [b"next reply"]
    assert req.statistics().messages_written == 2
    assert req.exception() is None


async def test_req_relaxed_correlate_retry_gets_the_right_reply(zmq_stream_factory: Any) -> None:
    """The REQ recipe: after a timed-out read(), a retry gets its own reply, never a late one.

    A ROUTER plays the server so the test decides when each reply arrives: one late reply
    reaches the stream before the retry (the recipe drops it from the read buffer), another
    after it (REQ_CORRELATE makes libzmq discard it).
    """
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    req = await zmq_stream_factory(zmq.REQ)
    req.transport.setsockopt(zmq.REQ_RELAXED, 1)
    req.transport.setsockopt(zmq.REQ_CORRELATE, 1)
    await req.transport.connect(endpoint_of(router))
    req.write([b"one"])
    with anyio.fail_after(5):
        peer, first_id, delimiter, body = await router.read()
    assert (delimiter, body) == (b"", b"one")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await req.read()
    router.write([peer, first_id, b"", b"late reply to one"])
    await wait_until(lambda: req.statistics().read_buffer_messages == 1)
    with anyio.fail_after(5):
        while req.statistics().read_buffer_messages:  # the recipe: drop what is stale
            await req.read()
        req.write([b"two"])  # REQ_RELAXED: no EFSM although "one" got no reply
        peer, second_id, _, body = await router.read()
        assert body == b"two"
        assert second_id != first_id
        router.write([peer, first_id, b"", b"later reply to one"])
        router.write([peer, second_id, b"", b"reply to two"])
        assert await req.read() == [b"reply to two"]
        req.write([b"three"])
        peer, third_id, _, body = await router.read()
        router.write([peer, third_id, b"", b"reply to three"])
        assert await req.read() == [b"reply to three"]
    assert req.exception() is None


async def test_rep_writing_first_raises_efsm(zmq_stream_factory: Any) -> None:
    """REP: a reply before any request is EFSM; the REP then serves requests as usual."""
    rep = await zmq_stream_factory(zmq.REP, bind="tcp://127.0.0.1:*")
    with pytest.raises(OSError) as info:
        rep.write([b"not a reply"])
    assert info.value.errno == zmq.EFSM
    assert rep.exception() is None
    req = await zmq_stream_factory(zmq.REQ, connect=endpoint_of(rep))
    req.write([b"q"])
    with anyio.fail_after(5):
        assert await rep.read() == [b"q"]
        rep.write([b"a"])
        assert await req.read() == [b"a"]
    assert rep.exception() is None


async def test_write_on_receive_only_socket_raises_enotsup(zmq_stream_factory: Any) -> None:
    """PULL cannot send: ENOTSUP for write(), and the PULL still receives."""
    pull = await zmq_stream_factory(zmq.PULL, bind="inproc://refusals-pull")
    with pytest.raises(OSError) as info:
        pull.write([b"x", b"y"])
    assert info.value.errno == zmq.ENOTSUP
    push = await zmq_stream_factory(zmq.PUSH, connect="inproc://refusals-pull")
    push.write([b"still", b"receiving"])
    with anyio.fail_after(5):
        assert await pull.read() == [b"still", b"receiving"]
    assert pull.exception() is None


async def fill_until_buffered(
    router: zmqstreams.ZmqStream, routing_id: bytes, limit: int = 1000
) -> list[list[bytes]]:
    """Write to ``routing_id`` until a message has to wait in the write buffer; return them."""
    sent: list[list[bytes]] = []
    while router.statistics().write_buffer_messages == 0:
        assert len(sent) < limit, "the peer's pipe never filled"
        body = [b"%d" % len(sent)]
        router.write([routing_id, *body])
        sent.append(body)
    return sent


async def test_buffered_message_refused_later_is_dropped_and_counted(
    zmq_stream_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Messages to an unknown id that wait behind a full peer are dropped when their turn comes.

    Deterministic: with ROUTER_MANDATORY a full peer pipe is ``EAGAIN`` (not a drop), so the
    writes to that peer fill the write buffer while its reader is paused; messages to a routing
    id nobody has are queued behind them without being tried, and are refused when the writer
    reaches them.  The peer's messages behind those must still arrive, in order.
    """
    router = await mandatory_router(zmq_stream_factory, "inproc://refusals-later", SNDHWM=1)
    peer = await dealer_known_to(zmq_stream_factory, router, b"peer", RCVHWM=1)
    peer.transport.pause_reading()
    expected = await fill_until_buffered(router, b"peer")
    refused = 1001  # the warning is logged for the first refusal and every 1000th after it
    for index in range(refused):
        router.write([b"ghost", b"lost %d" % index])  # queued behind: not tried, no OSError
    router.write([b"peer", b"after"])
    expected.append([b"after"])
    assert router.statistics().write_buffer_messages == 1 + refused + 1
    written_before = router.statistics().messages_written
    with caplog.at_level(logging.WARNING, logger="zmqstreams"):
        peer.transport.resume_reading()
        with anyio.fail_after(10):
            received = [await peer.read() for _ in expected]
            await router.drain()
    assert received == expected
    stats = router.statistics()
    assert stats.messages_refused == refused
    assert stats.write_buffer_messages == 0
    assert stats.messages_written == written_before + 2  # the buffered one and b"after"
    warnings = [r for r in caplog.records if r.name == "zmqstreams" and "refused" in r.message]
    assert len(warnings) == 2, [r.message for r in warnings]
    assert "Host unreachable" in warnings[0].message
    assert router.exception() is None
    await assert_exchanges(router, peer)


async def test_close_flushes_past_a_refused_message(zmq_stream_factory: Any) -> None:
    """close()'s flush drops a refused buffered message and still delivers the ones behind it."""
    router = await mandatory_router(zmq_stream_factory, "inproc://refusals-close", SNDHWM=1)
    peer = await dealer_known_to(zmq_stream_factory, router, b"peer", RCVHWM=1)
    peer.transport.pause_reading()
    expected = await fill_until_buffered(router, b"peer")
    router.write([b"ghost", b"lost"])
    router.write([b"peer", b"last"])
    expected.append([b"last"])
    router.close()
    peer.transport.resume_reading()
    with anyio.fail_after(10):
        received = [await peer.read() for _ in expected]
        await router.wait_closed()
    assert received == expected
    assert router.statistics().messages_refused == 1
    assert router.exception() is None


async def test_context_terminated_still_ends_the_stream() -> None:
    """ETERM means the socket is gone: write() raises it, the stream stores it and closes."""
    context = zmq.asyncio.Context()
    sock = context.socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    stream = await zmqstreams.create_zmq_stream(zmq.PUB, zmq_sock=sock)
    # term() blocks until every socket of the context is closed: here, by the stream itself.
    terminating = asyncio.create_task(asyncio.to_thread(context.term))
    raised: list[OSError] = []
    try:

        def stream_ended() -> bool:
            try:
                stream.write([b"news"])  # a PUB never buffers: every write reaches libzmq
            except OSError as exc:
                raised.append(exc)
            return bool(raised)

        await wait_until(stream_ended)
        error = stream.exception()
        assert raised == [error]
        assert isinstance(error, OSError)
        assert error.errno == zmq.ETERM
        with pytest.raises(zmqstreams.ZmqStreamClosed):
            stream.write([b"more"])
        with anyio.fail_after(5):
            await stream.wait_closed()
            await terminating
    finally:
        stream.close()
        if not terminating.done():
            sock.close(linger=0)
            with anyio.fail_after(5):
                await terminating


@pytest.mark.parametrize("errno", [zmq.EHOSTUNREACH, zmq.EAGAIN])
def test_send_now_failure_at_first_frame_is_raised_as_is(errno: int) -> None:
    faults = failing_send(errno, after_frames=0)
    with pytest.raises(zmq.ZMQError) as info:
        send_now(faults.send, [b"a", b"b", b"c"])
    assert info.value.errno == errno
    assert not isinstance(info.value, TornMessage)
    assert faults.sent == []


def test_send_now_eagain_mid_message_can_be_retried_whole() -> None:
    """EAGAIN after the first frame: libzmq dropped what it took, so it is an ordinary Again."""
    with pytest.raises(zmq.Again):
        send_now(failing_send(zmq.EAGAIN, after_frames=2).send, [b"a", b"b", b"c"])


@pytest.mark.parametrize("fail_at", [1, 2])
def test_send_now_other_failure_mid_message_is_torn(fail_at: int) -> None:
    with pytest.raises(TornMessage) as info:
        send_now(failing_send(zmq.EFSM, after_frames=fail_at).send, [b"a", b"b", b"c"])
    assert info.value.error.errno == zmq.EFSM


async def test_torn_message_ends_the_stream(zmq_stream_factory: Any) -> None:
    """A failure after part of a message was taken ends the stream: it cannot be undone."""
    push = await zmq_stream_factory(zmq.PUSH, bind="inproc://refusals-torn")
    with socket_faults(push) as faults:
        faults.fail_sends(zmq.EHOSTUNREACH, after_frames=1)
        with pytest.raises(OSError) as raised:
            push.write([b"a", b"b"])  # raised, and stored as for any socket failure
    error = push.exception()
    assert raised.value is error
    assert isinstance(error, OSError)
    assert error.errno == zmq.EHOSTUNREACH
    assert "after part of a message" in str(error)
    assert push.transport is None
