"""The per-test time limit: each phase (setup, call, teardown) may take ``zmqstreams_timeout``
seconds, and one that runs over fails with a report of where the test was waiting.

It uses ``SIGALRM``.  A test the plugin runs is cancelled at the ``await`` it waits in, so
that its cleanup runs; any other test is interrupted where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import signal
import tempfile
import threading
import time
import types
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

from ._state import ItemState, close_runner, item_state
from ._where import describe_task, is_plumbing

__all__ = (
    "TimeLimitExceeded",
    "pytest_runtest_call",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
)

#: After a time limit expired: seconds between attempts to interrupt a test that goes on.
_GRACE = 1.0


if TYPE_CHECKING:
    from _pytest.outcomes import Failed as _Failed
else:
    _Failed = pytest.fail.Exception  # the public spelling of pytest's Failed


class TimeLimitExceeded(_Failed):
    """A test phase ran past its time limit; the message says where the test was waiting.

    Like ``pytest.fail()``, it is not an ``Exception`` (an ``except Exception`` in the test does
    not swallow it) and pytest reports its message without the plugin's traceback.
    """

    # Where users import it from, and the name pytest's summary shows for a failed test.
    __module__ = "zmqstreams.testing"

    def __init__(self, report: str) -> None:
        super().__init__(report, pytrace=False)


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
    state = item_state(item)
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
            close_runner(item)  # the test's loop, within the time limit of its teardown


def _hang_report(item: pytest.Item, phase: str, seconds: float, state: ItemState) -> str:
    lines = [f"{item.nodeid}: {phase} exceeded the time limit of {seconds:g} s."]
    loop: asyncio.AbstractEventLoop | None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = state.runner.get_loop() if state.runner is not None else None
    if loop is not None:
        tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t is not state.main_task)
        lines.append(f"Pending tasks ({len(tasks)}), each where it waits:")
        lines.extend(describe_task(task) for task in tasks[:30])
    lines.append("Threads (faulthandler, most recent call first; pytest's frames left out):")
    with tempfile.TemporaryFile("w+") as dump:
        faulthandler.dump_traceback(dump, all_threads=True)
        dump.seek(0)
        lines.extend(line.rstrip() for line in dump if not is_plumbing(line))
    return "\n".join(lines)
