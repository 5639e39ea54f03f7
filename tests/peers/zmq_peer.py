"""A plain-pyzmq peer run as a child process; tests kill it, restart it and flood from it.

Usage: ``python zmq_peer.py MODE ENDPOINT [ARGS...]``; it prints ``READY <endpoint>`` on stdout
once its socket is bound or connected, then:

- ``pull ENDPOINT``: binds PULL and prints the first frame of every message, one per line.
- ``push ENDPOINT TAG``: binds PUSH and sends ``TAG-0``, ``TAG-1``, ... every 2 ms, forever.
- ``flood ENDPOINT COUNT SIZE``: connects PUSH, sends COUNT messages of SIZE bytes then ``END``,
  waits until they are delivered, and exits.
- ``oversize ENDPOINT SIZE``: connects PUSH and sends one SIZE-byte frame, then waits to be
  killed (a hostile peer against ``MAXMSGSIZE``).
- ``echo ENDPOINT``: binds ROUTER and sends every message back; on ``sleep SECONDS`` it first
  sleeps that long (a slow peer: its application is busy, its ZeroMQ I/O thread is not).
"""

from __future__ import annotations

import sys
import time

import zmq


def ready(sock: zmq.Socket[bytes]) -> None:
    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
    assert isinstance(endpoint, bytes)
    print("READY", endpoint.decode(), flush=True)


def main(argv: list[str]) -> int:
    mode, endpoint = argv[0], argv[1]
    ctx = zmq.Context()
    if mode == "pull":
        sock = ctx.socket(zmq.PULL)
        sock.bind(endpoint)
        ready(sock)
        while True:
            frames = sock.recv_multipart()
            print(frames[0].decode(), flush=True)
    elif mode == "push":
        tag = argv[2]
        sock = ctx.socket(zmq.PUSH)
        sock.bind(endpoint)
        ready(sock)
        n = 0
        while True:
            sock.send(f"{tag}-{n}".encode())
            n += 1
            time.sleep(0.002)
    elif mode == "flood":
        count, size = int(argv[2]), int(argv[3])
        sock = ctx.socket(zmq.PUSH)
        sock.connect(endpoint)
        ready(sock)
        payload = b"f" * size
        send = sock.send
        for _ in range(count):
            send(payload)
        send(b"END")
        sock.close(linger=-1)
        ctx.term()
    elif mode == "oversize":
        size = int(argv[2])
        sock = ctx.socket(zmq.PUSH)
        sock.connect(endpoint)
        ready(sock)
        sock.send(b"h" * size)
        while True:
            time.sleep(1)
    elif mode == "echo":
        sock = ctx.socket(zmq.ROUTER)
        sock.bind(endpoint)
        ready(sock)
        while True:
            routing_id, *frames = sock.recv_multipart()
            if frames[0].startswith(b"sleep "):
                time.sleep(float(frames[0].split()[1]))
            sock.send_multipart([routing_id, *frames])
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
