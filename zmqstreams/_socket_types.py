"""What each ZeroMQ socket type can carry: its name, whether it sends and receives, and how many
frames a message it sends must have.  Checked before anything reaches libzmq, which would
otherwise drop or mangle such messages silently.
"""

from __future__ import annotations

import zmq

__all__ = ("FrameRule", "can_receive", "can_send", "frame_rule", "socket_type_name")

_NAMES = {int(t): t.name for t in zmq.SocketType}

#: Types that cannot send (libzmq answers ENOTSUP): PULL, SUB and the draft DISH and GATHER.
_RECEIVE_ONLY = frozenset(
    int(getattr(zmq, name)) for name in ("PULL", "SUB", "DISH", "GATHER") if hasattr(zmq, name)
)
#: Types that cannot receive: PUSH, PUB and the draft RADIO and SCATTER.
_SEND_ONLY = frozenset(
    int(getattr(zmq, name)) for name in ("PUSH", "PUB", "RADIO", "SCATTER") if hasattr(zmq, name)
)

#: ``(fewest, most)`` frames of a message the socket sends, ``most`` ``None`` for no limit.
FrameRule = tuple[int, int | None]

_RULES: dict[int, tuple[FrameRule, str]] = {
    # ROUTER drops a one-frame message silently (even with ROUTER_MANDATORY): its first frame
    # is the peer's routing id, taken off before sending.
    zmq.ROUTER: ((2, None), "[routing_id, frame, ...]"),
    # STREAM expects exactly [routing_id, data]; any other count puts the socket out of phase
    # and every later message to that peer is lost.  Empty data disconnects the peer.
    zmq.STREAM: ((2, 2), "[routing_id, data] (empty data disconnects the peer)"),
}
_ANY: tuple[FrameRule, str] = ((1, None), "")


def socket_type_name(zmq_type: int) -> str:
    """``zmq.DEALER`` -> ``"DEALER"``; a number libzmq lacks stays a number."""
    return _NAMES.get(zmq_type, str(zmq_type))


def can_send(zmq_type: int) -> bool:
    return zmq_type not in _RECEIVE_ONLY


def can_receive(zmq_type: int) -> bool:
    return zmq_type not in _SEND_ONLY


def frame_rule(zmq_type: int) -> tuple[FrameRule, str]:
    """The frame counts a message of ``zmq_type`` must have, and their shape for messages."""
    return _RULES.get(zmq_type, _ANY)
