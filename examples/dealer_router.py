"""The DEALER/ROUTER example of aiozmq's "Streams API" documentation page, in async/await.

That page: https://aiozmq.readthedocs.io/en/latest/stream.html

A DEALER sends ten three-frame requests; the ROUTER echoes each one back (its first frame is the
DEALER's routing id, which routes the answer); the DEALER prints every answer.  The only change
from aiozmq code is the import line.

Run: python examples/dealer_router.py
"""

import asyncio

import zmq

import zmqstreams as aiozmq


async def go():
    router = await aiozmq.create_zmq_stream(zmq.ROUTER, bind="tcp://127.0.0.1:*")

    addr = list(router.transport.bindings())[0]  # noqa: RUF015 (kept as in the document)
    dealer = await aiozmq.create_zmq_stream(zmq.DEALER, connect=addr)

    for i in range(10):
        msg = (b"data", b"ask", str(i).encode("utf-8"))
        dealer.write(msg)
        data = await router.read()
        router.write(data)
        answer = await dealer.read()
        print(answer)
    dealer.close()
    router.close()
    # New in zmqstreams: wait until both sockets are really closed.
    await dealer.wait_closed()
    await router.wait_closed()


asyncio.run(go())
