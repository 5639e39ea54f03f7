"""A producer thread feeding a stream: blocking code hands messages to the event loop.

Some work cannot run in the loop: a blocking driver, a CPU-bound encoder, a library with its own
thread.  Such a thread must not call ``write()`` (a stream belongs to its loop; ``write()``
from another thread raises ``RuntimeError``).  It calls ``write_threadsafe()`` instead, and
waiting on the future it returns gives the thread the same backpressure ``drain()`` gives a
coroutine: here the consumer is slow, and the producer, which waits on each future, never gets
more than the write high-water mark ahead of it.

Run:  python examples/producer_thread.py
"""

from __future__ import annotations

import asyncio
import threading
import time

import zmq

import zmqstreams

READINGS = 2000


def producer(stream: zmqstreams.ZmqStream, stop: threading.Event) -> int:
    """Blocking code: take a reading, send it, wait for room; return the largest backlog seen."""
    largest = 0
    for number in range(READINGS):
        if stop.is_set():
            break
        reading = f"{number} {time.monotonic():.6f}".encode()  # a blocking read, say
        future = stream.write_threadsafe([b"reading", reading])
        future.result(timeout=10)  # backpressure: returns once the write buffer has room
        largest = max(largest, stream.statistics().write_buffer_bytes)  # read-only: safe here
    return largest


async def main() -> None:
    # Small buffers everywhere, so that the slow consumer pushes back on the producer soon.
    sink = await zmqstreams.create_zmq_stream(
        zmq.PULL, bind="tcp://127.0.0.1:*", high_read=1024, options={zmq.RCVHWM: 10}
    )
    (address,) = sink.transport.bindings()
    source = await zmqstreams.create_zmq_stream(
        zmq.PUSH, connect=address, high_write=4096, options={zmq.SNDHWM: 10}
    )
    stop = threading.Event()
    thread = asyncio.create_task(asyncio.to_thread(producer, source, stop))
    try:
        received = 0
        async with asyncio.timeout(60):
            while received < READINGS:
                kind, _reading = await sink.read()
                assert kind == b"reading"
                received += 1
                if received % 20 == 0:
                    await asyncio.sleep(0.002)  # a slow consumer
        largest = await thread
        high = source.transport.get_write_buffer_limits()[1]
        print(f"received {received} readings from the producer thread")
        print(f"the producer's backlog stayed within the high-water mark: {largest <= high}")
    finally:
        stop.set()
        source.close()
        sink.close()
        await source.wait_closed()
        await sink.wait_closed()
        await asyncio.wait([thread])


if __name__ == "__main__":
    asyncio.run(main())
