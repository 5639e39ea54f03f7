"""create_zmq_stream(): the front door that validates arguments and wires the pieces."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ._socket import ZmqSocket, open_socket
from ._stream import ZmqStream
from ._transport import ZmqTransport
from ._watermarks import resolve_watermarks

__all__ = ("create_zmq_stream",)


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
) -> ZmqStream:
    """Create a ZeroMQ socket of ``zmq_type`` (or adopt ``zmq_sock``) and return its stream.

    Every ``bind`` endpoint is bound and every ``connect`` endpoint connected before this
    returns.  If one fails, the socket is closed and an ``OSError`` with the ZeroMQ errno is
    raised.  Sockets created here get LINGER = 1000 ms; a ``zmq_sock`` keeps its own LINGER
    (libzmq's default, -1, lets ``wait_closed()`` wait forever for undeliverable data).
    ``high_read``/``low_read`` and ``high_write``/``low_write`` are watermarks in bytes;
    ``events_backlog`` caps unread monitor events (``None``: no cap).  ``loop`` is accepted for
    aiozmq compatibility; the running loop is always used.

    Example::

        router = await create_zmq_stream(zmq.ROUTER, bind="tcp://127.0.0.1:*")
        addr = next(iter(router.transport.bindings()))
        dealer = await create_zmq_stream(zmq.DEALER, connect=addr)
    """
    binds = _endpoints(bind, "bind")
    connects = _endpoints(connect, "connect")
    write_limits = resolve_watermarks(high_write, low_write, "write")
    stream = ZmqStream(high=high_read, low=low_read, events_backlog=events_backlog)
    views = open_socket(zmq_type, zmq_sock)
    transport = ZmqTransport(views, zmq_type, stream, zmq_sock)
    stream.set_transport(transport)
    try:
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
