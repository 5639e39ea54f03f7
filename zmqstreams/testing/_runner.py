"""Running the coroutine tests that the plugin owns, and their async fixtures, on the test's
own event loop (made on first use, closed after teardown).

Each step runs as a task that the time limit can cancel; once it has, the step fails with the
time limit's report rather than with the cancellation.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Generator, Iterator
from typing import Any, TypeVar

import pytest

from ._backends import new_runner, runs_here
from ._state import item_state
from ._time_limit import TimeLimitExceeded

__all__ = ("pytest_fixture_setup", "pytest_pyfunc_call")

T = TypeVar("T")


def _run(item: pytest.Item, awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on the item's loop, as a task the time limit can cancel."""
    state = item_state(item)
    if state.runner is None:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("zmq_backend", "asyncio") if callspec else "asyncio"
        state.runner = new_runner(str(backend))

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


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Run the async fixtures of the tests we run on the test's loop."""
    func: Any = fixturedef.func
    is_asyncgen = inspect.isasyncgenfunction(func)
    if not (is_asyncgen or inspect.iscoroutinefunction(func)) or not runs_here(request.node):
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
    if not runs_here(pyfuncitem):
        return None
    funcargs = pyfuncitem.funcargs
    args = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    _run(pyfuncitem, pyfuncitem.obj(**args))
    return True
