"""A switch for ``zmqstreams.testing``: told of every ``ZmqStream`` created while it is on.

The plugin's leak check sets ``on_stream_created`` for the duration of a test, to keep the
test's streams and where each was created, and fail the test that leaves one open.  Off (None),
creating a stream costs one attribute test; nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ("on_stream_created",)

#: Called with each new ``ZmqStream``, from its ``__init__``, while set; None: nothing recorded.
on_stream_created: Callable[[Any], None] | None = None
