"""The plugin's ini options and markers, declared to pytest (so ``--strict-markers`` and
``--strict-config`` accept them) and checked once at start-up."""

from __future__ import annotations

import pytest

__all__ = ("pytest_addoption", "pytest_configure")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "zmqstreams_timeout",
        "zmqstreams.testing: seconds each phase (setup, call, teardown) of a test may take; "
        "0 disables (default 60)",
        default="60",
    )
    parser.addini(
        "zmqstreams_leak_check",
        "zmqstreams.testing: fail async tests that leave streams, tasks, fds or loop errors behind",
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
        "zmqstreams_leak_check(enabled=True, *, streams=True, tasks=True, fds=True, "
        "loop_errors=True): tune or disable the leak check of zmqstreams.testing",
    ):
        config.addinivalue_line("markers", line)
    for backend in config.getini("zmqstreams_backends"):
        if backend not in ("asyncio", "uvloop"):
            raise pytest.UsageError(
                f"zmqstreams_backends: unknown event loop {backend!r} (asyncio or uvloop)"
            )
