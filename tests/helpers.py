"""Small helpers shared by the tests (imported as ``from helpers import ...``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import zmqstreams


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for a state that no event announces (e.g. libzmq's I/O thread), within ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within} s")
        await asyncio.sleep(0.002)


async def settle_tasks(rounds: int = 5) -> None:
    """Let tasks that are ready run; used to reach a state, never to wait for I/O."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def task_names() -> set[str]:
    """Names of the zmqstreams tasks alive in the running loop."""
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("zmqstreams-")}


def endpoint_of(stream: zmqstreams.ZmqStream) -> str:
    """The single bound endpoint of ``stream``."""
    assert stream.transport is not None
    (endpoint,) = stream.transport.bindings()
    return endpoint
