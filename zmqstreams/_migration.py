"""The names of aiozmq's top level that zmqstreams does not have, and what to use instead.

``zmqstreams.__getattr__`` is ``not_provided()``: Python calls it only for a name the module
lacks, so ``dir(zmqstreams)`` and ``__all__`` list only what exists, and a leftover
``aiozmq.ZmqEventLoopPolicy()`` in code that now reads ``import zmqstreams as aiozmq`` fails
with an ``AttributeError`` that says what to do instead and where the migration guide is.
"""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = ("GUIDE", "INSTEAD", "not_provided")

#: Where the guide is, in every message.
GUIDE = 'the migration guide: "Migrating from aiozmq" in the zmqstreams docs (docs/migration.rst)'

_NO_LOOP = (
    "zmqstreams needs no event loop of its own: streams work on the standard asyncio loop and "
    "on uvloop, so remove it and start the program with asyncio.run(main())"
)
_STREAMS_ONLY = (
    "zmqstreams implements aiozmq's streams API only, not its low-level protocol API: "
    "use create_zmq_stream() and the stream's read(), write() and read_event() instead, "
    "or pyzmq's zmq.asyncio sockets directly"
)

#: aiozmq 1.0's public names (its ``__all__``, and the ``rpc`` package) that zmqstreams lacks.
INSTEAD: dict[str, str] = {
    "ZmqEventLoop": _NO_LOOP,
    "ZmqEventLoopPolicy": (
        "zmqstreams needs no event loop policy: remove the "
        "asyncio.set_event_loop_policy(aiozmq.ZmqEventLoopPolicy()) call; streams work on the "
        "standard asyncio loop and on uvloop"
    ),
    "ZmqSelector": _NO_LOOP,
    "create_zmq_connection": _STREAMS_ONLY,
    "ZmqProtocol": _STREAMS_ONLY,
    "ZmqStreamProtocol": (
        "a stream's protocol is internal to zmqstreams: create_zmq_stream() returns a "
        "ZmqStream already wired to its transport"
    ),
    "rpc": (
        "zmqstreams has no RPC package: keep using aiozmq.rpc for it, imported under its own "
        "name, or build request/reply on create_zmq_stream() (see the socket types guide)"
    ),
    "version": (
        "use zmqstreams.__version__ (the version string) or zmqstreams.version_info (a named "
        "tuple); aiozmq's version also named the Python version, which is sys.version"
    ),
}


def not_provided(name: str) -> NoReturn:
    """Raise the ``AttributeError`` for ``zmqstreams.<name>``, with advice for aiozmq's names."""
    # name and obj let Python's traceback suggest a close match ("Did you mean: ...?").
    module = sys.modules["zmqstreams"]
    advice = INSTEAD.get(name)
    if advice is None:
        message = f"module 'zmqstreams' has no attribute {name!r}"
        raise AttributeError(message, name=name, obj=module)
    raise AttributeError(
        f"module 'zmqstreams' has no attribute {name!r} (aiozmq has): {advice}. See {GUIDE}.",
        name=name,
        obj=module,
    )
