"""zmqstreams: asyncio streams over ZeroMQ, a drop-in for aiozmq's streams API.

``import zmqstreams as aiozmq`` keeps stream code written for aiozmq working.
"""

from __future__ import annotations

from ._errors import ZmqStreamClosed as ZmqStreamClosed
from ._events import SocketEvent as SocketEvent
from ._factory import create_zmq_stream as create_zmq_stream
from ._statistics import StreamStatistics as StreamStatistics
from ._stream import ZmqStream as ZmqStream
from ._transport import ZmqTransport as ZmqTransport

__version__ = "0.1.0"

__all__ = (
    "SocketEvent",
    "StreamStatistics",
    "ZmqStream",
    "ZmqStreamClosed",
    "ZmqTransport",
    "__version__",
    "create_zmq_stream",
)
