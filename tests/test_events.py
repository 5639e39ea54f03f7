"""SocketEvent decoding: bytes in, SocketEvent out, no sockets."""

from __future__ import annotations

import struct

import pytest
import zmq

from zmqstreams import SocketEvent


def frames(event: int, value: int, endpoint: bytes) -> list[bytes]:
    return [struct.pack("=hi", event, value), endpoint]


def test_parse_gives_typed_fields() -> None:
    """event is a zmq.Event, value a plain int, endpoint a str."""
    ev = SocketEvent.parse(frames(zmq.EVENT_CONNECTED, 20, b"tcp://127.0.0.1:5555"))
    assert ev == SocketEvent(zmq.Event.CONNECTED, 20, "tcp://127.0.0.1:5555")
    assert type(ev.event) is zmq.Event
    assert type(ev.value) is int
    assert ev.value == 20
    assert type(ev.endpoint) is str


def test_value_is_not_cast_to_an_event_flag() -> None:
    """An fd of 20 stays 20, not a zmq.Event flag set."""
    ev = SocketEvent.parse(frames(zmq.EVENT_ACCEPTED, 20, b"tcp://x:1"))
    assert repr(ev.value) == "20"


def test_unpacks_like_a_tuple() -> None:
    """aiozmq code unpacks events as (event, value, endpoint)."""
    event, value, endpoint = SocketEvent.parse(frames(zmq.EVENT_DISCONNECTED, 7, b"ipc://a"))
    assert (event, value, endpoint) == (zmq.Event.DISCONNECTED, 7, "ipc://a")


def test_negative_value_and_bad_utf8_endpoint() -> None:
    """A negative value survives; undecodable endpoint bytes are replaced, not fatal."""
    ev = SocketEvent.parse(frames(zmq.EVENT_CONNECT_RETRIED, -1, b"tcp://\xff"))
    assert ev.value == -1
    assert ev.endpoint.startswith("tcp://")


def test_malformed_frames_are_rejected() -> None:
    """Frames that are not a monitor message raise instead of producing garbage."""
    with pytest.raises(RuntimeError):
        SocketEvent.parse([b"short", b"x"])
    with pytest.raises(RuntimeError):
        SocketEvent.parse([b"only one frame"])
