"""Request/reply that survives lost or late replies, and a ROUTER whose peers come and go.

Three recipes, each against a server that misbehaves on purpose:

- ``req_with_retries``: a REQ client that times out and asks again.  ``REQ_RELAXED`` allows the
  second request; ``REQ_CORRELATE`` makes libzmq discard the late reply to the first one.
- ``dealer_with_retries``: the same with a DEALER and request ids of our own, which also lets
  several requests be in flight.
- ``heartbeat_peers``: a ROUTER with ``ROUTER_MANDATORY`` learns that a peer has gone because
  ``write()`` to it raises ``OSError(EHOSTUNREACH)``, while it goes on serving the others.

Socket options are passed as ``create_zmq_stream(..., options={...})``, which sets them before
it connects or binds (libzmq applies most options only to connections made after them).

Run: python examples/reliable_request_reply.py
"""

import asyncio
import itertools

import zmq

import zmqstreams

TIMEOUT = 0.3  # seconds a client waits for a reply before asking again
LATE = 0.4  # seconds the servers below take over their first request


async def req_with_retries(endpoint, request, attempts=3):
    """Send ``request`` from a REQ socket, retrying after a timeout; return the reply."""
    req = await zmqstreams.create_zmq_stream(
        zmq.REQ,
        connect=endpoint,
        options={
            zmq.REQ_RELAXED: 1,  # may send again before a reply came
            zmq.REQ_CORRELATE: 1,  # libzmq drops replies to older requests
        },
    )
    try:
        for attempt in range(1, attempts + 1):
            # A late reply that reached the stream before this retry belongs to an abandoned
            # request: drop it.  (read() returns at once here, so nothing can slip in before
            # write(); replies arriving after write() are discarded by REQ_CORRELATE.)
            while req.statistics().read_buffer_messages:
                await req.read()
            req.write(request)
            try:
                async with asyncio.timeout(TIMEOUT):
                    return await req.read()  # cancelling read() loses nothing
            except TimeoutError:
                print(f"REQ: attempt {attempt} timed out")
        raise TimeoutError(f"no reply after {attempts} attempts")
    finally:
        req.close()
        await req.wait_closed()


async def slow_first_rep(rep):
    """A REP server that answers its first request too late."""
    for number in itertools.count(1):
        (request,) = await rep.read()
        if number == 1:
            await asyncio.sleep(LATE)
        rep.write([b"reply %d to %s" % (number, request)])


async def dealer_with_retries(dealer, request_ids, request, attempts=3):
    """Send ``request`` with a fresh id per attempt; skip replies that carry another id."""
    for attempt in range(1, attempts + 1):
        request_id = b"%d" % next(request_ids)
        dealer.write([request_id, request])
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    reply_id, reply = await dealer.read()
                    if reply_id == request_id:
                        return reply
                    print(f"DEALER: ignored a late reply to request {reply_id.decode()}")
        except TimeoutError:
            print(f"DEALER: attempt {attempt} timed out")
    raise TimeoutError(f"no reply after {attempts} attempts")


async def slow_first_router(router, late_reply_sent):
    """A ROUTER server that answers the first request late, the others at once."""

    async def answer(peer, request_id, request, delay):
        await asyncio.sleep(delay)
        router.write([peer, request_id, b"answer to " + request])
        if delay:
            late_reply_sent.set()

    answering = set()
    for number in itertools.count(1):
        peer, request_id, request = await router.read()
        task = asyncio.create_task(answer(peer, request_id, request, LATE if number == 1 else 0))
        answering.add(task)
        task.add_done_callback(answering.discard)


async def heartbeat_peers(router, peers):
    """Heartbeat every peer; forget those that are gone.  Returns when only one is left."""
    for _ in range(500):  # a beat every 10 ms, for at most 5 s
        for peer in sorted(peers):
            try:
                router.write([peer, b"heartbeat"])
            except OSError as exc:
                if exc.errno != zmq.EHOSTUNREACH:
                    raise
                print(f"ROUTER: {peer.decode()} has gone ({exc}); forgetting it")
                peers.discard(peer)
        if len(peers) == 1:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("libzmq never reported the peer as gone")


async def main():
    # REQ with REQ_RELAXED + REQ_CORRELATE against a REP that is late once.
    rep = await zmqstreams.create_zmq_stream(zmq.REP, bind="tcp://127.0.0.1:*")
    server = asyncio.create_task(slow_first_rep(rep))
    (endpoint,) = rep.transport.bindings()
    print("REQ: got", await req_with_retries(endpoint, [b"ping"]))
    server.cancel()
    rep.close()

    # DEALER with request ids against a ROUTER that is late once.
    router = await zmqstreams.create_zmq_stream(zmq.ROUTER, bind="tcp://127.0.0.1:*")
    late_reply_sent = asyncio.Event()
    server = asyncio.create_task(slow_first_router(router, late_reply_sent))
    (endpoint,) = router.transport.bindings()
    dealer = await zmqstreams.create_zmq_stream(zmq.DEALER, connect=endpoint)
    request_ids = itertools.count(1)
    print("DEALER: got", await dealer_with_retries(dealer, request_ids, b"first"))
    await late_reply_sent.wait()  # the answer to attempt 1 is on its way: it must be skipped
    print("DEALER: got", await dealer_with_retries(dealer, request_ids, b"second"))
    server.cancel()
    dealer.close()
    router.close()

    # ROUTER_MANDATORY: replying to peers that come and go.
    router = await zmqstreams.create_zmq_stream(
        zmq.ROUTER, bind="tcp://127.0.0.1:*", options={zmq.ROUTER_MANDATORY: 1}
    )
    (endpoint,) = router.transport.bindings()
    clients = {}
    for name in (b"alice", b"bob"):
        client = await zmqstreams.create_zmq_stream(
            zmq.DEALER, connect=endpoint, options={zmq.ROUTING_ID: name}
        )
        client.write([b"hello"])
        clients[name] = client
    peers = {(await router.read())[0] for _ in clients}
    clients[b"alice"].close()  # alice leaves without a word
    await heartbeat_peers(router, peers)
    bob = clients[b"bob"]
    bob.write([b"work"])
    while await router.read() != [b"bob", b"work"]:
        pass
    router.write([b"bob", b"done"])
    while (reply := await bob.read()) == [b"heartbeat"]:
        pass
    print("ROUTER: still serving", sorted(peers), "- bob got", reply)
    # The refused writes to alice cost the stream nothing: it is open and has no stored error.
    if router.exception() is None and router.transport is not None:
        print("ROUTER: the stream is still open, with no error, after the refused writes")
    else:
        print("ROUTER: the stream failed:", router.exception())
    for stream in (bob, router):
        stream.close()

    for stream in (rep, dealer, clients[b"alice"], bob, router):
        await stream.wait_closed()


asyncio.run(main())
