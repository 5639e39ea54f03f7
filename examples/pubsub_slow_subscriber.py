"""PUB/SUB fan-out with one fast and one deliberately slow subscriber.

The publisher sends 100-byte messages as fast as the loop lets it.  The slow subscriber reads
one message every 5 ms, so its read buffer fills up to ``high_read`` (4 KiB here) and its reader
pauses: from then on the messages wait in ZeroMQ's queues, and once those reach their
high-water mark (RCVHWM/SNDHWM, 100 messages here) the PUB socket drops further messages *for
that subscriber only*.  Memory stays bounded; the fast subscriber is not slowed down.
``statistics()`` shows it as it happens.

Run: python examples/pubsub_slow_subscriber.py
"""

import asyncio
import time

import zmq

import zmqstreams

PUBLISH_SECONDS = 1.0
HWM = 100  # ZeroMQ's queue limit per peer, in messages
SLOW_HIGH_READ = 4096  # the slow subscriber's read watermark, in bytes
PAYLOAD = b"x" * 94


async def publisher(pub):
    """Publish numbered messages for PUBLISH_SECONDS; PUB never blocks, it drops instead."""
    sent = 0
    deadline = time.monotonic() + PUBLISH_SECONDS
    while time.monotonic() < deadline:
        for _ in range(100):
            pub.write([b"tick", b"%06d" % sent + PAYLOAD])
            sent += 1
        await asyncio.sleep(0.001)
    return sent


async def subscriber(name, sub, delay, seen):
    """Count messages until the stream is closed; sleep ``delay`` per message."""
    async for _topic, _body in sub:
        seen[name] = seen.get(name, 0) + 1
        if delay:
            await asyncio.sleep(delay)


async def open_sub(addr, **limits):
    sub = await zmqstreams.create_zmq_stream(zmq.SUB, **limits)
    sub.transport.setsockopt(zmq.RCVHWM, HWM)  # before connect: applies to the new pipe
    sub.transport.subscribe(b"tick")
    await sub.transport.connect(addr)
    return sub


async def main():
    pub = await zmqstreams.create_zmq_stream(zmq.PUB)
    pub.transport.setsockopt(zmq.SNDHWM, HWM)  # before bind: applies to every subscriber
    addr = await pub.transport.bind("tcp://127.0.0.1:*")

    fast = await open_sub(addr)
    slow = await open_sub(addr, high_read=SLOW_HIGH_READ)
    await asyncio.sleep(0.3)  # let the subscriptions reach the publisher

    seen = {}
    readers = [
        asyncio.create_task(subscriber("fast", fast, 0, seen)),
        asyncio.create_task(subscriber("slow", slow, 0.005, seen)),
    ]
    publishing = asyncio.create_task(publisher(pub))

    max_buffered = 0
    paused_seen = False
    # Look every 10 ms (a pause lasts while the slow reader works the buffer down to its low
    # watermark, about 150 ms here), print every 250 ms.
    looks = 0
    while not publishing.done():
        await asyncio.sleep(0.01)
        stats = slow.statistics()
        max_buffered = max(max_buffered, stats.read_buffer_bytes)
        paused_seen = paused_seen or stats.reading_paused
        looks += 1
        if looks % 25 == 0:
            print(f"slow subscriber: {stats}")
    sent = publishing.result()
    await asyncio.sleep(0.2)  # let the fast subscriber catch up
    print(f"fast subscriber: {fast.statistics()}")

    for stream in (fast, slow, pub):
        stream.close()
    await asyncio.gather(*readers)
    for stream in (fast, slow, pub):
        await stream.wait_closed()

    print(f"published {sent} messages")
    print(f"fast subscriber received {seen.get('fast', 0)}")
    print(f"slow subscriber received {seen.get('slow', 0)} (the rest were dropped by PUB)")
    print(
        f"slow subscriber's read buffer peaked at {max_buffered} bytes "
        f"(high_read={SLOW_HIGH_READ}); reader paused: {paused_seen}"
    )


if __name__ == "__main__":
    asyncio.run(main())
