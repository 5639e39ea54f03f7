"""A pytest plugin for code that uses zmqstreams: stream fixtures, a leak check, a time limit.

It is opt-in and never activates by itself (there is no entry point).  Enable it in the
``conftest.py`` at the root of your tests::

    pytest_plugins = ["zmqstreams.testing"]

or for one run with ``pytest -p zmqstreams.testing``.  It needs nothing beyond pytest and works
with or without anyio's pytest plugin and pytest-asyncio installed:

* An ``async def`` test marked ``@pytest.mark.anyio`` (or in anyio's auto mode) is run by anyio;
  one marked ``@pytest.mark.asyncio`` (or in pytest-asyncio's auto mode) by pytest-asyncio.
* Any other ``async def`` test that uses a fixture of this plugin, or is marked
  ``@pytest.mark.zmqstreams``, is run by this plugin, once on each loop of the
  ``zmqstreams_backends`` ini option (asyncio and uvloop; uvloop is skipped if not installed).

Fixtures: ``zmq_backend``, ``zmq_transport``, ``zmq_endpoint``, ``zmq_stream_factory``,
``zmq_pair``, ``zmq_pair_factory`` and ``zmq_leak_check``.  Markers: ``zmqstreams``,
``zmqstreams_timeout(seconds)`` and ``zmqstreams_leak_check(enabled=True, *, tasks=True,
fds=True, loop_errors=True)``.  Ini options: ``zmqstreams_timeout``, ``zmqstreams_leak_check``,
``zmqstreams_leak_settle`` and ``zmqstreams_backends``.  See "Testing your code" in the docs.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import importlib
import importlib.util
import inspect
import itertools
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
import types
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import zmq

from ._factory import create_zmq_stream
from ._stream import ZmqStream

__all__ = (
    "ANYIO_BACKENDS",
    "PairFactory",
    "StreamFactory",
    "TimeLimitExceeded",
    "zmq_backend",
    "zmq_endpoint",
    "zmq_leak_check",
    "zmq_pair",
    "zmq_pair_factory",
    "zmq_stream_factory",
    "zmq_transport",
)

T = TypeVar("T")

#: Seconds that teardown waits for the streams of ``zmq_stream_factory`` to finish closing.
CLOSE_TIMEOUT = 5.0

#: After a time limit expired: seconds between attempts to interrupt a test that goes on.
_GRACE = 1.0

_UVLOOP_MISSING = importlib.util.find_spec("uvloop") is None

#: ``anyio_backend`` params for the asyncio/uvloop matrix in anyio-run tests::
#:
#:     @pytest.fixture(params=zmqstreams.testing.ANYIO_BACKENDS)
#:     def anyio_backend(request): return request.param
ANYIO_BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(
        ("asyncio", {"use_uvloop": True}),
        id="uvloop",
        marks=pytest.mark.skipif(_UVLOOP_MISSING, reason="uvloop is not installed"),
    ),
]


if TYPE_CHECKING:
    from _pytest.outcomes import Failed as _Failed
else:
    _Failed = pytest.fail.Exception  # the public spelling of pytest's Failed


class TimeLimitExceeded(_Failed):
    """A test phase ran past its time limit; the message says where the test was waiting.

    Like ``pytest.fail()``, it is not an ``Exception`` (an ``except Exception`` in the test does
    not swallow it) and pytest reports its message without the plugin's traceback.
    """

    def __init__(self, report: str) -> None:
        super().__init__(report, pytrace=False)


# ------------------------------------------------------------------ configuration


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "zmqstreams_timeout",
        "zmqstreams.testing: seconds each phase (setup, call, teardown) of a test may take; "
        "0 disables (default 60)",
        default="60",
    )
    parser.addini(
        "zmqstreams_leak_check",
        "zmqstreams.testing: fail async tests that leave tasks, fds or loop errors behind",
        type="bool",
        default=True,
    )
    parser.addini(
        "zmqstreams_leak_settle",
        "zmqstreams.testing: seconds the leak check waits for tasks and fds to go (default 5)",
        default="5",
    )
    parser.addini(
        "zmqstreams_backends",
        "zmqstreams.testing: event loops to run each async test on (asyncio uvloop)",
        type="args",
        default=["asyncio", "uvloop"],
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "zmqstreams: run this async test on the event loops of zmqstreams.testing",
        "zmqstreams_timeout(seconds): time limit for each phase of this test (0: none)",
        "zmqstreams_leak_check(enabled=True, *, tasks=True, fds=True, loop_errors=True): "
        "tune or disable the leak check of zmqstreams.testing",
    ):
        config.addinivalue_line("markers", line)
    for backend in config.getini("zmqstreams_backends"):
        if backend not in ("asyncio", "uvloop"):
            raise pytest.UsageError(
                f"zmqstreams_backends: unknown event loop {backend!r} (asyncio or uvloop)"
            )


# ------------------------------------------------------------------ who runs an async test


def _auto_mode(config: pytest.Config, name: str) -> bool:
    """Whether anyio's or pytest-asyncio's plugin (``name``: anyio_mode, asyncio_mode) is auto."""
    with contextlib.suppress(ValueError):
        if config.getoption(name, None) == "auto" or config.getini(name) == "auto":
            return True
    return False


def _foreign_runner(node: pytest.Item | pytest.Collector, fixturenames: Iterable[str]) -> bool:
    """Whether anyio's plugin or pytest-asyncio runs this coroutine test (so we must not)."""
    plugins = node.config.pluginmanager
    if plugins.has_plugin("anyio") and (
        "anyio_backend" in fixturenames
        or node.get_closest_marker("anyio") is not None
        or _auto_mode(node.config, "anyio_mode")
    ):
        return True
    return plugins.has_plugin("asyncio") and (
        node.get_closest_marker("asyncio") is not None or _auto_mode(node.config, "asyncio_mode")
    )


def _is_coroutine_test(item: object) -> bool:
    return isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)


def _runs_here(item: object) -> bool:
    """Whether this plugin runs the test: a coroutine test using our loop and nobody else's."""
    return (
        isinstance(item, pytest.Function)
        and _is_coroutine_test(item)
        and (
            "zmq_backend" in item.fixturenames or item.get_closest_marker("zmqstreams") is not None
        )
        and not _foreign_runner(item, item.fixturenames)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    # A test marked ``zmqstreams`` that uses none of our fixtures still needs the loop matrix.
    if not (collector.istestfunction(obj, name) and inspect.iscoroutinefunction(obj)):
        return
    marked = collector.get_closest_marker("zmqstreams") is not None or any(
        mark.name == "zmqstreams" for mark in getattr(obj, "pytestmark", ())
    )
    if marked:
        pytest.mark.usefixtures("zmq_backend")(obj)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each coroutine test that we run once per event loop of ``zmqstreams_backends``."""
    if "zmq_backend" not in metafunc.fixturenames:
        return
    if not inspect.iscoroutinefunction(metafunc.function) or _foreign_runner(
        metafunc.definition, metafunc.fixturenames
    ):
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if "zmq_backend" in (
            names.replace(" ", "").split(",") if isinstance(names, str) else names
        ):
            return  # the test chose its loops itself
    backends = metafunc.config.getini("zmqstreams_backends")
    metafunc.parametrize(
        "zmq_backend",
        [
            pytest.param(
                name,
                id=name,
                marks=pytest.mark.skipif(
                    name == "uvloop" and _UVLOOP_MISSING, reason="uvloop is not installed"
                ),
            )
            for name in backends
        ],
        indirect=True,
        scope="function",
    )


@pytest.fixture
def zmq_backend(request: pytest.FixtureRequest) -> str:
    """The event loop this plugin runs the test on: ``"asyncio"`` or ``"uvloop"``.

    Requesting it makes an ``async def`` test run once on each loop of ``zmqstreams_backends``.
    For tests that anyio's plugin or pytest-asyncio run, their own settings choose the loop
    and this is ``"asyncio"``.
    """
    return str(getattr(request, "param", "asyncio"))


# ------------------------------------------------------------------ running tests and fixtures


@dataclass
class _ItemState:
    #: The event loop runner of a test we run; created on first use, closed after teardown.
    runner: asyncio.Runner | None = None
    #: The task of the setup, call or teardown step being run; None between steps.
    main_task: asyncio.Task[Any] | None = None
    #: The hang report once the current phase ran out of time, else None.
    expired: str | None = None
    #: Whether the call phase failed (the leak check then stays quiet).
    call_failed: bool = False


_STATE = pytest.StashKey[_ItemState]()


def _state(item: pytest.Item) -> _ItemState:
    return item.stash.setdefault(_STATE, _ItemState())


def _new_runner(backend: str) -> asyncio.Runner:
    if backend == "uvloop":
        if _UVLOOP_MISSING:
            pytest.skip("uvloop is not installed")
        uvloop = importlib.import_module("uvloop")
        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    if backend == "asyncio":
        # The stdlib loop itself, whatever loop policy the process has set.
        return asyncio.Runner(loop_factory=asyncio.SelectorEventLoop)
    raise pytest.UsageError(f"zmq_backend: unknown event loop {backend!r} (asyncio or uvloop)")


def _run(item: pytest.Item, awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on the item's loop, as a task the time limit can cancel."""
    state = _state(item)
    if state.runner is None:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("zmq_backend", "asyncio") if callspec else "asyncio"
        state.runner = _new_runner(str(backend))

    async def step() -> T:
        state.main_task = asyncio.current_task()
        try:
            return await awaitable
        finally:
            state.main_task = None

    try:
        return state.runner.run(step())
    except (Exception, asyncio.CancelledError):
        # Cancelled by the time limit: report where it hung rather than the cancellation (or
        # what the cancellation made the test raise).
        if state.expired is not None:
            raise TimeLimitExceeded(state.expired) from None
        raise


def _close_runner(item: pytest.Item) -> None:
    state = item.stash.get(_STATE, None)
    if state is not None and state.runner is not None:
        runner, state.runner = state.runner, None
        runner.close()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Run the async fixtures of the tests we run on the test's loop."""
    func: Any = fixturedef.func
    is_asyncgen = inspect.isasyncgenfunction(func)
    if not (is_asyncgen or inspect.iscoroutinefunction(func)) or not _runs_here(request.node):
        return (yield)
    item = request.node
    assert isinstance(item, pytest.Function)

    def bound() -> Any:
        # A fixture defined in a test class runs bound to the test's instance.
        instance = request.instance
        if instance is not None and inspect.ismethod(func):
            return func.__func__.__get__(instance)
        return func

    def run_coroutine(**kwargs: Any) -> Any:
        return _run(item, bound()(**kwargs))

    def run_asyncgen(**kwargs: Any) -> Iterator[Any]:
        agen = bound()(**kwargs)
        yield _run(item, _first(agen, fixturedef.argname))
        _run(item, _last(agen, fixturedef.argname))

    # pytest calls ``fixturedef.func``; swap in the runner for this one setup (anyio's plugin
    # and pytest-asyncio take the same way in).
    fixturedef.func = run_asyncgen if is_asyncgen else run_coroutine  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = func  # type: ignore[misc]


async def _first(agen: Any, name: str) -> Any:
    try:
        return await agen.__anext__()
    except StopAsyncIteration:
        raise RuntimeError(f"async fixture {name!r} did not yield") from None


async def _last(agen: Any, name: str) -> None:
    try:
        await agen.__anext__()
    except StopAsyncIteration:
        return
    await agen.aclose()
    raise RuntimeError(f"async fixture {name!r} yielded more than once")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _runs_here(pyfuncitem):
        return None
    funcargs = pyfuncitem.funcargs
    args = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    _run(pyfuncitem, pyfuncitem.obj(**args))
    return True


# ------------------------------------------------------------------ the time limit


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("zmqstreams_timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("seconds")
    else:
        value = item.config.getini("zmqstreams_timeout")
    try:
        return float(value or 0)
    except ValueError:
        raise pytest.UsageError(f"zmqstreams_timeout: not a number of seconds: {value!r}") from None


def _pytest_timeout_active(item: pytest.Item) -> bool:
    """Whether pytest-timeout will time this test (both of us would use SIGALRM)."""
    if not item.config.pluginmanager.has_plugin("timeout"):
        return False
    if item.get_closest_marker("timeout") is not None:
        return True
    with contextlib.suppress(ValueError, TypeError):
        return float(item.config.getoption("timeout", None) or item.config.getini("timeout")) > 0
    return False


@contextlib.contextmanager
def _time_limit(item: pytest.Item, phase: str) -> Iterator[None]:
    seconds = _timeout_of(item)
    if (
        seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
        or _pytest_timeout_active(item)
    ):
        yield
        return
    state = _state(item)
    state.expired = None

    def expire(signum: int, frame: types.FrameType | None) -> None:
        if state.expired is None:
            state.expired = _hang_report(item, phase, seconds, state)
            task = state.main_task
            if task is not None and not task.done():
                # Our own test: cancel it at its await so that its cleanup runs, and
                # interrupt it below if it is still running after the grace period.
                task.get_loop().call_soon_threadsafe(task.cancel)
                signal.setitimer(signal.ITIMER_REAL, _GRACE)
                return
        # Again later if this one is swallowed (raised inside an event loop callback).
        signal.setitimer(signal.ITIMER_REAL, _GRACE)
        raise TimeLimitExceeded(state.expired)

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    outer_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # an enclosing timer (e.g. pytester inside a timed test) goes on
            left = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _time_limit(item, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _time_limit(item, "call"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    with _time_limit(item, "teardown"):
        try:
            return (yield)
        finally:
            _close_runner(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        _state(item).call_failed = True
    return report


def _hang_report(item: pytest.Item, phase: str, seconds: float, state: _ItemState) -> str:
    lines = [f"{item.nodeid}: {phase} exceeded the time limit of {seconds:g} s."]
    loop: asyncio.AbstractEventLoop | None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = state.runner.get_loop() if state.runner is not None else None
    if loop is not None:
        tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t is not state.main_task)
        lines.append(f"Pending tasks ({len(tasks)}), each where it waits:")
        lines.extend(_describe_task(task) for task in tasks[:30])
    lines.append("Threads (faulthandler, most recent call first; pytest's frames left out):")
    with tempfile.TemporaryFile("w+") as dump:
        faulthandler.dump_traceback(dump, all_threads=True)
        dump.seek(0)
        lines.extend(line.rstrip() for line in dump if not _is_plumbing(line))
    return "\n".join(lines)


def _is_plumbing(line: str) -> bool:
    """Whether a faulthandler line is a frame of pytest, pluggy or this module."""
    return any(part in line for part in (__file__, "/_pytest/", "/pluggy/", "<frozen runpy>"))


def _describe_task(task: asyncio.Task[Any]) -> str:
    """A task's name and the chain of awaits it is suspended in, innermost last."""
    frames: list[tuple[types.FrameType, int]] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = _first_attr(awaited, "cr_frame", "gi_frame", "ag_frame")
        if frame is None:
            break
        if frame.f_code.co_filename != __file__:  # our step() wrapper around each test
            frames.append((frame, frame.f_lineno))
        awaited = _first_attr(awaited, "cr_await", "gi_yieldfrom", "ag_await")
    where = "".join(traceback.StackSummary.extract(frames).format())
    return f"  {task.get_name()}:\n{where}".rstrip()


def _first_attr(obj: object, *names: str) -> Any:
    return next((getattr(obj, name) for name in names if hasattr(obj, name)), None)


# ------------------------------------------------------------------ the leak check

_warmed_contexts: set[int] = set()


def _warm_zmq_context() -> None:
    """Start the global context's I/O thread once, so that its fds do not count as leaks."""
    context: zmq.Context[Any] = zmq.Context.instance()
    if id(context) not in _warmed_contexts:
        context.socket(zmq.PAIR).close(linger=0)
        _warmed_contexts.add(id(context))


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


@pytest.fixture
async def zmq_leak_check(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail the test if it leaves tasks, file descriptors or event loop errors behind.

    Added first to every async test that this plugin or anyio's plugin runs, so it sees the
    state after every other fixture has been torn down.  Tune it with the
    ``zmqstreams_leak_check`` marker and ini options; after a failed test it stays quiet.
    """
    options = _leak_options(request.node)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on an asyncio loop (anyio's trio backend): nothing to check
        options = None
    if options is None:
        yield
        return
    _warm_zmq_context()
    errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()

    def record(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        errors.append(context)

    loop.set_exception_handler(record)
    tasks_before = asyncio.all_tasks()
    fd_dir = _fd_dir() if options.fds else None
    fds_before = _open_fds(fd_dir) if fd_dir else set()
    try:
        yield
        if _state(request.node).call_failed:
            return
        me = asyncio.current_task()

        def new_tasks() -> list[asyncio.Task[Any]]:
            return [
                t
                for t in asyncio.all_tasks()
                if t not in tasks_before and t is not me and not _is_runner_task(t)
            ]

        def new_fds() -> set[int]:
            return _open_fds(fd_dir) - fds_before if fd_dir else set()

        problems = []
        if options.tasks and not await _settle(lambda: not new_tasks(), options.settle):
            leaked = new_tasks()
            problems.append(f"the test left {len(leaked)} task(s) running:")
            problems.extend(_describe_task(task) for task in leaked)
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
        loop.set_exception_handler(previous_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # First fixture, so it sees what is left after every other fixture's teardown.
    for item in items:
        if not _is_coroutine_test(item) or not isinstance(item, pytest.Function):
            continue
        runner_is_anyio = item.config.pluginmanager.has_plugin("anyio") and (
            "anyio_backend" in item.fixturenames
        )
        if (_runs_here(item) or runner_is_anyio) and "zmq_leak_check" not in item.fixturenames:
            item.fixturenames.insert(0, "zmq_leak_check")


# ------------------------------------------------------------------ endpoints and streams

_TRANSPORTS = [
    pytest.param("inproc", id="inproc"),
    pytest.param(
        "ipc",
        id="ipc",
        marks=pytest.mark.skipif(not zmq.has("ipc"), reason="libzmq has no ipc transport"),
    ),
    pytest.param("tcp", id="tcp"),
]

_names = itertools.count()


@pytest.fixture(params=_TRANSPORTS)
def zmq_transport(request: pytest.FixtureRequest) -> str:
    """The transport of ``zmq_endpoint`` and the pair fixtures: inproc, ipc and tcp in turn.

    Choose others with ``@pytest.mark.parametrize("zmq_transport", ["tcp"])``.
    """
    return str(request.param)


class _Endpoints:
    """Fresh bindable endpoints of one transport."""

    def __init__(self, transport: str, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.transport = transport
        self._tmp_path_factory = tmp_path_factory
        #: Short directories made outside pytest's temp tree, removed by ``cleanup()``.
        self._short_dirs: list[str] = []

    def new(self) -> str:
        if self.transport == "inproc":
            return f"inproc://zmqstreams-testing-{os.getpid()}-{next(_names)}"
        if self.transport == "ipc":
            directory = str(self._tmp_path_factory.mktemp("ipc"))
            if len(directory) > 90:  # an ipc path must fit in sockaddr_un (about 107 bytes)
                directory = tempfile.mkdtemp(prefix="zs-")
                self._short_dirs.append(directory)
            return f"ipc://{directory}/s{next(_names)}"
        if self.transport == "tcp":
            return "tcp://127.0.0.1:*"
        raise pytest.UsageError(f"zmq_transport: unknown transport {self.transport!r}")

    def cleanup(self) -> None:
        for directory in self._short_dirs:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def _zmq_endpoints(
    zmq_transport: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_Endpoints]:
    endpoints = _Endpoints(zmq_transport, tmp_path_factory)
    yield endpoints
    endpoints.cleanup()


@pytest.fixture
def zmq_endpoint(_zmq_endpoints: _Endpoints) -> str:
    """A fresh bindable endpoint: ``inproc://<unique>``, ``ipc://<temp dir>/…`` or
    ``tcp://127.0.0.1:*`` (bind it, then read the port from ``transport.bindings()``)."""
    return _zmq_endpoints.new()


class StreamFactory:
    """``await zmq_stream_factory(zmq_type, **kwargs)``: ``create_zmq_stream()`` that remembers
    its streams, to close them all at the end of the test."""

    def __init__(self) -> None:
        self._streams: list[ZmqStream] = []

    async def __call__(self, zmq_type: int, /, **kwargs: Any) -> ZmqStream:
        stream = await create_zmq_stream(zmq_type, **kwargs)
        self._streams.append(stream)
        return stream

    async def aclose(self) -> None:
        """Close every stream, then wait (at most ``CLOSE_TIMEOUT`` s) until they are closed."""
        for stream in self._streams:
            stream.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                for stream in self._streams:
                    await stream.wait_closed()
        except TimeoutError:
            pytest.fail(f"streams did not finish closing within {CLOSE_TIMEOUT} s", pytrace=False)


class PairFactory:
    """``await zmq_pair_factory(bind_type, connect_type)``: ``(bound, connected)`` streams."""

    def __init__(self, streams: StreamFactory, endpoints: _Endpoints) -> None:
        self._streams = streams
        self._endpoints = endpoints

    async def __call__(
        self,
        bind_type: int,
        connect_type: int,
        /,
        *,
        endpoint: str | None = None,
        bind_kwargs: Mapping[str, Any] | None = None,
        connect_kwargs: Mapping[str, Any] | None = None,
        subscribe: Iterable[bytes] = (b"",),
    ) -> tuple[ZmqStream, ZmqStream]:
        """Bind a ``bind_type`` stream to ``endpoint`` (default: a fresh one of ``zmq_transport``)
        and connect a ``connect_type`` stream to it; the kwargs go to ``create_zmq_stream()``.

        A SUB side subscribes to each prefix of ``subscribe`` (everything by default).  A PUB/SUB
        pair is returned once a message gets through (the slow-joiner delay is over); the probe
        messages used to find out are all read, none is left for the test.
        """
        bound = await self._streams(
            bind_type, bind=endpoint or self._endpoints.new(), **(bind_kwargs or {})
        )
        assert bound.transport is not None
        address = next(iter(bound.transport.bindings()))
        connected = await self._streams(connect_type, connect=address, **(connect_kwargs or {}))
        prefixes = list(subscribe)
        for stream, zmq_type in ((bound, bind_type), (connected, connect_type)):
            if zmq_type == zmq.SUB:
                assert stream.transport is not None
                for prefix in prefixes:
                    stream.transport.subscribe(prefix)
        if {bind_type, connect_type} == {zmq.PUB, zmq.SUB} and prefixes:
            pub, sub = (bound, connected) if bind_type == zmq.PUB else (connected, bound)
            await _wait_subscribed(pub, sub, prefixes[0])
        return bound, connected


@pytest.fixture
async def zmq_stream_factory(zmq_backend: str) -> AsyncIterator[StreamFactory]:
    """``await zmq_stream_factory(zmq.PUSH, connect=...)``: ``create_zmq_stream()`` whose
    streams are closed, and waited for, after the test, even when it fails."""
    factory = StreamFactory()
    try:
        yield factory
    finally:
        await factory.aclose()


@pytest.fixture
def zmq_pair_factory(zmq_stream_factory: StreamFactory, _zmq_endpoints: _Endpoints) -> PairFactory:
    """``await zmq_pair_factory(zmq.ROUTER, zmq.DEALER)``: a stream of the first type bound to a
    fresh endpoint of ``zmq_transport`` and one of the second type connected to it (see
    `PairFactory`)."""
    return PairFactory(zmq_stream_factory, _zmq_endpoints)


async def _wait_subscribed(pub: ZmqStream, sub: ZmqStream, prefix: bytes) -> None:
    """Publish numbered probes until one arrives, then read the ones sent after it.

    Once a probe got through, every later one will (one PUB to one SUB keeps the order), so
    reading up to the last probe sent leaves nothing of ours in the SUB stream.
    """
    async with asyncio.timeout(CLOSE_TIMEOUT):
        for number in itertools.count():
            last = [prefix + b"\0zmqstreams-testing-probe-%d" % number]
            pub.write(last)
            try:
                async with asyncio.timeout(0.01):
                    got = await sub.read()
            except TimeoutError:
                continue
            while got != last:
                got = await sub.read()
            return


@pytest.fixture
async def zmq_pair(zmq_pair_factory: PairFactory) -> tuple[ZmqStream, ZmqStream]:
    """Two connected PAIR streams over ``zmq_transport``: ``server, client = zmq_pair``."""
    return await zmq_pair_factory(zmq.PAIR, zmq.PAIR)
