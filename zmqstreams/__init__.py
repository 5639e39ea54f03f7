"""zmqstreams: asyncio streams over ZeroMQ, a drop-in for aiozmq's streams API.

``import zmqstreams as aiozmq`` keeps stream code written for aiozmq working.  aiozmq's names
that zmqstreams does not have (``ZmqEventLoopPolicy``, ``create_zmq_connection``, ``rpc``, ...)
raise an ``AttributeError`` that says what to use instead (``_migration.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import ZmqStreamClosed as ZmqStreamClosed
from ._events import SocketEvent as SocketEvent
from ._factory import create_zmq_stream as create_zmq_stream
from ._statistics import StreamStatistics as StreamStatistics
from ._stream import ZmqStream as ZmqStream
from ._transport import ZmqTransport as ZmqTransport
from ._version import __version__ as __version__
from ._version import version_info as version_info

# Hidden from type checkers, which would accept any name through it; TYPE_CHECKING itself is
# no name of ours.
if not TYPE_CHECKING:
    from ._migration import not_provided as __getattr__  # noqa: F401 (Python calls it)
del TYPE_CHECKING

__all__ = (
    "SocketEvent",
    "StreamStatistics",
    "ZmqStream",
    "ZmqStreamClosed",
    "ZmqTransport",
    "__version__",
    "create_zmq_stream",
    "version_info",
)
