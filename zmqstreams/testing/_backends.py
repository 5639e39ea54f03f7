"""Which ``async def`` tests the plugin runs, and on which event loops.

pytest cannot run coroutines, and anyio's plugin or pytest-asyncio may be installed beside
this one: the plugin takes only the coroutine tests nobody else claims, and parametrizes them
over the loops of ``zmqstreams_backends`` (the ``zmq_backend`` fixture).  ``ANYIO_BACKENDS`` is
the same matrix for the tests that anyio runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
from collections.abc import Iterable

import pytest

__all__ = (
    "ANYIO_BACKENDS",
    "UVLOOP_MISSING",
    "foreign_runner",
    "is_coroutine_test",
    "new_runner",
    "pytest_generate_tests",
    "pytest_pycollect_makeitem",
    "runs_here",
    "zmq_backend",
)

UVLOOP_MISSING = importlib.util.find_spec("uvloop") is None

#: ``anyio_backend`` params for the asyncio/uvloop matrix in anyio-run tests::
#:
#:     @pytest.fixture(params=zmqstreams.testing.ANYIO_BACKENDS)
#:     def anyio_backend(request): return request.param
ANYIO_BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(
        ("asyncio", {"use_uvloop": True}),
        id="uvloop",
        marks=pytest.mark.skipif(UVLOOP_MISSING, reason="uvloop is not installed"),
    ),
]


def _auto_mode(config: pytest.Config, name: str) -> bool:
    """Whether anyio's or pytest-asyncio's plugin (``name``: anyio_mode, asyncio_mode) is auto."""
    with contextlib.suppress(ValueError):
        if config.getoption(name, None) == "auto" or config.getini(name) == "auto":
            return True
    return False


def foreign_runner(node: pytest.Item | pytest.Collector, fixturenames: Iterable[str]) -> bool:
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


def is_coroutine_test(item: object) -> bool:
    return isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)


def runs_here(item: object) -> bool:
    """Whether this plugin runs the test: a coroutine test using our loop and nobody else's."""
    return (
        isinstance(item, pytest.Function)
        and is_coroutine_test(item)
        and (
            "zmq_backend" in item.fixturenames or item.get_closest_marker("zmqstreams") is not None
        )
        and not foreign_runner(item, item.fixturenames)
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
    if not inspect.iscoroutinefunction(metafunc.function) or foreign_runner(
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
                    name == "uvloop" and UVLOOP_MISSING, reason="uvloop is not installed"
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


def new_runner(backend: str) -> asyncio.Runner:
    """A runner whose loop is that of ``backend``: ``"asyncio"`` or ``"uvloop"``."""
    if backend == "uvloop":
        if UVLOOP_MISSING:
            pytest.skip("uvloop is not installed")
        uvloop = importlib.import_module("uvloop")
        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    if backend == "asyncio":
        # The stdlib loop itself, whatever loop policy the process has set.
        return asyncio.Runner(loop_factory=asyncio.SelectorEventLoop)
    raise pytest.UsageError(f"zmq_backend: unknown event loop {backend!r} (asyncio or uvloop)")
