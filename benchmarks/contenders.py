"""The contenders: the same few socket primitives written the natural way for each library.

Each contender opens sockets and runs tight loops (send N, receive N, request/reply N, echo N)
written as a user of that library would write them, so the per-message cost measured is the
library's.  Workloads (``workloads.py``) compose these primitives; nothing here times anything
except the request/reply latencies, which must be taken inside the loop.

* ``zmqstreams``: ``stream.write(msg)`` + ``await stream.drain()``; ``await stream.read()``.
* ``raw``: ``zmq.asyncio`` with one ``await send_multipart()`` / ``recv_multipart()`` per
  message.  The baseline every ratio is taken against.
* ``blocking``: plain pyzmq with blocking calls, each loop in a worker thread (the loop idles).
* ``aiozmq``: aiozmq streams, used like zmqstreams; only when aiozmq is importable.

zmqstreams, raw and blocking also come as zero-copy variants (``copy=False`` in their names),
which run the large-message workloads only: they receive ``zmq.Frame`` objects
(``create_zmq_stream(..., copy=False)``, ``recv_multipart(copy=False)``) and send without a
copy (zmqstreams: ``write()`` of a ``zmq.Frame``; the others ``send_multipart(copy=False)``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import zmq
import zmq.asyncio

import zmqstreams

__all__ = (
    "BLOCKING_TIMEOUT_MS",
    "Check",
    "Contender",
    "Make",
    "available_contenders",
    "ZERO_COPY",
    "blocking_echo_n",
    "blocking_recv_n",
    "blocking_recv_until",
    "blocking_request_n",
    "blocking_send_n",
)

#: Builds message number ``seq``: ``bytes`` frames, or ``zmq.Frame`` ones for a zero-copy sender.
Make = Callable[[int], list[Any]]
Check = Callable[[list[bytes], int], bool]

E = TypeVar("E")

#: A blocking call waits at most this long for a single message before giving up (ms).
BLOCKING_TIMEOUT_MS = 10_000

#: How a zero-copy variant's name ends.
ZERO_COPY = " copy=False"


class Contender(ABC, Generic[E]):
    """One library under test; ``E`` is its socket handle type."""

    #: Short name used in tables and JSON.
    name: str
    #: False for a zero-copy variant: it receives ``zmq.Frame`` objects and sends without a copy.
    copy: bool = True

    def _named(self, name: str, copy: bool) -> None:
        self.copy = copy
        self.name = name if copy else name + ZERO_COPY

    @abstractmethod
    async def open(
        self, kind: int, addr: str, *, bind: bool, hwm: int | None = None
    ) -> tuple[E, str]:
        """Open a socket of ``kind``, bind or connect it to ``addr``; return it and the endpoint.

        ``hwm`` sets ZeroMQ's high-water marks (SNDHWM and RCVHWM; 0 lifts them, so that
        PUB/SUB never drops a message), before any bind or connect; None keeps ZeroMQ's
        default.  SUB sockets are subscribed to everything.
        """

    @abstractmethod
    async def close(self, end: E) -> None:
        """Close ``end`` and wait until it is closed."""

    @abstractmethod
    async def send_n(self, end: E, make: Make, start: int, n: int) -> None:
        """Send messages ``start`` .. ``start + n - 1``."""

    @abstractmethod
    async def send_one(self, end: E, msg: list[bytes]) -> None:
        """Send one control message."""

    @abstractmethod
    async def recv_n(self, end: E, check: Check, start: int, n: int) -> int:
        """Receive ``n`` messages expected to be ``start``...; return how many were not intact."""

    @abstractmethod
    async def recv_one(self, end: E) -> list[bytes]:
        """Receive one message."""

    @abstractmethod
    async def recv_until(self, end: E, marker: list[bytes]) -> None:
        """Receive and discard messages up to and including ``marker``."""

    @abstractmethod
    async def request_n(self, end: E, make: Make, check: Check, n: int) -> tuple[list[int], int]:
        """Send request ``i`` and await its echo, ``n`` times; return latencies (ns), bad count."""

    @abstractmethod
    async def echo_n(self, end: E, n: int) -> None:
        """Echo ``n`` messages back to their sender (a ROUTER end)."""


def _set_options(kind: int, setsockopt: Callable[[int, Any], None], hwm: int | None) -> None:
    if hwm is not None:
        setsockopt(zmq.SNDHWM, hwm)
        setsockopt(zmq.RCVHWM, hwm)
    if kind == zmq.SUB:
        setsockopt(zmq.SUBSCRIBE, b"")


def _uncopied(method: Callable[..., Any], copy: bool) -> Callable[..., Any]:
    """``method`` (a socket's send or receive), with ``copy=False`` for a zero-copy variant."""
    return method if copy else functools.partial(method, copy=False)


def _as_frames(make: Make) -> Make:
    """``make``, its frames handed over as ``zmq.Frame`` objects sharing the bytes' memory."""
    frame = zmq.Frame
    return lambda seq: [frame(data, copy=False) for data in make(seq)]


class _StreamsApi(Contender[Any]):
    """A library with the aiozmq streams API, driven as its docs say: write + drain, await read.

    zmqstreams and aiozmq share that API, so they share this driver and differ only in how a
    stream is created and closed.
    """

    create: Callable[..., Awaitable[Any]]

    async def open(
        self, kind: int, addr: str, *, bind: bool, hwm: int | None = None
    ) -> tuple[Any, str]:
        stream = await self.create(kind)
        transport = stream.transport
        assert transport is not None
        _set_options(kind, transport.setsockopt, hwm)
        endpoint = await (transport.bind(addr) if bind else transport.connect(addr))
        return stream, endpoint

    async def send_n(self, end: Any, make: Make, start: int, n: int) -> None:
        write, drain = end.write, end.drain
        for seq in range(start, start + n):
            write(make(seq))
            await drain()

    async def send_one(self, end: Any, msg: list[bytes]) -> None:
        end.write(msg)
        await end.drain()

    async def recv_n(self, end: Any, check: Check, start: int, n: int) -> int:
        read = end.read
        bad = 0
        for seq in range(start, start + n):
            if not check(await read(), seq):
                bad += 1
        return bad

    async def recv_one(self, end: Any) -> list[bytes]:
        msg: list[bytes] = await end.read()
        return msg

    async def recv_until(self, end: Any, marker: list[bytes]) -> None:
        while await end.read() != marker:
            pass

    async def request_n(self, end: Any, make: Make, check: Check, n: int) -> tuple[list[int], int]:
        write, drain, read, now = end.write, end.drain, end.read, time.perf_counter_ns
        latencies: list[int] = []
        bad = 0
        for seq in range(n):
            msg = make(seq)
            started = now()
            write(msg)
            await drain()
            reply = await read()
            latencies.append(now() - started)
            if not check(reply, seq):
                bad += 1
        return latencies, bad

    async def echo_n(self, end: Any, n: int) -> None:
        write, drain, read = end.write, end.drain, end.read
        for _ in range(n):
            write(await read())
            await drain()


class ZmqStreams(_StreamsApi):
    """zmqstreams, the library under test.

    The zero-copy variant reads from streams made with ``copy=False`` (``read()`` gives
    ``zmq.Frame`` objects) and writes each frame as a ``zmq.Frame``, the form it reads and
    forwards.  It does not write ``bytes``: ``write()`` already sends large ``bytes`` frames
    without a copy, so that would run the same code as the default variant.
    """

    def __init__(self, copy: bool = True) -> None:
        self._named("zmqstreams", copy)
        self.create = functools.partial(zmqstreams.create_zmq_stream, copy=copy)

    async def send_n(self, end: Any, make: Make, start: int, n: int) -> None:
        await super().send_n(end, make if self.copy else _as_frames(make), start, n)

    async def close(self, end: zmqstreams.ZmqStream) -> None:
        end.close()
        await end.wait_closed()


class RawAsyncio(Contender[zmq.asyncio.Socket]):
    """``zmq.asyncio`` the obvious way: one awaited call per message (the zero-copy variant
    passes ``copy=False`` to each)."""

    def __init__(self, copy: bool = True) -> None:
        self._named("raw", copy)
        self._ctx = zmq.asyncio.Context.instance()

    async def open(
        self, kind: int, addr: str, *, bind: bool, hwm: int | None = None
    ) -> tuple[zmq.asyncio.Socket, str]:
        sock = self._ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 1000)
        _set_options(kind, sock.setsockopt, hwm)
        if bind:
            sock.bind(addr)
            endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        else:
            sock.connect(addr)
            endpoint = addr
        return sock, endpoint

    async def close(self, end: zmq.asyncio.Socket) -> None:
        end.close()

    async def send_n(self, end: zmq.asyncio.Socket, make: Make, start: int, n: int) -> None:
        send = _uncopied(end.send_multipart, self.copy)
        for seq in range(start, start + n):
            await send(make(seq))

    async def send_one(self, end: zmq.asyncio.Socket, msg: list[bytes]) -> None:
        await end.send_multipart(msg)

    async def recv_n(self, end: zmq.asyncio.Socket, check: Check, start: int, n: int) -> int:
        recv = _uncopied(end.recv_multipart, self.copy)
        bad = 0
        for seq in range(start, start + n):
            if not check(await recv(), seq):
                bad += 1
        return bad

    async def recv_one(self, end: zmq.asyncio.Socket) -> list[bytes]:
        return await end.recv_multipart()

    async def recv_until(self, end: zmq.asyncio.Socket, marker: list[bytes]) -> None:
        while await end.recv_multipart() != marker:
            pass

    async def request_n(
        self, end: zmq.asyncio.Socket, make: Make, check: Check, n: int
    ) -> tuple[list[int], int]:
        send, recv, now = end.send_multipart, end.recv_multipart, time.perf_counter_ns
        latencies: list[int] = []
        bad = 0
        for seq in range(n):
            msg = make(seq)
            started = now()
            await send(msg)
            reply = await recv()
            latencies.append(now() - started)
            if not check(reply, seq):
                bad += 1
        return latencies, bad

    async def echo_n(self, end: zmq.asyncio.Socket, n: int) -> None:
        send, recv = end.send_multipart, end.recv_multipart
        for _ in range(n):
            await send(await recv())


class _BlockingEnd:
    """A plain pyzmq socket and the worker-thread calls still running on it."""

    __slots__ = ("pending", "sock")

    def __init__(self, sock: zmq.Socket[Any]) -> None:
        self.sock = sock
        self.pending: set[Future[Any]] = set()


class Blocking(Contender[_BlockingEnd]):
    """Plain pyzmq, blocking calls, each loop in a worker thread: the practical upper bound.

    Every blocking call gives up after ``BLOCKING_TIMEOUT_MS`` without a message, so a broken
    run ends; ``close()`` waits for the socket's threads before closing it (pyzmq sockets must
    not be closed under a thread using them).  The zero-copy variant sends and receives the
    messages it times with ``copy=False``.
    """

    def __init__(self, copy: bool = True) -> None:
        self._named("blocking", copy)
        self._ctx: zmq.Context[zmq.Socket[Any]] = zmq.Context.instance()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bench-blocking")

    def _run(self, end: _BlockingEnd, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        future = self._pool.submit(fn, *args)
        end.pending.add(future)
        future.add_done_callback(end.pending.discard)
        return asyncio.wrap_future(future)

    async def open(
        self, kind: int, addr: str, *, bind: bool, hwm: int | None = None
    ) -> tuple[_BlockingEnd, str]:
        sock = self._ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.RCVTIMEO, BLOCKING_TIMEOUT_MS)
        sock.setsockopt(zmq.SNDTIMEO, BLOCKING_TIMEOUT_MS)
        _set_options(kind, sock.setsockopt, hwm)
        if bind:
            sock.bind(addr)
            return _BlockingEnd(sock), sock.getsockopt_string(zmq.LAST_ENDPOINT)
        sock.connect(addr)
        return _BlockingEnd(sock), addr

    async def close(self, end: _BlockingEnd) -> None:
        if end.pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in end.pending])
        end.sock.close()

    async def send_n(self, end: _BlockingEnd, make: Make, start: int, n: int) -> None:
        await self._run(end, blocking_send_n, end.sock, make, start, n, self.copy)

    async def send_one(self, end: _BlockingEnd, msg: list[bytes]) -> None:
        await self._run(end, end.sock.send_multipart, msg)

    async def recv_n(self, end: _BlockingEnd, check: Check, start: int, n: int) -> int:
        bad: int = await self._run(end, blocking_recv_n, end.sock, check, start, n, self.copy)
        return bad

    async def recv_one(self, end: _BlockingEnd) -> list[bytes]:
        msg: list[bytes] = await self._run(end, end.sock.recv_multipart)
        return msg

    async def recv_until(self, end: _BlockingEnd, marker: list[bytes]) -> None:
        await self._run(end, blocking_recv_until, end.sock, marker)

    async def request_n(
        self, end: _BlockingEnd, make: Make, check: Check, n: int
    ) -> tuple[list[int], int]:
        result: tuple[list[int], int] = await self._run(
            end, blocking_request_n, end.sock, make, check, n
        )
        return result

    async def echo_n(self, end: _BlockingEnd, n: int) -> None:
        await self._run(end, blocking_echo_n, end.sock, n)


# The blocking loops are plain functions so that the peer process can use them too.


def blocking_send_n(
    sock: zmq.Socket[Any], make: Make, start: int, n: int, copy: bool = True
) -> None:
    send = _uncopied(sock.send_multipart, copy)
    for seq in range(start, start + n):
        send(make(seq))


def blocking_recv_n(
    sock: zmq.Socket[Any], check: Check, start: int, n: int, copy: bool = True
) -> int:
    recv = _uncopied(sock.recv_multipart, copy)
    bad = 0
    for seq in range(start, start + n):
        if not check(recv(), seq):
            bad += 1
    return bad


def blocking_recv_until(sock: zmq.Socket[Any], marker: list[bytes]) -> None:
    while sock.recv_multipart() != marker:
        pass


def blocking_request_n(
    sock: zmq.Socket[Any], make: Make, check: Check, n: int
) -> tuple[list[int], int]:
    send, recv, now = sock.send_multipart, sock.recv_multipart, time.perf_counter_ns
    latencies: list[int] = []
    bad = 0
    for seq in range(n):
        msg = make(seq)
        started = now()
        send(msg)
        reply = recv()
        latencies.append(now() - started)
        if not check(reply, seq):
            bad += 1
    return latencies, bad


def blocking_echo_n(sock: zmq.Socket[Any], n: int) -> None:
    send, recv = sock.send_multipart, sock.recv_multipart
    for _ in range(n):
        send(recv())


class AioZmq(_StreamsApi):
    """aiozmq streams, when installed (no zero-copy variant: aiozmq has no zero-copy API)."""

    name = "aiozmq"

    def __init__(self) -> None:
        import aiozmq  # type: ignore[import-untyped]

        self.create = aiozmq.create_zmq_stream

    async def close(self, end: Any) -> None:
        end.close()
        # aiozmq has no wait_closed(): let its close callbacks run.
        for _ in range(3):
            await asyncio.sleep(0)


def available_contenders(names: list[str]) -> tuple[list[Contender[Any]], list[str]]:
    """Instantiate the contenders named in ``names`` (in that order); return them and notes.

    aiozmq is skipped with a note when it cannot be imported.
    """
    factories: dict[str, Callable[[], Contender[Any]]] = {
        "zmqstreams": ZmqStreams,
        "raw": RawAsyncio,
        "blocking": Blocking,
        "aiozmq": AioZmq,
        "zmqstreams" + ZERO_COPY: functools.partial(ZmqStreams, copy=False),
        "raw" + ZERO_COPY: functools.partial(RawAsyncio, copy=False),
        "blocking" + ZERO_COPY: functools.partial(Blocking, copy=False),
    }
    chosen: list[Contender[Any]] = []
    notes: list[str] = []
    for name in names:
        try:
            chosen.append(factories[name]())
        except ImportError as exc:
            notes.append(f"{name} skipped: not importable ({exc}); `pip install {name}` to add it")
    return chosen, notes
