"""Present a ``ZmqStream`` as an anyio object stream of messages.

This is the only module of zmqstreams that imports anyio; ``import zmqstreams`` does not load
it, so anyio stays an optional dependency.

Example::

    import anyio
    import zmq
    import zmqstreams
    from zmqstreams.anyio_compat import ZmqObjectStream

    async def main() -> None:
        server = await zmqstreams.create_zmq_stream(zmq.PAIR, bind="tcp://127.0.0.1:*")
        addr = next(iter(server.transport.bindings()))
        client = await zmqstreams.create_zmq_stream(zmq.PAIR, connect=addr)
        async with ZmqObjectStream(server) as rx, ZmqObjectStream(client) as tx:
            await tx.send([b"hello"])
            print(await rx.receive())  # [b'hello']

    anyio.run(main)

How the stream's outcomes map onto anyio's conventions:

========================================  =============================================
zmqstreams                                ``ZmqObjectStream``
========================================  =============================================
``read()`` returns a message              ``receive()`` returns it
``read()`` raises ``ZmqStreamClosed``     ``receive()`` raises ``anyio.EndOfStream``
a socket error (``OSError``)              ``anyio.BrokenResourceError`` (cause: the error)
``write()``/``drain()`` on a closed       ``send()`` raises ``anyio.BrokenResourceError``
stream
``write()`` raises ``OSError``: the       ``send()`` raises that ``OSError``; the stream
socket refused that one message           is not broken and stays usable
anything after ``aclose()``               ``anyio.ClosedResourceError``
a second concurrent ``receive()``         ``anyio.BusyResourceError``
========================================  =============================================
"""

from __future__ import annotations

import anyio
import anyio.abc

from ._errors import ZmqStreamClosed
from ._stream import ZmqStream
from ._transport import ZmqTransport

__all__ = ("ZmqObjectStream",)


class ZmqObjectStream(anyio.abc.ObjectStream[list[bytes]]):
    """An ``anyio.abc.ObjectStream`` whose items are ZeroMQ messages (lists of frames).

    Code written against anyio's stream interfaces can take a ZeroMQ stream through this
    adapter.  It owns ``stream``: ``aclose()`` closes it.  Cancelling ``receive()`` loses no
    message (``ZmqStream.read()`` consumes nothing until it returns), so ``anyio.fail_after()``
    and ``anyio.move_on_after()`` around it are safe.

    Args:
        stream: The stream to adapt, as returned by ``create_zmq_stream()``.

    Example::

        async with ZmqObjectStream(stream) as messages:
            async for frames in messages:  # ends when the stream closes
                print(frames)
    """

    def __init__(self, stream: ZmqStream) -> None:
        if not isinstance(stream, ZmqStream):
            raise TypeError(f"stream must be a ZmqStream, got {type(stream).__name__}")
        self._stream = stream
        #: True once aclose() was called on this adapter.
        self._closed = False
        #: True while a receive() is pending (ZeroMQ streams allow one reader at a time).
        self._receiving = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ZmqObjectStream {state} stream={self._stream!r}>"

    @property
    def stream(self) -> ZmqStream:
        """The adapted ``ZmqStream``."""
        return self._stream

    async def receive(self) -> list[bytes]:
        """Return the next message.

        Raises:
            anyio.EndOfStream: The stream was closed (by its owner or by a socket shutdown) and
                every buffered message has been received.
            anyio.BrokenResourceError: The socket failed; ``__cause__`` is the ``OSError``.
            anyio.ClosedResourceError: ``aclose()`` was called on this adapter.
            anyio.BusyResourceError: Another task is already receiving.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        if self._receiving:
            raise anyio.BusyResourceError("receiving from")
        self._receiving = True
        try:
            return await self._stream.read()
        except ZmqStreamClosed:
            if self._closed:
                raise anyio.ClosedResourceError from None
            raise anyio.EndOfStream from None
        except OSError as exc:
            raise anyio.BrokenResourceError(str(exc)) from exc
        finally:
            self._receiving = False

    async def send(self, item: list[bytes]) -> None:
        """Write ``item`` (a non-empty list of bytes-like frames), then wait for ``drain()``.

        Raises:
            TypeError: ``item`` is not a valid message; nothing of it was sent.
            OSError: The socket refused this message (e.g. ``EHOSTUNREACH``, ``EFSM``); nothing
                of it was sent and the stream stays usable.
            anyio.BrokenResourceError: The stream was closed by its owner, or the socket failed.
            anyio.ClosedResourceError: ``aclose()`` was called on this adapter.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        try:
            self._stream.write(item)
        except ZmqStreamClosed as exc:
            raise anyio.BrokenResourceError(str(exc)) from exc
        except OSError as exc:
            if exc is self._stream.exception():  # the socket failed: the stream has ended
                raise anyio.BrokenResourceError(str(exc)) from exc
            raise  # refused: this one message only
        try:
            await self._stream.drain()
        except (ZmqStreamClosed, OSError) as exc:
            if self._closed:
                raise anyio.ClosedResourceError from None
            raise anyio.BrokenResourceError(str(exc)) from exc

    async def send_eof(self) -> None:
        """Not supported: a ZeroMQ socket cannot be half-closed.

        Raises:
            NotImplementedError: Always; use ``aclose()`` to end the conversation.
        """
        raise NotImplementedError("ZeroMQ sockets cannot be half-closed; use aclose()")

    async def aclose(self) -> None:
        """Close the stream and wait until its socket is closed.  Idempotent.

        Messages already accepted by ``send()`` are flushed within the socket's LINGER.  If
        this wait is cancelled, the flush is abandoned and the socket is closed at once; the
        stream is closed either way.
        """
        if self._closed:
            return
        self._closed = True
        transport: ZmqTransport | None = self._stream.transport
        self._stream.close()
        try:
            await self._stream.wait_closed()
        except BaseException:
            if transport is not None:
                transport.abort()
            raise
