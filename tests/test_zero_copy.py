"""Large messages without copies: ``create_zmq_stream(copy=False)`` reads ``zmq.Frame``s, and
``write()`` takes frames and any C-contiguous buffer, sending those that cannot change without a
copy once the message reaches the socket's copy threshold.
"""

from __future__ import annotations

import array
import asyncio
import gc
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import zmq

import zmqstreams
from zmqstreams.testing import socket_faults

from helpers import wait_until

pytestmark = pytest.mark.anyio

BIG = 1 << 20  # well above pyzmq's copy threshold (64 KiB)


def _address(name: str) -> str:
    return f"inproc://zero-copy-{name}-{os.getpid()}-{id(object())}"


async def _pair(
    zmq_stream_factory: Any, **pull_kwargs: Any
) -> tuple[zmqstreams.ZmqStream, zmqstreams.ZmqStream[Any]]:
    address = _address("pair")
    pull = await zmq_stream_factory(zmq.PULL, bind=address, **pull_kwargs)
    push = await zmq_stream_factory(zmq.PUSH, connect=address)
    return push, pull


async def test_read_returns_frames_with_copy_false(zmq_stream_factory: Any) -> None:
    """copy=False: read() gives the zmq.Frame libzmq filled, content intact, for every part."""
    push, pull = await _pair(zmq_stream_factory, copy=False)
    assert pull.get_extra_info("copy") is False
    payload = bytes(range(256)) * (BIG // 256)
    push.write([b"header", payload, b""])
    async with asyncio.timeout(10):
        frames = await pull.read()
    assert [type(frame) for frame in frames] == [zmq.Frame] * 3
    assert [frame.bytes for frame in frames] == [b"header", payload, b""]
    view = memoryview(frames[1])  # read in place, no copy
    assert view.nbytes == BIG
    assert view[:4].tobytes() == payload[:4]


async def test_frames_count_their_bytes_against_the_read_watermarks(
    zmq_stream_factory: Any,
) -> None:
    """With copy=False a frame weighs its bytes: 1 MiB messages pause intake at once."""
    push, pull = await _pair(zmq_stream_factory, copy=False, high_read=4 * BIG)
    for n in range(10):
        push.write([bytes([n]) * BIG])
    async with asyncio.timeout(10):
        while not pull.statistics().reading_paused:
            await asyncio.sleep(0.001)
        statistics = pull.statistics()
        assert statistics.read_buffer_bytes > 4 * BIG
        assert statistics.read_buffer_messages <= 5  # stops taking once above the mark
        for n in range(10):
            (frame,) = await pull.read()
            assert frame.bytes == bytes([n]) * BIG


async def test_default_streams_still_read_bytes(zmq_stream_factory: Any) -> None:
    push, pull = await _pair(zmq_stream_factory)
    push.write([b"x" * BIG])
    async with asyncio.timeout(10):
        (frame,) = await pull.read()
    assert type(frame) is bytes
    assert pull.get_extra_info("copy") is True


@pytest.mark.parametrize("copy", ["yes", 1, None])
async def test_copy_must_be_a_bool(copy: Any) -> None:
    with pytest.raises(TypeError, match="copy must be True or False"):
        await zmqstreams.create_zmq_stream(zmq.PULL, copy=copy)


async def test_write_takes_frames_and_buffers(zmq_stream_factory: Any) -> None:
    """zmq.Frame, bytearray, memoryview (read-only or not) and array.array are all frames."""
    push, pull = await _pair(zmq_stream_factory)
    numbers = array.array("i", [1, 2, 3])
    push.write(
        [
            zmq.Frame(b"a frame"),
            bytearray(b"bytearray"),
            memoryview(b"read-only view"),
            memoryview(bytearray(b"writable view")),
            numbers,
        ]
    )
    async with asyncio.timeout(5):
        message = await pull.read()
    assert message == [
        b"a frame",
        b"bytearray",
        b"read-only view",
        b"writable view",
        numbers.tobytes(),
    ]
    assert push.statistics().bytes_written == 7 + 9 + 14 + 13 + numbers.itemsize * 3


@pytest.mark.parametrize("bad", ["text", 3, 1.5, [b"nested"], None])
async def test_write_refuses_what_has_no_buffer(zmq_stream_factory: Any, bad: Any) -> None:
    push, _pull = await _pair(zmq_stream_factory)
    with pytest.raises(TypeError, match=r"frame 1 of msg must be bytes, zmq\.Frame or an object"):
        push.write([b"ok", bad])


class RecordingSend:
    """Stands in for the writer's send: records each frame's copy argument, then sends it."""

    def __init__(self, send: Any) -> None:
        self.send = send
        self.copies: list[bool] = []

    def __call__(self, frame: Any, flags: int, copy: bool = True) -> Any:
        self.copies.append(copy)
        return self.send(frame, flags, copy=copy)


async def test_large_fixed_frames_go_uncopied_and_writable_ones_are_copied(
    zmq_stream_factory: Any,
) -> None:
    """In a message of 1 MiB or more, bytes, zmq.Frame and read-only buffers are sent with
    copy=False, writable buffers with copy=True; a smaller message is copied, even above
    pyzmq's copy threshold (a copy is cheaper there), except its zmq.Frame."""
    push, pull = await _pair(zmq_stream_factory)
    writable = bytearray(b"w" * BIG)
    with socket_faults(push) as faults:
        recorder = faults.send = RecordingSend(faults.send)
        push.write(
            [
                b"b" * BIG,
                zmq.Frame(b"f" * BIG),
                memoryview(b"r" * BIG),
                writable,
            ]
        )
        writable[:] = b"X" * BIG  # at once: the sent message is not changed
        push.write([b"small", bytearray(b"message")])
        push.write([b"m" * (BIG // 2), zmq.Frame(b"F" * (BIG // 4))])
    async with asyncio.timeout(10):
        first = await pull.read()
        second = await pull.read()
        third = await pull.read()
    assert recorder.copies == [False, False, False, True, True, True, True, True]
    assert [bytes(frame[:1]) for frame in third] == [b"m", b"F"]
    assert [bytes(frame[:1]) for frame in first] == [b"b", b"f", b"r", b"w"]
    assert first[3] == b"w" * BIG
    assert second == [b"small", b"message"]


async def test_buffered_writable_frames_are_copied_fixed_ones_kept(
    zmq_stream_factory: Any, tmp_path: Path
) -> None:
    """A message that must wait in the write buffer keeps its fixed frames as they are (the
    buffer holds a reference, not a copy) and a copy of its writable ones: changing the
    caller's buffer afterwards changes nothing that is sent."""
    address = f"ipc://{tmp_path}/peer"  # nobody else can bind it meanwhile, unlike a tcp port
    push = await zmq_stream_factory(
        zmq.PUSH, connect=address, options={zmq.IMMEDIATE: 1}
    )  # no peer yet: the message waits in the write buffer
    fixed = b"f" * BIG
    writable = bytearray(b"w" * BIG)
    push.write([fixed, writable])
    assert push.statistics().write_buffer_messages == 1
    # Kept, not copied: the buffered message's frames hold this very object.  (Not a reference
    # count: pyzmq's own reference from the send that met EAGAIN goes a little later.)
    kept = [r for r in gc.get_referrers(fixed) if type(r) is tuple and r and r[0] is fixed]
    assert len(kept) == 1
    assert kept[0][1] == b"w" * BIG
    assert kept[0][1] is not writable
    writable[:] = b"X" * BIG
    pull = await zmq_stream_factory(zmq.PULL, bind=address)
    async with asyncio.timeout(10):
        assert await pull.read() == [fixed, b"w" * BIG]


async def test_write_threadsafe_copies_a_writable_buffer_in_the_thread(
    zmq_stream_factory: Any,
) -> None:
    """A producer thread may change its buffer as soon as write_threadsafe() returned."""
    push, pull = await _pair(zmq_stream_factory)
    buffer = bytearray(b"o" * BIG)

    def produce() -> None:
        future = push.write_threadsafe([buffer])
        buffer[:] = b"X" * BIG
        future.result(timeout=10)

    await asyncio.to_thread(produce)
    async with asyncio.timeout(10):
        assert await pull.read() == [b"o" * BIG]


@pytest.mark.parametrize("copy", [True, False], ids=["bytes", "frames"])
@pytest.mark.parametrize("path", ["read-awaits-receive", "reader-task-buffers"])
async def test_a_message_read_is_held_by_the_caller_alone(
    zmq_stream_factory: Any, copy: bool, path: str
) -> None:
    """Dropping a message read() returned frees its frames at once, before the loop turns,
    however it came in: nothing of the stream or of pyzmq's receive future keeps them, so the
    next large receive reuses their memory rather than growing the heap beside them."""
    push, pull = await _pair(zmq_stream_factory, copy=copy)
    payload = os.urandom(BIG)
    alone = [os.urandom(16)]  # what a message held by one variable counts
    expected = sys.getrefcount(alone), sys.getrefcount(alone[0])
    async with asyncio.timeout(10):
        if path == "read-awaits-receive":
            asyncio.get_running_loop().call_soon(push.write, [payload])
            msg = await pull.read()  # the buffer is empty: read() awaits the receive itself
        else:
            push.write([payload])
            await wait_until(lambda: pull.statistics().read_buffer_messages == 1)
            msg = await pull.read()
    assert bytes(msg[0]) == payload
    assert (sys.getrefcount(msg), sys.getrefcount(msg[0])) == expected
