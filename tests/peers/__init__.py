"""Child-process programs that tests run as real ZeroMQ peers (plain pyzmq, no zmqstreams)."""
