"""The leak check: an async test fails at teardown if it leaves streams open, tasks running,
file descriptors open or event loop errors behind, each listed with where it comes from.

Leaks are caught where they happen rather than as odd failures of a later test.  The
``zmq_leak_check`` fixture is put first in each async test the plugin or anyio's plugin
runs, so it looks after every other fixture's teardown; it stays quiet after a failed test.

A stream left open is reported with the line of the test that created it, then closed; the
tasks and fds that end with it are listed under it, so that they are not reported as library
internals (``zmqstreams-reader`` waiting in ``_reader.py``, ``anon_inode:[eventfd]``).  Other
tasks are listed with the line that started them and the ``await`` they wait in.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import pytest
import zmq

from .._stream import ZmqStream
from ._backends import is_coroutine_test, runs_here
from ._origins import Origins, Site, describe_stream
from ._state import item_state
from ._where import describe_task

__all__ = (
    "pytest_collection_modifyitems",
    "pytest_runtest_makereport",
    "warm_zmq_context",
    "zmq_leak_check",
)

_warmed_contexts: set[int] = set()


def warm_zmq_context() -> None:
    """Start, once, what pyzmq keeps for the whole process, so that its fds do not count as
    leaks: the global context's I/O thread, and the thread with a context of its own that pyzmq
    starts at the first send without a copy (zmqstreams sends large messages so).

    The leak check calls it before each async test; call it yourself before counting fds in a
    synchronous test.  libzmq closes the warm-up sockets' own fds later, in its reaper thread:
    it waits for that (milliseconds, once), or such an fd could be counted as open before the
    test, and a number the test reuses missed.
    """
    context: zmq.Context[Any] = zmq.Context.instance()
    if id(context) in _warmed_contexts:
        return
    sender, receiver = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    fds = sender.FD, receiver.FD
    address = f"inproc://zmqstreams-testing-warm-up-{id(sender)}"
    receiver.bind(address)
    sender.connect(address)
    sender.send(bytes(zmq.COPY_THRESHOLD), copy=False)  # starts pyzmq's garbage thread
    receiver.recv()
    sender.close(linger=0)
    receiver.close(linger=0)
    _warmed_contexts.add(id(context))
    deadline = time.monotonic() + 1.0
    while any(map(_is_open, fds)) and time.monotonic() < deadline:
        time.sleep(0.001)


def _fd_dir() -> str | None:
    return next((d for d in ("/proc/self/fd", "/dev/fd") if os.path.isdir(d)), None)


def _open_fds(fd_dir: str) -> set[int]:
    # The listing's own fd is among the names, and closed by now: fstat leaves it out.
    return {fd for fd in map(int, os.listdir(fd_dir)) if _is_open(fd)}


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _fd_target(fd_dir: str, fd: int) -> str:
    try:
        return os.readlink(f"{fd_dir}/{fd}")
    except OSError:
        return "?"


@dataclass(frozen=True)
class _LeakOptions:
    streams: bool = True
    tasks: bool = True
    fds: bool = True
    loop_errors: bool = True
    settle: float = 5.0


def _leak_options(item: pytest.Item) -> _LeakOptions | None:
    """What the leak check looks at for this test, or None when it is off."""
    marker = item.get_closest_marker("zmqstreams_leak_check")
    enabled = item.config.getini("zmqstreams_leak_check")
    kwargs: dict[str, Any] = {}
    if marker is not None:
        enabled = bool(marker.args[0]) if marker.args else marker.kwargs.get("enabled", True)
        kwargs = {k: v for k, v in marker.kwargs.items() if k != "enabled"}
    if not enabled:
        return None
    kwargs.setdefault("settle", float(item.config.getini("zmqstreams_leak_settle")))
    try:
        return _LeakOptions(**kwargs)
    except TypeError as exc:
        raise pytest.UsageError(f"zmqstreams_leak_check marker: {exc}") from None


def _is_runner_task(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is one that anyio's test runner runs a fixture step in."""
    return getattr(task.get_coro(), "__qualname__", "").startswith("TestRunner.")


async def _settle(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` until true or ``seconds`` pass.

    libzmq frees a closed socket's fds in its reaper thread, after up to LINGER (1 s for the
    sockets of zmqstreams) when messages are still queued.  Objects that hold tasks or fds may
    sit in reference cycles: collect those now and then (a collection can take a while).
    """
    deadline = time.monotonic() + seconds
    next_collect = 0.0
    while not condition():
        now = time.monotonic()
        if now > deadline:
            return False
        if now >= next_collect:
            gc.collect()
            next_collect = time.monotonic() + 0.1
        await asyncio.sleep(0.005)
    return True


@dataclass
class _Closed:
    """What went away when the check closed a stream the test left open."""

    stream: str
    site: Site | None
    tasks: list[str]
    fds: list[str]

    def lines(self) -> list[str]:
        head = f"  {self.stream}, created at:" if self.site else f"  {self.stream}:"
        out = [head, *(self.site.lines("    ") if self.site else [])]
        out += [f"    its task {name}" for name in self.tasks]
        out += [f"    its fd {fd}" for fd in self.fds]
        return out


async def _close_left_open(
    stream: ZmqStream,
    site: Site | None,
    tasks: Callable[[], list[asyncio.Task[Any]]],
    fds: Callable[[], set[int]],
    fd_dir: str | None,
) -> _Closed:
    """Close a stream the test left open; the tasks and fds that end with it were its own."""
    description = describe_stream(stream)
    tasks_before, fds_before = tasks(), fds()
    targets = {fd: _fd_target(fd_dir, fd) if fd_dir else "?" for fd in fds_before}
    own_fd: int | None = None
    with contextlib.suppress(Exception):  # the socket may already be closed under the stream
        own_fd = int(stream.get_extra_info("zmq_socket").FD)
    transport = stream.transport
    if transport is not None:
        transport.abort()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2.0):
            await stream.wait_closed()
    # libzmq's reaper thread closes the socket's fds soon after: its own last.
    await _settle(lambda: own_fd not in fds() or not fds_before & fds(), 2.0)
    await asyncio.sleep(0.01)
    gone_fds = sorted(fds_before - fds())
    return _Closed(
        description,
        site,
        [task.get_name() for task in tasks_before if task.done()],
        [
            f"{fd} -> {targets[fd]}" + (" (its ZeroMQ socket)" if fd == own_fd else "")
            for fd in gone_fds
        ],
    )


def _describe_leaked_task(task: asyncio.Task[Any], site: Site | None) -> str:
    described = describe_task(task)
    if site is None:
        return described
    name, _, where = described.partition("\n")
    return f"{name[:-1]}, started at {site.short()}:" + (f"\n{where}" if where else "")


@pytest.fixture
async def zmq_leak_check(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail the test if it leaves streams open, tasks running, file descriptors open or event
    loop errors behind.

    Added first to every async test that this plugin or anyio's plugin runs, so it sees the
    state after every other fixture has been torn down.  Tune it with the
    ``zmqstreams_leak_check`` marker and ini options; after a failed test it stays quiet (and
    still closes the streams the test left open).
    """
    options = _leak_options(request.node)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on an asyncio loop (anyio's trio backend): nothing to check
        options = None
    if options is None:
        yield
        return
    warm_zmq_context()
    errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()

    def record(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        errors.append(context)

    loop.set_exception_handler(record)
    origins = Origins()
    origins.install(loop, streams=options.streams)
    tasks_before = asyncio.all_tasks()
    fd_dir = _fd_dir() if options.fds else None
    fds_before = _open_fds(fd_dir) if fd_dir else set()
    try:
        yield
        me = asyncio.current_task()

        def new_tasks() -> list[asyncio.Task[Any]]:
            return [
                t
                for t in asyncio.all_tasks()
                if t not in tasks_before and t is not me and not _is_runner_task(t)
            ]

        def new_fds() -> set[int]:
            return _open_fds(fd_dir) - fds_before if fd_dir else set()

        closed = [
            await _close_left_open(stream, site, new_tasks, new_fds, fd_dir)
            for stream, site in list(origins.open_streams())
        ]
        if item_state(request.node).call_failed:
            return
        problems = []
        if closed:
            problems.append(f"the test left {len(closed)} stream(s) open (the check closed them):")
            for entry in closed:
                problems.extend(entry.lines())
        if options.tasks and not await _settle(lambda: not new_tasks(), options.settle):
            leaked = new_tasks()
            problems.append(f"the test left {len(leaked)} task(s) running:")
            problems.extend(_describe_leaked_task(t, origins.task_site(t)) for t in leaked)
        if fd_dir and not await _settle(lambda: not new_fds(), options.settle):
            problems.append("the test left file descriptors open:")
            problems.extend(f"  fd {fd} -> {_fd_target(fd_dir, fd)}" for fd in sorted(new_fds()))
        gc.collect()  # "Task was destroyed but it is pending!" and the like
        await asyncio.sleep(0)
        if options.loop_errors and errors:
            problems.append("the event loop reported errors:")
            for context in errors:
                exc = context.get("exception")
                problems.append(f"  {context.get('message')}" + (f": {exc!r}" if exc else ""))
        if problems:
            problems.append("(zmqstreams.testing leak check; tune or disable it with the")
            problems.append(" zmqstreams_leak_check marker or ini option)")
            pytest.fail("\n".join(problems), pytrace=False)
    finally:
        origins.uninstall()
        origins.release()
        loop.set_exception_handler(previous_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # First fixture, so it sees what is left after every other fixture's teardown.
    for item in items:
        if not is_coroutine_test(item) or not isinstance(item, pytest.Function):
            continue
        runner_is_anyio = item.config.pluginmanager.has_plugin("anyio") and (
            "anyio_backend" in item.fixturenames
        )
        if (runs_here(item) or runner_is_anyio) and "zmq_leak_check" not in item.fixturenames:
            item.fixturenames.insert(0, "zmq_leak_check")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # A failed test's leaks are usually a consequence: remember it, for the check to stay quiet.
    report = yield
    if report.when == "call" and report.failed:
        item_state(item).call_failed = True
    return report
