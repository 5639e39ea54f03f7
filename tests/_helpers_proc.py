"""Helpers for the reliability tests: child-process peers, resource gauges, monitor waits."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import zmq

import zmqstreams

#: The plain-pyzmq peer program (see its docstring for the modes).
PEER = Path(__file__).parent / "peers" / "zmq_peer.py"

#: The program that takes libzmq to its limits (see its docstring for the modes).
LIMITS = Path(__file__).parent / "peers" / "limits.py"

_PAGE = os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    """Number of file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def native_threads() -> int:
    """Number of OS threads of this process (Python's and libzmq's)."""
    return len(os.listdir("/proc/self/task"))


def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class Peer:
    """A ``peers/zmq_peer.py`` child process that has reported its endpoint.

    Started with ``subprocess.Popen`` and watched through the loop's ``add_reader`` (its stdout
    pipe, and a pidfd for its exit), so it works the same on asyncio and uvloop and leaves no
    loop-level child watcher or fd behind.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.endpoint = ""
        self._buffer = b""
        assert proc.stdout is not None
        self._stdout = proc.stdout.fileno()
        os.set_blocking(self._stdout, False)

    @classmethod
    async def start(cls, mode: str, endpoint: str, *args: str, within: float = 10) -> Peer:
        """Run the peer and wait (bounded) for its ``READY <endpoint>`` line."""
        proc = subprocess.Popen(  # noqa: ASYNC220 - only the spawn, the waits go through the loop
            [sys.executable, str(PEER), mode, endpoint, *args], stdout=subprocess.PIPE
        )
        peer = cls(proc)
        try:
            line = await peer.line(within)
            word, _, real = line.partition(" ")
            assert word == "READY", f"peer said {line!r}"
            peer.endpoint = real
        except BaseException:
            await peer.aclose()
            raise
        return peer

    async def line(self, within: float = 5) -> str:
        """The next line the peer printed (fails if none comes ``within`` seconds)."""
        async with asyncio.timeout(within):
            while b"\n" not in self._buffer:
                await _readable(self._stdout)
                try:
                    chunk = os.read(self._stdout, 65536)
                except BlockingIOError:
                    continue
                assert chunk, "the peer exited"
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    async def kill(self) -> None:
        """SIGKILL the peer and reap it (waits on a pidfd, so without polling)."""
        if self.proc.returncode is not None:
            return
        try:
            pidfd = os.pidfd_open(self.proc.pid)
        except ProcessLookupError:  # pragma: no cover - already reaped
            self.proc.wait()
            return
        try:
            self.proc.send_signal(signal.SIGKILL)
            async with asyncio.timeout(10):
                await _readable(pidfd)
        finally:
            os.close(pidfd)
        self.proc.wait()

    async def aclose(self) -> None:
        """Kill the peer if it still runs, reap it and close its pipe."""
        await self.kill()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


async def _readable(fd: int) -> None:
    """Wait until ``fd`` is readable, through the running loop."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def wait_event(
    stream: zmqstreams.ZmqStream, kind: zmq.Event, within: float = 5
) -> zmqstreams.SocketEvent:
    """Read monitor events until one of ``kind`` arrives (fails after ``within`` seconds)."""
    async with asyncio.timeout(within):
        while True:
            event = await stream.read_event()
            if event.event == kind:
                return event


def run_program(
    program: Path, *args: str, warnings: tuple[str, ...] = (), timeout: float = 25
) -> subprocess.CompletedProcess[str]:
    """Run ``program`` under ``-X dev -W error`` (plus ``warnings`` filters) from the repository
    root, within ``timeout`` s: under the 30 s test alarm, so that a hang reports as one."""
    root = Path(__file__).parent.parent
    filters = [arg for spec in warnings for arg in ("-W", spec)]
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", *filters, str(program), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )


def run_limits(mode: str) -> None:
    """Run ``peers/limits.py mode`` and expect it to print OK (a hang fails by the timeout)."""
    result = run_program(LIMITS, mode)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK"), result.stdout + result.stderr
