"""A PUSH/PULL worker pipeline: a ventilator, three workers and a sink.

The ventilator PUSHes jobs, which ZeroMQ deals round-robin to the workers.  Each worker is an
``async for`` loop over its PULL stream that PUSHes a result to the sink.  When the sink has
every result, closing the workers' streams ends their loops.  Everything runs in one process
over inproc:// (tcp:// or ipc:// work the same way).

Run: python examples/pipeline.py
"""

import asyncio
import collections

import zmq

import zmqstreams

JOBS = 100
WORKERS = 3
JOBS_ADDR = "inproc://pipeline-jobs"
RESULTS_ADDR = "inproc://pipeline-results"


async def worker(name, jobs, results):
    """Square each number it is given until its stream is closed."""
    async for (number,) in jobs:  # ends cleanly when jobs is closed
        await asyncio.sleep(0.001)  # pretend to work
        value = int(number) ** 2
        results.write([name.encode(), str(value).encode()])
        await results.drain()  # back off if the sink is slow


async def main():
    ventilator = await zmqstreams.create_zmq_stream(zmq.PUSH, bind=JOBS_ADDR)
    sink = await zmqstreams.create_zmq_stream(zmq.PULL, bind=RESULTS_ADDR)

    workers = []
    for n in range(WORKERS):
        jobs = await zmqstreams.create_zmq_stream(zmq.PULL, connect=JOBS_ADDR)
        results = await zmqstreams.create_zmq_stream(zmq.PUSH, connect=RESULTS_ADDR)
        task = asyncio.create_task(worker(f"worker-{n}", jobs, results))
        workers.append((jobs, results, task))

    for number in range(JOBS):
        ventilator.write([str(number).encode()])
    await ventilator.drain()

    total = 0
    per_worker = collections.Counter()
    for _ in range(JOBS):
        name, value = await sink.read()
        per_worker[name.decode()] += 1
        total += int(value)

    for jobs, results, task in workers:
        jobs.close()  # the worker's `async for` stops
        await task
        results.close()
        await jobs.wait_closed()
        await results.wait_closed()
    async with ventilator, sink:  # `async with` closes and waits on exit
        pass

    for name, count in sorted(per_worker.items()):
        print(f"{name} did {count} jobs")
    print(f"sum of squares of 0..{JOBS - 1}: {total}")
    assert total == sum(n * n for n in range(JOBS))


if __name__ == "__main__":
    asyncio.run(main())
