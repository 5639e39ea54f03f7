"""Where code waits, for the reports of the time limit and the leak check: the chain of
awaits a task is suspended in, and which stack frames are plumbing to leave out (pytest's,
pluggy's, and this package's own, such as the wrapper each test step runs in)."""

from __future__ import annotations

import asyncio
import os
import traceback
import types
from typing import Any

__all__ = ("describe_task", "is_plumbing")

#: The directory of this package: its frames are the plugin's, never the test's.
_OWN_DIR = os.path.dirname(__file__) + os.sep


def is_plumbing(line: str) -> bool:
    """Whether a faulthandler line is a frame of pytest, pluggy or this package."""
    return any(part in line for part in (_OWN_DIR, "/_pytest/", "/pluggy/", "<frozen runpy>"))


def describe_task(task: asyncio.Task[Any]) -> str:
    """A task's name and the chain of awaits it is suspended in, innermost last."""
    frames: list[tuple[types.FrameType, int]] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = _first_attr(awaited, "cr_frame", "gi_frame", "ag_frame")
        if frame is None:
            break
        if not frame.f_code.co_filename.startswith(_OWN_DIR):  # e.g. the runner's step()
            frames.append((frame, frame.f_lineno))
        awaited = _first_attr(awaited, "cr_await", "gi_yieldfrom", "ag_await")
    where = "".join(traceback.StackSummary.extract(frames).format())
    return f"  {task.get_name()}:\n{where}".rstrip()


def _first_attr(obj: object, *names: str) -> Any:
    return next((getattr(obj, name) for name in names if hasattr(obj, name)), None)
