"""Benchmarks of zmqstreams against raw ``zmq.asyncio``, blocking pyzmq and aiozmq.

Run ``python -m benchmarks --help``; ``benchmarks/README.md`` explains the method and figures.
"""
