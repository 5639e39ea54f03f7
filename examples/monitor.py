"""The monitoring example of aiozmq's "Streams API" documentation page, in async/await.

That page: https://aiozmq.readthedocs.io/en/latest/stream.html

The DEALER's socket events (connect delayed, connected, ... closed) are printed by a task while
the DEALER and ROUTER exchange ten messages.  The only change from aiozmq code is the import
line.  Monitoring needs a tcp:// or ipc:// endpoint: inproc:// emits no events.

Run: python examples/monitor.py
"""

import asyncio

import zmq

import zmqstreams as aiozmq


async def monitor_stream(stream):
    try:
        while True:
            event = await stream.read_event()
            print(event)
    except aiozmq.ZmqStreamClosed:
        pass


async def go():
    router = await aiozmq.create_zmq_stream(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    addr = list(router.transport.bindings())[0]  # noqa: RUF015 (kept as in the document)

    dealer = await aiozmq.create_zmq_stream(zmq.DEALER)

    await dealer.transport.enable_monitor()

    # Keep a reference to the task: the loop holds tasks only weakly.
    monitor = asyncio.create_task(monitor_stream(dealer))

    await dealer.transport.connect(addr)

    for i in range(10):
        msg = (b"data", b"ask", str(i).encode("utf-8"))
        dealer.write(msg)
        data = await router.read()
        router.write(data)
        answer = await dealer.read()
        print(answer)

    router.close()
    dealer.close()
    # close() wakes the pending read_event() with ZmqStreamClosed, so the task ends.
    await monitor
    await dealer.wait_closed()
    await router.wait_closed()


def main():
    asyncio.run(go())
    print("DONE")


if __name__ == "__main__":
    main()
