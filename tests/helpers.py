"""Small helpers shared by the tests (imported as ``from helpers import ...``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import zmqstreams
from zmqstreams.testing import SocketFaults


def measured(record_property: Callable[[str, object], None], line: str, **figures: object) -> None:
    """Report a test's measurements without printing into pytest's progress line: each figure
    becomes a property in the junit XML (``--junitxml``), and ``line`` goes to the test's
    captured output, which pytest shows with ``-s`` or ``-rP``, or when the test fails."""
    for name, value in figures.items():
        record_property(name, value)
    print(line)


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


async def first_closed(*streams: zmqstreams.ZmqStream) -> zmqstreams.ZmqStream:
    """The first of ``streams`` whose ``wait_closed()`` returns; the others may still close.

    Ordering two closes tells one LINGER from another without a stopwatch: the loop runs
    timers by deadline, so the order holds however late a busy machine runs them.
    """
    order: list[zmqstreams.ZmqStream] = []
    waits = []
    for stream in streams:
        wait = asyncio.ensure_future(stream.wait_closed())
        wait.add_done_callback(lambda _, stream=stream: order.append(stream))
        waits.append(wait)
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.wait(waits)
    return order[0]


def task_names() -> set[str]:
    """Names of the zmqstreams tasks alive in the running loop."""
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("zmqstreams-")}


def endpoint_of(stream: zmqstreams.ZmqStream) -> str:
    """The single bound endpoint of ``stream``."""
    assert stream.transport is not None
    (endpoint,) = stream.transport.bindings()
    return endpoint


def failing_send(errno: int, *, after_frames: int) -> SocketFaults:
    """A ``send`` that takes ``after_frames`` frames, then fails with ``errno``, for testing
    the send loop without a socket (see ``SocketFaults.fail_sends``)."""

    def unused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket call the test did not expect")

    faults = SocketFaults(unused, unused)
    faults.fail_sends(errno, after_frames=after_frames)
    return faults
