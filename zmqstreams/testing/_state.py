"""What the plugin remembers about one test, shared by its parts: the runner and the time
limit need the test's loop and task, the leak check whether the test failed.

It lives in the item's stash, so it goes away with the item.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

__all__ = ("ItemState", "close_runner", "item_state")


@dataclass
class ItemState:
    #: The event loop runner of a test we run; created on first use, closed after teardown.
    runner: asyncio.Runner | None = None
    #: The task of the setup, call or teardown step being run; None between steps.
    main_task: asyncio.Task[Any] | None = None
    #: The hang report once the current phase ran out of time, else None.
    expired: str | None = None
    #: Whether the call phase failed (the leak check then stays quiet).
    call_failed: bool = False


_STATE = pytest.StashKey[ItemState]()


def item_state(item: pytest.Item) -> ItemState:
    return item.stash.setdefault(_STATE, ItemState())


def close_runner(item: pytest.Item) -> None:
    """Close the test's event loop, if the plugin made one for it."""
    state = item.stash.get(_STATE, None)
    if state is not None and state.runner is not None:
        runner, state.runner = state.runner, None
        runner.close()
