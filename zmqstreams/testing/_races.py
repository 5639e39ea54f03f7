"""Races: the receive a pending ``read()`` awaits, for tests that race something against it.

A ``read()`` that finds the buffer empty awaits the ``zmq.asyncio`` receive future itself.  A
test that must cancel, pause or close the stream in the very loop turn that future completes
(the races where a message could be lost) needs to see that future: ``pending_receive()``
gives it, without the test reaching into the stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .._stream import ZmqStream

__all__ = ("pending_receive",)


def pending_receive(stream: ZmqStream[Any]) -> asyncio.Future[Any] | None:
    """The receive future that ``stream``'s pending ``read()`` awaits, or None: no ``read()``
    is pending, it waits on the buffer instead (reading paused, or a transport other than
    zmqstreams'), or the stream is closed.

    Only look at the future (``done()``, ``add_done_callback()``): completing or cancelling
    it is the stream's business.
    """
    reader = stream._reader
    return reader.claimed if reader is not None else None
