"""create_zmq_stream(): the front door that validates arguments and wires the pieces."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

import zmq

from ._affinity import LoopAffinity
from ._errors import option_name
from ._socket import ZmqSocket, open_socket
from ._stream import ZmqStream
from ._transport import ZmqTransport
from ._watermarks import resolve_watermarks

__all__ = ("create_zmq_stream",)

#: A socket option's value: an int, or bytes (a str is encoded as UTF-8).
_OptionValue = int | bytes | str

#: What ``options=`` takes: ``zmq.*`` socket option (an int) -> value, applied in iteration
#: order.  The key type is ``Any`` because a Mapping's key type is invariant: ``Mapping[int, ...]``
#: would refuse ``opts = {zmq.LINGER: 0}``, whose keys mypy infers as ``zmq.SocketOption``.  Keys
#: are checked at run time instead.
SocketOptions = Mapping[Any, _OptionValue]


def _endpoints(value: str | Iterable[str] | None, name: str) -> list[str]:
    """Normalise ``bind``/``connect``: ``None``, a str, or an iterable of str."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a str or an iterable of str, got {value!r}")
    endpoints = list(value)
    for endpoint in endpoints:
        if not isinstance(endpoint, str):
            raise TypeError(f"{name} endpoints must be str, got {endpoint!r}")
    return endpoints


def _options(value: SocketOptions | None) -> list[tuple[int, _OptionValue]]:
    """Check the shape of ``options`` and return its pairs in order.

    Only the shape is checked here, before any socket exists; whether an option takes an int
    or bytes, and which values it accepts, only pyzmq and libzmq know.
    """
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise TypeError(f"options must be a mapping of option to value, got {type(value).__name__}")
    pairs: list[tuple[int, _OptionValue]] = []
    for option, setting in value.items():
        # bool is an int, but True as a key would silently mean option 1 (zmq.HWM).
        if isinstance(option, bool) or not isinstance(option, int):
            raise TypeError(f"options keys must be ints such as zmq.LINGER, got {option!r}")
        if not isinstance(setting, (int, bytes, str)):
            raise TypeError(
                f"options[{option_name(option)}] must be an int, bytes or str, "
                f"got {type(setting).__name__}"
            )
        if option in (zmq.SUBSCRIBE, zmq.UNSUBSCRIBE) and isinstance(setting, str):
            # As transport.subscribe() and unsubscribe(): a topic is a prefix of bytes.
            raise TypeError(f"options[{option_name(option)}] topic must be bytes, got str")
        pairs.append((option, setting))
    return pairs


def _apply_options(transport: ZmqTransport, options: list[tuple[int, _OptionValue]]) -> None:
    """Set each option through the transport, so SUBSCRIBE is tracked as ``subscribe()`` does.

    A str is encoded as UTF-8, as pyzmq's ``setsockopt_string()`` does.  libzmq's refusals come
    out of ``setsockopt()`` as ``OSError`` naming the option; pyzmq's type errors (bytes for an
    int option, or the reverse) and overflows are given the option's name here.
    """
    for option, setting in options:
        value = setting.encode("utf-8") if isinstance(setting, str) else setting
        try:
            transport.setsockopt(option, value)
        except (TypeError, OverflowError) as exc:
            raise type(exc)(
                f"options[{option_name(option)}]: cannot set {setting!r} ({exc})"
            ) from exc


# The frame type of the stream follows ``copy``: ``bytes`` by default, ``zmq.Frame`` with
# ``copy=False`` (and either, for a ``copy`` only known at run time).
@overload
async def create_zmq_stream(
    zmq_type: int,
    *,
    bind: str | Iterable[str] | None = None,
    connect: str | Iterable[str] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    zmq_sock: ZmqSocket | None = None,
    high_read: int | None = None,
    low_read: int | None = None,
    high_write: int | None = None,
    low_write: int | None = None,
    events_backlog: int | None = 100,
    options: Mapping[Any, int | bytes | str] | None = None,  # SocketOptions, spelt out for the docs
    copy: Literal[True] = True,
) -> ZmqStream[bytes]: ...
@overload
async def create_zmq_stream(
    zmq_type: int,
    *,
    bind: str | Iterable[str] | None = None,
    connect: str | Iterable[str] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    zmq_sock: ZmqSocket | None = None,
    high_read: int | None = None,
    low_read: int | None = None,
    high_write: int | None = None,
    low_write: int | None = None,
    events_backlog: int | None = 100,
    options: Mapping[Any, int | bytes | str] | None = None,  # SocketOptions, spelt out for the docs
    copy: Literal[False],
) -> ZmqStream[zmq.Frame]: ...
@overload
async def create_zmq_stream(
    zmq_type: int,
    *,
    bind: str | Iterable[str] | None = None,
    connect: str | Iterable[str] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    zmq_sock: ZmqSocket | None = None,
    high_read: int | None = None,
    low_read: int | None = None,
    high_write: int | None = None,
    low_write: int | None = None,
    events_backlog: int | None = 100,
    options: Mapping[Any, int | bytes | str] | None = None,  # SocketOptions, spelt out for the docs
    copy: bool,
) -> ZmqStream[Any]: ...
async def create_zmq_stream(
    zmq_type: int,
    *,
    bind: str | Iterable[str] | None = None,
    connect: str | Iterable[str] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    zmq_sock: ZmqSocket | None = None,
    high_read: int | None = None,
    low_read: int | None = None,
    high_write: int | None = None,
    low_write: int | None = None,
    events_backlog: int | None = 100,
    options: Mapping[Any, int | bytes | str] | None = None,  # SocketOptions, spelt out for the docs
    copy: bool = True,
) -> ZmqStream[Any]:
    """Create a ZeroMQ socket of ``zmq_type`` (or adopt ``zmq_sock``) and return its stream.

    ``options`` maps socket options to values (``{zmq.HEARTBEAT_IVL: 1000,
    zmq.ROUTER_MANDATORY: 1}``).  They are set in the mapping's order, after the default LINGER
    (so ``zmq.LINGER`` there overrides it) and before any ``bind`` or ``connect``: what CURVE,
    ``IDENTITY``/``ROUTING_ID``, ``IPV6``, heartbeats and HWMs need, since libzmq applies most
    options only to connections made after them.  A ``str`` value is encoded as UTF-8, except
    that ``SUBSCRIBE`` and ``UNSUBSCRIBE`` take bytes only, as ``subscribe()`` does.
    ``zmq.SUBSCRIBE`` set this way shows in ``transport.subscriptions()``, as after
    ``transport.subscribe()``; a mapping holds one value per option, so subscribe to further
    topics with ``subscribe()``.

    Every ``bind`` endpoint is bound and every ``connect`` endpoint connected before this
    returns.  If an option or endpoint fails, the socket is closed and an error naming it is
    raised: ``OSError`` with the ZeroMQ errno for what libzmq refuses (``EINVAL`` for an unknown
    option or a bad value), ``TypeError`` for a value of the wrong type (``OverflowError`` for an
    int too large for the option).  The socket is closed
    too when it is a ``zmq_sock``: it belongs to the stream once adopted, and a socket with some
    options set and others not is in no state to hand back.  Arguments of the wrong shape
    (``options`` not a mapping, a key not an int, a value not an int, bytes or str, a bad
    endpoint type) raise ``TypeError`` before any socket is created or adopted, so a
    ``zmq_sock`` stays open then.

    Sockets created here get LINGER = 1000 ms; a ``zmq_sock`` keeps its own LINGER (libzmq's
    default, -1, lets ``wait_closed()`` wait forever for undeliverable data) unless
    ``options`` sets it.  ``high_read``/``low_read`` and ``high_write``/``low_write`` are
    watermarks in bytes; ``events_backlog`` caps unread monitor events (``None``: no cap).
    ``loop`` is accepted for aiozmq compatibility; the running loop is always used.

    With ``copy=False``, ``read()`` returns each frame as the ``zmq.Frame`` libzmq filled, as
    pyzmq's ``recv_multipart(copy=False)`` does: no copy between libzmq and the caller
    (``memoryview(frame)`` or ``numpy.frombuffer(frame, ...)`` read it in place), and the
    stream's type says so (``ZmqStream[zmq.Frame]``).  The read watermarks count the frames'
    bytes as for ``bytes``.  See "Large messages" in the docs for when it pays.

    Example::

        router = await create_zmq_stream(
            zmq.ROUTER, bind="tcp://127.0.0.1:*", options={zmq.ROUTER_MANDATORY: 1}
        )
        addr = next(iter(router.transport.bindings()))
        dealer = await create_zmq_stream(
            zmq.DEALER, connect=addr, options={zmq.ROUTING_ID: b"alice"}
        )
    """
    affinity = LoopAffinity(asyncio.get_running_loop())  # no loop: RuntimeError, no socket
    if not isinstance(copy, bool):
        raise TypeError(f"copy must be True or False, got {copy!r}")
    binds = _endpoints(bind, "bind")
    connects = _endpoints(connect, "connect")
    settings = _options(options)
    write_limits = resolve_watermarks(high_write, low_write, "write")
    stream: ZmqStream[Any] = ZmqStream(high=high_read, low=low_read, events_backlog=events_backlog)
    views = open_socket(zmq_type, zmq_sock)
    transport = ZmqTransport(views, zmq_type, stream, zmq_sock, affinity, copy=copy)
    stream.set_transport(transport)
    try:
        _apply_options(transport, settings)
        for endpoint in binds:
            await transport.bind(endpoint)
        for endpoint in connects:
            await transport.connect(endpoint)
    except BaseException:
        # Nothing was registered with the loop yet: closing now leaves nothing behind.
        transport.abort()
        raise
    transport.set_write_buffer_limits(*write_limits)
    transport.start()
    return stream
