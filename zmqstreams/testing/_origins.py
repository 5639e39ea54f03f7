"""Where a test's streams and tasks come from, for the leak check's report.

While the leak check watches a test, ``Origins`` keeps every ``ZmqStream`` the test creates,
with the place in the test's own code that created it: held here, a stream the test forgot to
close cannot be garbage-collected (which aborted it with a ``ResourceWarning`` only ``-W
default`` showed) before the check sees it.  Every task started meanwhile is remembered with the
place that started it, through the loop's task factory.  Nothing is recorded outside a watched
test: zmqstreams' switch (``zmqstreams._sites``) is off then.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import traceback
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import zmq

from .. import _sites
from .._stream import ZmqStream

__all__ = ("Origins", "Site", "describe_stream")


def _package_dir(name: str) -> str | None:
    """The directory of package ``name`` (without importing it), or None if not installed."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return os.path.dirname(origin) + os.sep if origin else None


#: Directories whose frames are machinery, never the place a test made something: zmqstreams
#: itself (this plugin included), asyncio, pytest and pluggy, and the loops and runners.
_PACKAGES = ("zmqstreams", "asyncio", "pytest", "_pytest", "pluggy")
_RUNNERS = ("uvloop", "anyio", "pytest_asyncio")
_MACHINERY = tuple(path for path in map(_package_dir, _PACKAGES + _RUNNERS) if path is not None)

#: At most this many frames of the test's code make a site (innermost ones).
_DEPTH = 3


#: The standard library (contextlib, functools... between a test and what it calls).
_STDLIB = os.path.dirname(os.__file__) + os.sep


def _is_machinery(filename: str) -> bool:
    if filename.startswith(_MACHINERY) or filename.startswith("<"):
        return True
    return filename.startswith(_STDLIB) and not any(
        part in filename for part in ("site-packages", "dist-packages")
    )


def _shown(filename: str) -> str:
    """A path relative to the directory pytest runs in, when it is below it."""
    relative = os.path.relpath(filename)
    return filename if relative.startswith(os.pardir) else relative


@dataclass(frozen=True)
class Site:
    """The innermost frames of the test's own code (outermost first) where something began."""

    frames: traceback.StackSummary

    @classmethod
    def here(cls) -> Site | None:
        """The caller's site, skipping zmqstreams', asyncio's and pytest's frames; None when no
        frame of the test's code is on the stack."""
        picked: list[tuple[FrameType, int]] = []
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and len(picked) < _DEPTH:
            if not _is_machinery(frame.f_code.co_filename):
                picked.append((frame, frame.f_lineno))
            elif picked:
                break  # the test's code called in from machinery: that is its outer end
            frame = frame.f_back
        if not picked:
            return None
        # Summaries only: keeping the frames would keep their locals alive.
        return cls(traceback.StackSummary.extract(reversed(picked), lookup_lines=True))

    def short(self) -> str:
        """``test_x.py:12 (test_name)``: the innermost frame."""
        last = self.frames[-1]
        return f"{_shown(last.filename)}:{last.lineno} ({last.name})"

    def lines(self, indent: str) -> list[str]:
        """The frames as a traceback shows them, indented."""
        out: list[str] = []
        for summary in self.frames:
            out.append(
                f'{indent}File "{_shown(summary.filename)}", line {summary.lineno}, '
                f"in {summary.name}"
            )
            if summary.line:
                out.append(f"{indent}  {summary.line}")
        return out


def describe_stream(stream: ZmqStream) -> str:
    """``a ROUTER stream bound to tcp://127.0.0.1:5555``, from public information only."""
    zmq_type = stream.get_extra_info("zmq_type")
    try:
        kind = zmq.SocketType(zmq_type).name
    except ValueError:
        kind = str(zmq_type)
    where = []
    transport = stream.transport
    if transport is not None:
        for verb, endpoints in (
            ("bound to", transport.bindings()),
            ("connected to", transport.connections()),
        ):
            if endpoints:
                where.append(f"{verb} {', '.join(sorted(endpoints))}")
    return f"a {kind} stream" + (f" {' and '.join(where)}" if where else "")


class Origins:
    """The streams a test created and the sites of the tasks it started, while installed."""

    def __init__(self) -> None:
        #: The streams created while installed, with their sites; held, so that none is
        #: collected while open.  Closed ones are dropped (see _stream_created).
        self._streams: list[tuple[ZmqStream, Site | None]] = []
        self._task_sites: weakref.WeakKeyDictionary[asyncio.Task[Any], Site] = (
            weakref.WeakKeyDictionary()
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_hook: Any = None
        self._previous_factory: Any = None
        self._hooked = False

    def install(self, loop: asyncio.AbstractEventLoop, *, streams: bool = True) -> None:
        """Record the sites of the tasks started on ``loop`` and, if ``streams``, the streams
        created (until ``uninstall()``)."""
        if streams:
            self._previous_hook = _sites.on_stream_created
            _sites.on_stream_created = self._stream_created
            self._hooked = True
        self._loop = loop
        self._previous_factory = loop.get_task_factory()
        loop.set_task_factory(self._task_factory)

    def uninstall(self) -> None:
        if self._hooked:
            _sites.on_stream_created = self._previous_hook
            self._hooked = False
        if self._loop is not None:
            self._loop.set_task_factory(self._previous_factory)
            self._loop = None

    def release(self) -> None:
        """Let go of the streams (after the check has closed the open ones)."""
        self._streams.clear()

    def open_streams(self) -> Iterator[tuple[ZmqStream, Site | None]]:
        """The streams created while installed that are not closed."""
        return ((s, site) for s, site in self._streams if s.transport is not None)

    def task_site(self, task: asyncio.Task[Any]) -> Site | None:
        return self._task_sites.get(task)

    def _stream_created(self, stream: ZmqStream) -> None:
        if self._previous_hook is not None:
            self._previous_hook(stream)
        # A test that opens and closes streams in a loop must not keep the closed ones: held,
        # they would pin memory the test means to see freed.  The open ones are few (libzmq
        # allows 1023 sockets by default), so looking at each every time costs little.
        streams = self._streams
        streams[:] = [(s, site) for s, site in streams if s.transport is not None]
        streams.append((stream, Site.here()))

    def _task_factory(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        factory = self._previous_factory
        if factory is not None:
            task: asyncio.Task[Any] = factory(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
            # In debug mode a task notes where it was created: there, not here (as the loop's
            # own create_task() does).
            source = getattr(task, "_source_traceback", None)
            if source:
                del source[-1]
        site = Site.here()
        if site is not None:
            self._task_sites[task] = site
        return task
