"""The public surface: exactly the documented names, importable as a drop-in for aiozmq."""

from __future__ import annotations

import importlib.resources
import re

import pytest

import zmqstreams
from zmqstreams._version import VersionInfo, parse_version

#: aiozmq 1.0.0's ``__all__``, plus its ``rpc`` package.
AIOZMQ_NAMES = (
    "ZmqSelector",
    "ZmqEventLoop",
    "ZmqEventLoopPolicy",
    "ZmqTransport",
    "ZmqProtocol",
    "ZmqStream",
    "ZmqStreamProtocol",
    "create_zmq_stream",
    "ZmqStreamClosed",
    "create_zmq_connection",
    "version_info",
    "version",
    "rpc",
)


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
        "version_info",
    }
    assert set(zmqstreams.__all__) == expected
    for name in expected:
        assert getattr(zmqstreams, name) is not None


def test_documented_stream_methods_exist() -> None:
    """Every method documented on aiozmq's "Streams API" page is on ZmqStream."""
    for name in (
        "read",
        "write",
        "drain",
        "read_event",
        "close",
        "at_closing",
        "exception",
        "get_extra_info",
        "set_exception",
        "set_transport",
        "set_read_buffer_limits",
        "feed_closing",
        "feed_msg",
        "feed_event",
        "transport",
        "wait_closed",
        "statistics",
    ):
        assert hasattr(zmqstreams.ZmqStream, name), name


def test_ships_py_typed() -> None:
    """The package is marked as typed."""
    assert importlib.resources.files("zmqstreams").joinpath("py.typed").is_file()


def test_version_is_a_string() -> None:
    """__version__ is the single version of the package."""
    assert isinstance(zmqstreams.__version__, str)
    assert zmqstreams.__version__.count(".") >= 2


def test_version_info_is_shaped_like_aiozmqs() -> None:
    """version_info is the version as aiozmq's named tuple (major, minor, micro, releaselevel,
    serial), and agrees with __version__."""
    info = zmqstreams.version_info
    named = (info.major, info.minor, info.micro, info.releaselevel, info.serial)
    assert named == tuple(info)  # the five fields, by name and in this order
    assert ".".join(map(str, info[:3])) == zmqstreams.__version__
    assert info.releaselevel == "final"
    assert info.serial == 0
    assert info >= (0, 1)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.2.3", (1, 2, 3, "final", 0)),
        ("0.10.0a1", (0, 10, 0, "alpha", 1)),
        ("2.0.0b3", (2, 0, 0, "beta", 3)),
        ("2.0.1rc2", (2, 0, 1, "candidate", 2)),
    ],
)
def test_parse_version(version: str, expected: tuple[object, ...]) -> None:
    """Release and pre-release versions become sys.version_info-style levels."""
    assert parse_version(version) == VersionInfo(*expected)  # type: ignore[arg-type]


def test_parse_version_refuses_other_shapes() -> None:
    """A version version_info cannot express is refused rather than guessed."""
    with pytest.raises(ValueError, match=re.escape("not a release version: '1.2'")):
        parse_version("1.2")


def test_every_aiozmq_name_exists_or_says_what_to_do_instead() -> None:
    """Each public name of aiozmq 1.0 is either here or raises an AttributeError that points to
    the migration guide, without showing up in dir() or __all__."""
    for name in AIOZMQ_NAMES:
        if name in zmqstreams.__all__:
            assert getattr(zmqstreams, name) is not None
            continue
        assert name not in dir(zmqstreams), name
        assert not hasattr(zmqstreams, name), name
        with pytest.raises(AttributeError) as info:
            getattr(zmqstreams, name)
        message = str(info.value)
        assert message.startswith(f"module 'zmqstreams' has no attribute '{name}' (aiozmq has): ")
        assert '"Migrating from aiozmq"' in message
        assert "docs/migration.rst" in message
        assert info.value.name == name


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        ("ZmqEventLoopPolicy", "remove the asyncio.set_event_loop_policy("),
        ("ZmqEventLoop", "asyncio.run(main())"),
        ("create_zmq_connection", "use create_zmq_stream()"),
        ("rpc", "no RPC package"),
        ("version", "zmqstreams.version_info"),
    ],
)
def test_aiozmq_names_say_what_to_use(name: str, advice: str) -> None:
    """The message names the replacement, not just the absence."""
    with pytest.raises(AttributeError, match=re.escape(advice)):
        getattr(zmqstreams, name)


def test_other_missing_names_fail_as_usual() -> None:
    """A name aiozmq never had gets Python's plain message, with a close match suggested."""
    with pytest.raises(AttributeError) as info:
        zmqstreams.create_zmq_streem  # type: ignore[attr-defined]  # noqa: B018
    assert str(info.value) == "module 'zmqstreams' has no attribute 'create_zmq_streem'"
    assert info.value.obj is zmqstreams
    assert "migration" not in str(info.value)
