"""Sending numpy arrays without a copy on either side.

The sender makes its array read-only, a promise that it will not change, so ``write()`` hands
libzmq the array's own memory instead of copying it.  The receiver's stream is created with
``copy=False``: ``read()`` returns each frame as the ``zmq.Frame`` libzmq filled, and
``numpy.frombuffer()`` reads the array where it lies.  A small header frame carries the shape
and dtype.

Needs numpy (``pip install numpy``).  Run:  python examples/large_arrays.py
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import zmq

import zmqstreams


def header(array: np.ndarray) -> bytes:
    return json.dumps({"dtype": array.dtype.str, "shape": array.shape}).encode()


def from_frames(meta: zmq.Frame, data: zmq.Frame) -> np.ndarray:
    """The array in the frame's own memory: no copy."""
    description = json.loads(meta.bytes)
    array = np.frombuffer(data, dtype=description["dtype"])
    return array.reshape(description["shape"])


async def main() -> None:
    receiver = await zmqstreams.create_zmq_stream(zmq.PULL, bind="tcp://127.0.0.1:*", copy=False)
    (address,) = receiver.transport.bindings()
    sender = await zmqstreams.create_zmq_stream(zmq.PUSH, connect=address)

    images = [np.full((1024, 1024), fill, dtype=np.float32) for fill in (0.5, 1.5, 2.5)]
    for image in images:
        image.flags.writeable = False  # read-only: write() may send it without a copy
        sender.write([header(image), image])
        await sender.drain()

    for expected in images:
        meta, data = await receiver.read()
        image = from_frames(meta, data)
        assert np.array_equal(image, expected)
        assert np.shares_memory(image, np.frombuffer(data, dtype=np.uint8))  # no copy made
        print(f"received {image.shape} {image.dtype}, mean {image.mean():.1f}, in place")

    sender.close()
    receiver.close()
    await sender.wait_closed()
    await receiver.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
