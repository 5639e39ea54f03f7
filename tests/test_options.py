"""create_zmq_stream(options=...): socket options set in order before any bind or connect."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio
from _helpers_proc import open_fds

import zmqstreams

from helpers import endpoint_of, task_names, wait_until

pytestmark = pytest.mark.anyio


class RecordingOptions(Mapping[int, Any]):
    """A mapping that records the order in which its items are read."""

    def __init__(self, items: list[tuple[int, Any]]) -> None:
        self._items = dict(items)
        self.read: list[int] = []

    def __getitem__(self, key: int) -> Any:
        self.read.append(key)
        return self._items[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


# ------------------------------------------------------------------ applied, in order


async def test_options_are_set(zmq_stream_factory: Any) -> None:
    """Heartbeat, HWM and reconnect options read back as given; LINGER overrides the default."""
    options = {
        zmq.HEARTBEAT_IVL: 100,
        zmq.HEARTBEAT_TIMEOUT: 300,
        zmq.HEARTBEAT_TTL: 500,
        zmq.RECONNECT_IVL: 50,
        zmq.RECONNECT_IVL_MAX: 2000,
        zmq.SNDHWM: 7,
        zmq.RCVHWM: 9,
        zmq.LINGER: 0,
    }
    stream = await zmq_stream_factory(zmq.DEALER, options=options)
    for option, value in options.items():
        assert stream.transport.getsockopt(option) == value, zmq.SocketOption(option).name


async def test_options_are_applied_in_order(zmq_stream_factory: Any) -> None:
    """A later option wins: CURVE_SERVERKEY makes a socket a CURVE client, CURVE_SERVER a server."""
    public, _ = zmq.curve_keypair()
    server_last = await zmq_stream_factory(
        zmq.DEALER, options={zmq.CURVE_SERVERKEY: public, zmq.CURVE_SERVER: 1}
    )
    client_last = await zmq_stream_factory(
        zmq.DEALER, options={zmq.CURVE_SERVER: 1, zmq.CURVE_SERVERKEY: public}
    )
    assert server_last.transport.getsockopt(zmq.CURVE_SERVER) == 1
    assert client_last.transport.getsockopt(zmq.CURVE_SERVER) == 0
    # SUBSCRIBE then UNSUBSCRIBE of one topic leaves none; the reverse leaves it.
    gone = await zmq_stream_factory(zmq.SUB, options={zmq.SUBSCRIBE: b"t", zmq.UNSUBSCRIBE: b"t"})
    kept = await zmq_stream_factory(zmq.SUB, options={zmq.UNSUBSCRIBE: b"t", zmq.SUBSCRIBE: b"t"})
    assert gone.transport.subscriptions() == set()
    assert kept.transport.subscriptions() == {b"t"}


async def test_options_follow_the_mappings_iteration_order(zmq_stream_factory: Any) -> None:
    """Any Mapping is accepted and read once, in its iteration order."""
    options = RecordingOptions([(zmq.SNDHWM, 3), (zmq.LINGER, 0), (zmq.RCVHWM, 5)])
    stream = await zmq_stream_factory(zmq.PAIR, options=options)
    assert options.read == [zmq.SNDHWM, zmq.LINGER, zmq.RCVHWM]
    assert stream.transport.getsockopt(zmq.RCVHWM) == 5


async def test_identity_is_set_before_connect(zmq_stream_factory: Any) -> None:
    """IDENTITY (and ROUTING_ID as a str) is what the ROUTER peer sees for that connection."""
    router = await zmq_stream_factory(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    alice = await zmq_stream_factory(
        zmq.DEALER, connect=endpoint_of(router), options={zmq.IDENTITY: b"alice"}
    )
    bob = await zmq_stream_factory(
        zmq.DEALER, connect=endpoint_of(router), options={zmq.ROUTING_ID: "bob"}
    )
    with anyio.fail_after(5):
        alice.write([b"hello"])
        assert await router.read() == [b"alice", b"hello"]
        bob.write([b"hi"])
        assert await router.read() == [b"bob", b"hi"]
        router.write([b"alice", b"welcome"])
        assert await alice.read() == [b"welcome"]


async def test_curve_server_options_are_set_before_bind(zmq_stream_factory: Any) -> None:
    """A CURVE server made in one call (options + bind) talks to a CURVE client."""
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    server = await zmq_stream_factory(
        zmq.PAIR,
        bind="tcp://127.0.0.1:*",
        options={zmq.CURVE_SERVER: 1, zmq.CURVE_SECRETKEY: server_secret},
    )
    client = await zmq_stream_factory(
        zmq.PAIR,
        connect=endpoint_of(server),
        options={
            zmq.CURVE_SERVERKEY: server_public,
            zmq.CURVE_PUBLICKEY: client_public,
            zmq.CURVE_SECRETKEY: client_secret,
        },
    )
    assert server.transport.getsockopt(zmq.MECHANISM) == zmq.CURVE
    with anyio.fail_after(5):
        client.write([b"secret"])
        assert await server.read() == [b"secret"]


def ipv6_loopback() -> bool:
    """Whether this host can listen on ``::1``."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this host")
async def test_ipv6_is_set_before_bind_and_connect(zmq_stream_factory: Any) -> None:
    """Without IPV6 set first, binding or connecting to [::1] fails."""
    with pytest.raises(OSError):
        await zmqstreams.create_zmq_stream(zmq.PAIR, bind="tcp://[::1]:*")
    server = await zmq_stream_factory(zmq.PAIR, bind="tcp://[::1]:*", options={zmq.IPV6: 1})
    assert endpoint_of(server).startswith("tcp://[::1]:")
    client = await zmq_stream_factory(zmq.PAIR, connect=endpoint_of(server), options={zmq.IPV6: 1})
    with anyio.fail_after(5):
        client.write([b"v6"])
        assert await server.read() == [b"v6"]


async def test_router_mandatory_is_effective(zmq_stream_factory: Any) -> None:
    """With ROUTER_MANDATORY, a message for an unknown peer raises EHOSTUNREACH from write()."""
    router = await zmq_stream_factory(
        zmq.ROUTER, bind="tcp://127.0.0.1:*", options={zmq.ROUTER_MANDATORY: 1}
    )
    with pytest.raises(OSError) as info:
        router.write([b"nobody", b"hello"])
    assert info.value.errno == zmq.EHOSTUNREACH
    assert not router.transport.is_closing()


async def test_subscribe_option_is_tracked_and_effective(zmq_stream_factory: Any) -> None:
    """SUBSCRIBE via options shows in subscriptions() and filters like subscribe()."""
    pub = await zmq_stream_factory(zmq.PUB, bind="tcp://127.0.0.1:*")
    sub = await zmq_stream_factory(
        zmq.SUB, connect=endpoint_of(pub), options={zmq.SUBSCRIBE: b"news"}
    )
    assert sub.transport.subscriptions() == {b"news"}
    with anyio.fail_after(10):
        # PUB drops messages until the subscription has reached it (the slow joiner): publish
        # until one arrives.
        while True:
            pub.write([b"sports: 1-0"])
            pub.write([b"news: hello"])
            with anyio.move_on_after(0.05):
                first = await sub.read()
                break
        assert first == [b"news: hello"]
        pub.write([b"sports: 2-0"])
        pub.write([b"news: last"])
        while (msg := await sub.read()) != [b"news: last"]:
            assert msg == [b"news: hello"]
    sub.transport.unsubscribe(b"news")
    assert sub.transport.subscriptions() == set()


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ([(zmq.LINGER, 0)], "options must be a mapping"),
        ({"LINGER": 0}, "options keys must be ints.*'LINGER'"),
        ({True: 0}, "options keys must be ints.*True"),
        ({zmq.LINGER: None}, r"options\[LINGER\] must be an int, bytes or str, got NoneType"),
        ({zmq.IDENTITY: 1.5}, r"options\[ROUTING_ID\] must be an int, bytes or str, got float"),
        # A topic is bytes, as for transport.subscribe("news"), which raises TypeError too.
        ({zmq.SUBSCRIBE: "news"}, r"options\[SUBSCRIBE\] topic must be bytes, got str"),
        ({zmq.UNSUBSCRIBE: "news"}, r"options\[UNSUBSCRIBE\] topic must be bytes, got str"),
    ],
)
async def test_options_of_the_wrong_shape_are_type_errors(options: Any, match: str) -> None:
    """Checked before any socket exists: a zmq_sock stays open and untouched."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    try:
        with pytest.raises(TypeError, match=match):
            await zmqstreams.create_zmq_stream(zmq.DEALER, zmq_sock=sock, options=options)
        assert not sock.closed
        assert sock.getsockopt(zmq.LINGER) == -1
    finally:
        sock.close(linger=0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({zmq.LINGER: "abc"}, r"options\[LINGER\]: cannot set 'abc'"),
        ({zmq.LINGER: b"abc"}, r"options\[LINGER\]: cannot set b'abc'"),
        ({zmq.IDENTITY: 5}, r"options\[ROUTING_ID\]: cannot set 5"),
    ],
)
async def test_value_of_the_wrong_type_is_type_error(options: Any, match: str) -> None:
    """bytes for an int option, or the reverse: a TypeError naming the option.

    (zmq.IDENTITY is an alias of zmq.ROUTING_ID, whose name the message gives.)
    """
    with pytest.raises(TypeError, match=match):
        await zmqstreams.create_zmq_stream(zmq.DEALER, options=options)
    assert task_names() == set()


async def test_overflowing_value_names_the_option() -> None:
    """An int too large for the option's C type: OverflowError naming the option."""
    with pytest.raises(OverflowError, match=r"options\[LINGER\]"):
        await zmqstreams.create_zmq_stream(zmq.DEALER, options={zmq.LINGER: 2**40})


@pytest.mark.parametrize(
    ("zmq_type", "options", "name"),
    [
        (zmq.DEALER, {9999: 1}, "setsockopt(9999)"),
        (zmq.DEALER, {zmq.HEARTBEAT_IVL: -5}, "setsockopt(HEARTBEAT_IVL)"),
        (zmq.DEALER, {zmq.CURVE_SECRETKEY: b"short"}, "setsockopt(CURVE_SECRETKEY)"),
        (zmq.DEALER, {zmq.SUBSCRIBE: b"x"}, "setsockopt(SUBSCRIBE)"),
    ],
)
async def test_refused_option_is_os_error_naming_it(
    zmq_type: int, options: dict[int, Any], name: str
) -> None:
    """What libzmq refuses is an OSError with its errno (EINVAL) and the option's name."""
    with pytest.raises(OSError) as info:
        await zmqstreams.create_zmq_stream(zmq_type, options=options)
    assert info.value.errno == errno.EINVAL
    assert info.value.strerror.startswith(f"{name}: ")
    assert isinstance(info.value.__cause__, zmq.ZMQError)


@pytest.mark.parametrize("failure", ["refused", "wrong type"])
async def test_failed_option_leaves_nothing_open(zmq_stream_factory: Any, failure: str) -> None:
    """No socket fd, task or binding survives; options after the bad one are never applied."""
    bad = {zmq.HEARTBEAT_IVL: -1} if failure == "refused" else {zmq.HEARTBEAT_IVL: b"1"}
    fds = open_fds()
    with pytest.raises((OSError, TypeError)):
        await zmqstreams.create_zmq_stream(
            zmq.ROUTER, bind="tcp://127.0.0.1:*", options={zmq.LINGER: 0, **bad}
        )
    assert task_names() == set()
    await wait_until(lambda: open_fds() <= fds)  # libzmq's reaper frees the fd a little later
    # The fd number just freed is likely reused by the next socket: it must work normally.
    server = await zmq_stream_factory(zmq.PAIR, bind="tcp://127.0.0.1:*")
    client = await zmq_stream_factory(zmq.PAIR, connect=endpoint_of(server))
    with anyio.fail_after(5):
        client.write([b"ping"])
        assert await server.read() == [b"ping"]


# ------------------------------------------------------------------ with zmq_sock


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_options_apply_to_a_given_socket(zmq_stream_factory: Any, flavour: str) -> None:
    """zmq_sock gets the options too, before its bind; its own LINGER is kept unless set."""
    ctx = zmq.Context.instance()
    sock: zmq.Socket[Any] = (
        ctx.socket(zmq.ROUTER) if flavour == "sync" else zmq.asyncio.Context(ctx).socket(zmq.ROUTER)
    )
    router = await zmq_stream_factory(
        zmq.ROUTER,
        zmq_sock=sock,
        bind="tcp://127.0.0.1:*",
        options={zmq.ROUTER_MANDATORY: 1, zmq.SNDHWM: 11},
    )
    assert sock.getsockopt(zmq.SNDHWM) == 11
    assert sock.getsockopt(zmq.LINGER) == -1
    dealer = await zmq_stream_factory(
        zmq.DEALER, connect=endpoint_of(router), options={zmq.ROUTING_ID: b"d"}
    )
    with anyio.fail_after(5):
        dealer.write([b"up"])
        assert await router.read() == [b"d", b"up"]
    with pytest.raises(OSError) as info:
        router.write([b"gone", b"x"])
    assert info.value.errno == zmq.EHOSTUNREACH


async def test_refused_option_closes_a_given_socket() -> None:
    """Once adopted, zmq_sock belongs to the stream: a refused option closes it."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    try:
        with pytest.raises(OSError, match="HEARTBEAT_IVL"):
            await zmqstreams.create_zmq_stream(
                zmq.DEALER, zmq_sock=sock, options={zmq.HEARTBEAT_IVL: -1}
            )
        assert sock.closed
        assert task_names() == set()
    finally:
        sock.close(linger=0)
