"""zmqstreams.testing.socket_faults: the documented seam through which tests make a stream's
socket fail where libzmq rarely or never does."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
import zmq

from zmqstreams.testing import socket_faults

pytestmark = pytest.mark.anyio


def _address() -> str:
    return f"inproc://socket-faults-{os.getpid()}-{id(object())}"


async def test_send_failing_after_a_frame_tears_the_message(zmq_stream_factory: Any) -> None:
    """A failure after part of a multipart message was taken ends the stream (never glues)."""
    push = await zmq_stream_factory(zmq.PUSH, bind=_address())
    with socket_faults(push) as faults:
        faults.fail_sends(zmq.EHOSTUNREACH, after_frames=1)
        with pytest.raises(OSError) as info:
            push.write([b"first", b"second"])
    assert faults.sent == [b"first"]
    assert info.value is push.exception()
    assert "after part of a message" in str(info.value)
    assert push.transport is None


async def test_send_failing_with_eagain_buffers_the_message(zmq_stream_factory: Any) -> None:
    """EAGAIN at the first frame: the message waits in the write buffer and goes out later."""
    address = _address()
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    push = await zmq_stream_factory(zmq.PUSH, connect=address)
    with socket_faults(push) as faults:
        faults.fail_sends(zmq.EAGAIN)
        push.write([b"waits"])
        assert push.statistics().write_buffer_messages == 1
    async with asyncio.timeout(5):
        assert await pull.read() == [b"waits"]  # the real send is back: the writer sends it


async def test_receive_raising_reaches_read(zmq_stream_factory: Any) -> None:
    """An exception of a kind that means a bug, met by the reader, is what read() raises."""
    address = _address()
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    peer = zmq.Context.instance().socket(zmq.PUSH)
    peer.connect(address)
    try:
        with socket_faults(pull) as faults:
            faults.fail_receives(ZeroDivisionError("boom"))
            for n in range(3):
                peer.send(b"%d" % n)

            async def read_all() -> None:
                while True:
                    await pull.read()

            async with asyncio.timeout(5):
                with pytest.raises(ZeroDivisionError, match="boom"):
                    await read_all()
        assert isinstance(pull.exception(), ZeroDivisionError)
    finally:
        peer.close(linger=0)


async def test_the_real_socket_is_back_after_the_block(zmq_stream_factory: Any) -> None:
    address = _address()
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    push = await zmq_stream_factory(zmq.PUSH, connect=address)
    with socket_faults(push) as faults:
        faults.fail_sends(zmq.EHOSTUNREACH)
        with pytest.raises(OSError):
            push.write([b"refused"])
    push.write([b"sent"])
    async with asyncio.timeout(5):
        assert await pull.read() == [b"sent"]


async def test_needs_an_open_stream(zmq_stream_factory: Any) -> None:
    push = await zmq_stream_factory(zmq.PUSH, bind=_address())
    push.close()
    with pytest.raises(ValueError, match="open stream"), socket_faults(push):
        pass
