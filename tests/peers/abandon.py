"""A zmqstreams program that returns from ``asyncio.run()`` leaving work behind; must exit.

Usage: ``python abandon.py MODE UNREACHABLE_ENDPOINT`` where MODE is

- ``unclosed``: two connected PAIR streams (monitor on, a read() pending) never closed;
- ``unclosed-unsent``: a DEALER with messages for an unreachable peer, never closed;
- ``closed-unsent``: the same DEALER, closed and waited for with the default LINGER.

It prints ``WAITED <seconds>`` for ``wait_closed()`` when it calls it, ``RETURNED`` after
``asyncio.run()``, and nothing else is expected on stderr but ``ResourceWarning`` lines.
"""

from __future__ import annotations

import asyncio
import sys
import time

import zmq

import zmqstreams


async def main(mode: str, unreachable: str) -> None:
    if mode == "unclosed":
        server = await zmqstreams.create_zmq_stream(zmq.PAIR, bind="tcp://127.0.0.1:*")
        assert server.transport is not None
        await server.transport.enable_monitor()
        client = await zmqstreams.create_zmq_stream(
            zmq.PAIR, connect=next(iter(server.transport.bindings()))
        )
        client.write([b"ping"])
        assert await server.read() == [b"ping"]
        pending = asyncio.create_task(client.read())
        await asyncio.sleep(0)
        assert not pending.done()
        return
    dealer = await zmqstreams.create_zmq_stream(zmq.DEALER)
    assert dealer.transport is not None
    dealer.transport.setsockopt(zmq.SNDHWM, 10)
    await dealer.transport.connect(unreachable)
    for n in range(1000):
        dealer.write([b"unsent %d" % n])
    assert dealer.statistics().write_buffer_messages > 0
    if mode == "closed-unsent":
        started = time.monotonic()
        dealer.close()
        await dealer.wait_closed()
        print("WAITED", round(time.monotonic() - started, 3), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    print("RETURNED", flush=True)
