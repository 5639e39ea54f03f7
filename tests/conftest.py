"""Shared fixtures: event-loop backends, a leak check around every async test, stream factories.

Every async test runs on the default asyncio loop and on uvloop (through anyio's pytest plugin),
inside a per-test alarm so that no test can hang the suite, and fails if it leaves tasks, file
descriptors (each ZeroMQ socket owns one) or loop errors behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import zmq

import zmqstreams

#: Hard bound on one test, in seconds (a test may ask for more with @pytest.mark.timeout(n)).
DEFAULT_TEST_TIMEOUT = 30


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout(seconds): hard time limit for one test")


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param  # type: ignore[no-any-return]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and item.get_closest_marker("anyio") is not None
            and inspect.iscoroutinefunction(item.obj)
        ):
            item.fixturenames.insert(0, "leak_check")


class _TestTimeout(Exception):
    pass


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def expire(signum: int, frame: Any) -> None:
        raise _TestTimeout(f"test took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        return (yield)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="session", autouse=True)
def _zmq_context_warm() -> None:
    """Start, once, what pyzmq keeps for the whole process, so their fds are not counted as
    leaks: the global context's I/O threads, and the thread (with its own context) pyzmq
    starts at the first send without a copy, which zmqstreams makes for large messages."""
    context = zmq.Context.instance()
    sender, receiver = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    receiver.bind("inproc://zmqstreams-tests-warm-up")
    sender.connect("inproc://zmqstreams-tests-warm-up")
    sender.send(bytes(zmq.COPY_THRESHOLD), copy=False)
    receiver.recv()
    sender.close(linger=0)
    receiver.close(linger=0)


async def _settle(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` until true or ``seconds`` pass (libzmq releases fds in its reaper)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        gc.collect()
        await asyncio.sleep(0.005)
    return True


@pytest.fixture
async def leak_check(_zmq_context_warm: None) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    tasks_before = set(asyncio.all_tasks())
    fds_before = open_fds()
    yield
    me = asyncio.current_task()

    def extra_tasks() -> set[asyncio.Task[Any]]:
        return {
            t
            for t in asyncio.all_tasks()
            if t not in tasks_before
            and t is not me
            and not getattr(t.get_coro(), "__qualname__", "").startswith("TestRunner.")
        }

    try:
        tasks_ok = await _settle(lambda: not extra_tasks(), 2.0)
        fds_ok = await _settle(lambda: open_fds() <= fds_before, 5.0)
        gc.collect()
        await asyncio.sleep(0)
        assert tasks_ok, f"test left tasks behind: {extra_tasks()}"
        assert fds_ok, f"test left fds open: {open_fds()} > {fds_before}: {_fd_targets()}"
        assert not errors, f"event loop errors: {errors}"
    finally:
        loop.set_exception_handler(previous_handler)


StreamFactory = Callable[..., Awaitable[zmqstreams.ZmqStream]]


@pytest.fixture
async def make_stream() -> AsyncIterator[StreamFactory]:
    """``await make_stream(zmq.PAIR, bind=...)``: a stream closed (and waited for) at teardown."""
    streams: list[zmqstreams.ZmqStream] = []

    async def factory(zmq_type: int, **kwargs: Any) -> zmqstreams.ZmqStream:
        stream = await zmqstreams.create_zmq_stream(zmq_type, **kwargs)
        streams.append(stream)
        return stream

    yield factory
    for stream in streams:
        stream.close()
    with anyio_fail_after(5):
        for stream in streams:
            await stream.wait_closed()


def anyio_fail_after(seconds: float) -> Any:
    import anyio

    return anyio.fail_after(seconds)


TRANSPORTS = ["inproc", "ipc", "tcp"]


@pytest.fixture(params=TRANSPORTS)
def endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bindable endpoint of each transport: inproc, ipc in a temp dir, tcp on 127.0.0.1."""
    kind = request.param
    if kind == "inproc":
        return f"inproc://zmqstreams-test-{os.getpid()}-{id(request)}"
    if kind == "ipc":
        return f"ipc://{tmp_path_factory.mktemp('ipc')}/sock"
    return "tcp://127.0.0.1:*"


@pytest.fixture
async def pair(
    make_stream: StreamFactory, endpoint: str
) -> tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream]:
    """Two connected PAIR streams over each transport."""
    server = await make_stream(zmq.PAIR, bind=endpoint)
    addr = next(iter(server.transport.bindings()))  # type: ignore[union-attr]
    client = await make_stream(zmq.PAIR, connect=addr)
    return server, client


def _fd_targets() -> list[str]:
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sorted(targets)
