"""The stream's read buffer and the documented internal methods, without a socket."""

from __future__ import annotations

import asyncio

import anyio
import pytest
import zmq

from zmqstreams import SocketEvent, ZmqStream, ZmqStreamClosed

from helpers import settle_tasks

pytestmark = pytest.mark.anyio


async def test_feed_msg_then_read_in_order() -> None:
    """Fed messages come back from read() in order, unchanged."""
    stream = ZmqStream()
    for i in range(5):
        stream.feed_msg([b"m", str(i).encode()])
    with anyio.fail_after(1):
        got = [await stream.read() for _ in range(5)]
    assert got == [[b"m", str(i).encode()] for i in range(5)]


async def test_statistics_count_what_read_returned_not_what_close_dropped() -> None:
    """Totals read count returned messages and their watermark bytes (empty = 1); the buffered
    ones are counted apart, and those ``close()`` drops are neither."""
    stream = ZmqStream()
    for msg in ([b"abc"], [b""], [b"de", b"fgh"], [b"tail"]):
        stream.feed_msg(msg)
    stats = stream.statistics()
    assert (stats.messages_read, stats.bytes_read) == (0, 0)
    assert (stats.read_buffer_messages, stats.read_buffer_bytes) == (4, 3 + 1 + 5 + 4)
    with anyio.fail_after(1):
        assert [await stream.read() for _ in range(3)] == [[b"abc"], [b""], [b"de", b"fgh"]]
    stats = stream.statistics()
    assert (stats.messages_read, stats.bytes_read) == (3, 3 + 1 + 5)
    assert (stats.read_buffer_messages, stats.read_buffer_bytes) == (1, 4)
    stream.close()  # drops [b"tail"] unread
    stats = stream.statistics()
    assert (stats.messages_read, stats.bytes_read) == (3, 9)
    assert (stats.read_buffer_messages, stats.read_buffer_bytes) == (0, 0)


async def test_pending_read_is_woken_by_feed_msg() -> None:
    """A read() waiting on an empty buffer returns the next fed message."""
    stream = ZmqStream()
    with anyio.fail_after(1):
        task = asyncio.create_task(stream.read())
        await settle_tasks()
        assert not task.done()
        stream.feed_msg([b"x"])
        assert await task == [b"x"]


async def test_empty_message_is_returned_not_hung() -> None:
    """[b''] is a real message: read() returns it (aiozmq waited forever)."""
    stream = ZmqStream()
    stream.feed_msg([b""])
    with anyio.fail_after(1):
        assert await stream.read() == [b""]
    assert stream.statistics().bytes_read == 1


async def test_feed_closing_returns_buffered_then_closed() -> None:
    """Messages buffered before feed_closing() are still read, then ZmqStreamClosed."""
    stream = ZmqStream()
    stream.feed_msg([b"a"])
    stream.feed_msg([b"b"])
    stream.feed_closing()
    assert not stream.at_closing()
    with anyio.fail_after(1):
        assert await stream.read() == [b"a"]
        assert not stream.at_closing()
        assert await stream.read() == [b"b"]
        assert stream.at_closing()
        with pytest.raises(ZmqStreamClosed):
            await stream.read()


async def test_feed_closing_wakes_pending_read_and_read_event() -> None:
    """Pending read() and read_event() end with ZmqStreamClosed, not a bare CancelledError."""
    stream = ZmqStream()
    with anyio.fail_after(1):
        reader = asyncio.create_task(stream.read())
        events = asyncio.create_task(stream.read_event())
        await settle_tasks()
        stream.feed_closing()
        with pytest.raises(ZmqStreamClosed):
            await reader
        with pytest.raises(ZmqStreamClosed):
            await events


async def test_feed_after_closing_is_ignored() -> None:
    """A message or event fed after closing is dropped; nothing raises."""
    stream = ZmqStream()
    stream.feed_closing()
    stream.feed_msg([b"late"])
    stream.feed_event(SocketEvent(zmq.Event.CONNECTED, 1, "tcp://x:1"))
    assert stream.at_closing()
    assert stream.statistics().read_buffer_messages == 0


async def test_set_exception_is_raised_by_read_and_read_event() -> None:
    """set_exception(): exception() returns it and the next read()/read_event() raise it."""
    stream = ZmqStream()
    stream.feed_msg([b"a"])
    error = OSError(zmq.EFSM, "boom")
    stream.set_exception(error)
    assert stream.exception() is error
    with anyio.fail_after(1):
        with pytest.raises(OSError) as info:
            await stream.read()
        assert info.value is error
        with pytest.raises(OSError):
            await stream.read_event()
        with pytest.raises(OSError):
            await stream.drain()


async def test_set_exception_wakes_pending_read() -> None:
    """A read() waiting when the exception is set raises it."""
    stream = ZmqStream()
    with anyio.fail_after(1):
        task = asyncio.create_task(stream.read())
        await settle_tasks()
        stream.set_exception(ValueError("bad"))
        with pytest.raises(ValueError, match="bad"):
            await task


async def test_second_concurrent_read_raises_runtime_error() -> None:
    """Only one read() may wait at a time; the first keeps working."""
    stream = ZmqStream()
    with anyio.fail_after(1):
        first = asyncio.create_task(stream.read())
        await settle_tasks()
        with pytest.raises(RuntimeError, match="already reading"):
            await stream.read()
        stream.feed_msg([b"ok"])
        assert await first == [b"ok"]


async def test_second_concurrent_read_event_raises_runtime_error() -> None:
    """Only one read_event() may wait at a time."""
    stream = ZmqStream()
    with anyio.fail_after(1):
        first = asyncio.create_task(stream.read_event())
        await settle_tasks()
        with pytest.raises(RuntimeError):
            await stream.read_event()
        event = SocketEvent(zmq.Event.CONNECTED, 3, "tcp://a:1")
        stream.feed_event(event)
        assert await first == event


async def test_events_backlog_drops_the_oldest() -> None:
    """Beyond events_backlog unread events, the oldest are discarded and counted."""
    stream = ZmqStream(events_backlog=3)
    events = [SocketEvent(zmq.Event.CONNECTED, i, "tcp://a:1") for i in range(5)]
    for event in events:
        stream.feed_event(event)
    with anyio.fail_after(1):
        assert [await stream.read_event() for _ in range(3)] == events[2:]
    assert stream.statistics().events_dropped == 2


async def test_unlimited_events_backlog() -> None:
    """events_backlog=None keeps every event."""
    stream = ZmqStream(events_backlog=None)
    for i in range(1000):
        stream.feed_event(SocketEvent(zmq.Event.CONNECTED, i, "e"))
    with anyio.fail_after(1):
        assert (await stream.read_event()).value == 0
    assert stream.statistics().events_dropped == 0


@pytest.mark.parametrize("backlog", [0, -1])
def test_invalid_events_backlog(backlog: int) -> None:
    """events_backlog must be a positive int or None."""
    with pytest.raises(ValueError, match="events_backlog"):
        ZmqStream(events_backlog=backlog)


def test_events_backlog_type() -> None:
    """A non-int events_backlog is a TypeError."""
    with pytest.raises(TypeError, match="events_backlog"):
        ZmqStream(events_backlog="10")  # type: ignore[arg-type]


async def test_cancelled_read_leaves_message_in_buffer() -> None:
    """Cancelling a read() that was just woken does not consume the message."""
    stream = ZmqStream()
    with anyio.fail_after(1):
        task = asyncio.create_task(stream.read())
        await settle_tasks()
        stream.feed_msg([b"keep"])
        task.cancel()  # woken but not yet resumed: cancel wins
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await stream.read() == [b"keep"]


async def test_write_and_drain_without_transport() -> None:
    """No transport: write() raises ZmqStreamClosed, drain() ConnectionResetError."""
    stream = ZmqStream()
    with pytest.raises(ZmqStreamClosed):
        stream.write([b"x"])
    with pytest.raises(ConnectionResetError):
        await stream.drain()
    assert stream.transport is None
    assert stream.get_extra_info("zmq_type", "dflt") == "dflt"


async def test_set_transport_twice_is_refused(zmq_stream_factory) -> None:  # type: ignore[no-untyped-def]
    """The transport is set once."""
    stream = await zmq_stream_factory(zmq.PAIR)
    with pytest.raises(RuntimeError):
        stream.set_transport(stream.transport)


def test_read_watermark_rules() -> None:
    """aiozmq's rules: 64 KiB default, low = high // 4, high = 4 * low, high < low refused."""
    from zmqstreams._watermarks import resolve_watermarks

    assert resolve_watermarks(None, None, "read") == (65536, 16384)
    assert resolve_watermarks(1000, None, "read") == (1000, 250)
    assert resolve_watermarks(None, 100, "read") == (400, 100)
    assert resolve_watermarks(0, 0, "read") == (0, 0)
    with pytest.raises(ValueError, match="high watermark"):
        resolve_watermarks(10, 20, "read")
    with pytest.raises(ValueError, match="low watermark"):
        resolve_watermarks(None, -1, "read")
    with pytest.raises(TypeError, match="watermark"):
        resolve_watermarks("10", None, "read")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        resolve_watermarks(1.5, None, "read")  # type: ignore[arg-type]


def test_set_read_buffer_limits_validates() -> None:
    """set_read_buffer_limits() applies the same rules."""
    stream = ZmqStream()
    with pytest.raises(ValueError, match="read high watermark"):
        stream.set_read_buffer_limits(high=1, low=2)
    stream.set_read_buffer_limits(low=10)
    assert stream.get_read_buffer_limits() == (10, 40)


async def test_dropped_events_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Evicting unread events logs a warning on the 'zmqstreams' logger (once per 1000)."""
    stream = ZmqStream(events_backlog=1)
    with caplog.at_level("WARNING", logger="zmqstreams"):
        for i in range(5):
            stream.feed_event(SocketEvent(zmq.Event.CONNECTED, i, "e"))
    assert len([r for r in caplog.records if "dropped" in r.message]) == 1


class RecordingTransport:
    """A transport that is not a ZmqTransport: the stream must use only its public methods."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.written: list[object] = []
        self.closing = False

    def write(self, msg: object) -> None:
        self.written.append(msg)

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.calls.append("close")

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"zmq_type": zmq.PAIR}.get(name, default)


async def test_foreign_transport_is_driven_by_public_methods() -> None:
    """set_transport() with another transport: watermarks use pause/resume_reading()."""
    stream = ZmqStream(high=10, low=5)
    transport = RecordingTransport()
    stream.set_transport(transport)
    assert stream.transport is transport
    for _ in range(3):
        stream.feed_msg([b"x" * 6])
    assert transport.calls == ["pause"]
    with anyio.fail_after(1):
        await stream.read()
        await stream.read()  # 6 bytes left: still above low
        assert transport.calls == ["pause"]
        assert await stream.read() == [b"x" * 6]  # empty: at or below low
        assert transport.calls == ["pause", "resume"]
        pending = asyncio.create_task(stream.read())
        await settle_tasks()
        assert not pending.done()  # waits; never spins on the foreign transport
        stream.feed_msg([b"late"])
        assert await pending == [b"late"]
    stream.write([b"out"])
    assert transport.written == [[b"out"]]
    await stream.drain()
    assert stream.get_extra_info("zmq_type") == zmq.PAIR
    stream.close()
    assert transport.calls[-1] == "close"
