"""The public surface: exactly the documented names, importable as a drop-in for aiozmq."""

from __future__ import annotations

import importlib.resources

import zmqstreams


def test_all_lists_the_public_names() -> None:
    """__all__ holds the documented names and each resolves."""
    expected = {
        "create_zmq_stream",
        "ZmqStream",
        "ZmqStreamClosed",
        "ZmqTransport",
        "SocketEvent",
        "StreamStatistics",
        "__version__",
    }
    assert set(zmqstreams.__all__) == expected
    for name in expected:
        assert getattr(zmqstreams, name) is not None


def test_documented_stream_methods_exist() -> None:
    """Every method of the streams document is on ZmqStream."""
    for name in (
        "read", "write", "drain", "read_event", "close", "at_closing", "exception",
        "get_extra_info", "set_exception", "set_transport", "set_read_buffer_limits",
        "feed_closing", "feed_msg", "feed_event", "transport", "wait_closed", "statistics",
    ):
        assert hasattr(zmqstreams.ZmqStream, name), name


def test_ships_py_typed() -> None:
    """The package is marked as typed."""
    assert importlib.resources.files("zmqstreams").joinpath("py.typed").is_file()


def test_version_is_a_string() -> None:
    """__version__ is the single version of the package."""
    assert isinstance(zmqstreams.__version__, str)
    assert zmqstreams.__version__.count(".") >= 2
