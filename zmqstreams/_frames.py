"""Messages at the socket, without waiting: checking, copying and sending what ``write()`` is
handed (and what a refusal means), and receiving what is ready for the read buffer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import zmq

from ._watermarks import message_size

__all__ = (
    "BATCH",
    "REFUSALS",
    "Frames",
    "Message",
    "TornMessage",
    "check_message",
    "is_fixed",
    "own_frames",
    "receive_ready",
    "send_now",
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

    #: A message as accepted by ``write()``: a list or tuple of frames, each ``bytes``, a
    #: ``zmq.Frame`` or another object with a buffer (``bytearray``, a numpy array...).
    Frames = Sequence[Buffer | zmq.Frame]
else:  # collections.abc.Buffer is new in Python 3.12
    Frames = Sequence[Any]

#: A message as received: its frames, ``bytes`` or (``copy=False``) ``zmq.Frame``.  The stream
#: is generic in the frame type (``ZmqStream[bytes]``, ``ZmqStream[zmq.Frame]``); the parts
#: below it hold either.
Message = list[Any]

_NOBLOCK = zmq.NOBLOCK
_NOBLOCK_MORE = zmq.NOBLOCK | zmq.SNDMORE

#: Messages ``receive_ready()`` takes per call at most (the caller then yields to the loop).
BATCH = 256

#: Messages of this many bytes or more (or of the socket's ``copy_threshold``, if higher) send
#: their fixed frames uncopied.  pyzmq's zero-copy send costs a wake-up of its garbage-collector
#: thread per frame; measured here (PUSH to a peer process, 2 cores), a copy is cheaper at
#: 64 KiB (zmqstreams sent at 0.75-0.86x blocking pyzmq with zero-copy, 0.92-1.04x with a copy)
#: and zero-copy pays from about a megabyte.  A ``zmq.Frame`` is never copied, at any size.
UNCOPIED_MIN = 1 << 20

#: Send errnos that refuse one message and leave the socket usable.  From the errors of libzmq's
#: zmq_send(3), checked against its sources (4.3): each is returned at a message's first frame,
#: before anything is queued, and changes nothing in the socket.
#:
#: - ``EHOSTUNREACH``: ROUTER_MANDATORY (or STREAM) has no peer with that routing id (any more).
#: - ``EFSM``: REQ/REP sending out of turn; the pending exchange is untouched.
#: - ``ENOTSUP``: the socket type cannot send at all (PULL, SUB); it still receives.
#: - ``EINVAL``: multipart data on a type that takes single frames only (CLIENT, SERVER, RADIO).
#:
#: Not refusals: ``EAGAIN`` (the message waits in the write buffer), ``EINTR`` (pyzmq retries
#: the call itself, so it never reaches us), and the errors that mean the socket is gone:
#: ``ETERM`` (context terminated) and ``ENOTSOCK`` (socket closed).  An errno zmq_send(3) does
#: not document (e.g. ``EFAULT``) is not known to leave the socket usable: it ends the stream too.
REFUSALS = frozenset({zmq.EHOSTUNREACH, zmq.EFSM, zmq.ENOTSUP, zmq.EINVAL})


class TornMessage(Exception):
    """A frame after the first failed with an error other than ``EAGAIN``.

    libzmq refuses messages at their first frame only, so this does not happen with libzmq 4.3;
    if it did, the socket would hold part of a message that can be neither recalled nor
    completed, and the next message would be glued to it: the stream must end.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        #: The error of the frame that failed.
        self.error = error


def check_message(msg: Any) -> tuple[int, bool]:
    """Return ``(size, fixed)`` for ``msg``, or raise saying what is wrong.

    A message is a non-empty list or tuple of frames: ``bytes``, ``zmq.Frame``, or any object
    with a C-contiguous buffer (``bytearray``, ``memoryview``, a numpy array...): ``TypeError``
    for anything else, ``ValueError`` for a buffer that is not contiguous.  The whole message is
    checked before its first frame may be sent, so a bad frame can never leave part of a
    message in the socket.  ``size`` counts against the write watermarks (at least 1);
    ``fixed`` tells whether every frame can be kept as it is (see ``is_fixed``).
    """
    if not isinstance(msg, (list, tuple)):
        raise TypeError(f"msg must be a list or tuple of bytes frames, got {type(msg).__name__}")
    if len(msg) == 1 and type(msg[0]) is bytes:  # the common case, checked first
        return len(msg[0]) or 1, True
    if not msg:
        raise TypeError("msg must contain at least one frame, got an empty sequence")
    size = 0
    fixed = True
    for index, frame in enumerate(msg):
        if isinstance(frame, (bytes, zmq.Frame)):
            size += len(frame)
            continue
        try:
            view = memoryview(frame)
        except TypeError:
            raise TypeError(
                f"frame {index} of msg must be bytes, zmq.Frame or an object with a buffer "
                f"(bytearray, memoryview, numpy array...), got {type(frame).__name__}"
            ) from None
        if not view.c_contiguous:
            raise ValueError(
                f"frame {index} of msg is a {type(frame).__name__} that is not C-contiguous "
                "(a slice with a step, or a transposed array): copy it with bytes() first"
            )
        size += view.nbytes
        fixed = fixed and view.readonly
    return size or 1, fixed


def is_fixed(frame: Any) -> bool:
    """Whether ``frame`` cannot change after ``write()``, so may be kept, or sent, uncopied.

    ``bytes``; a ``zmq.Frame``, which pyzmq's zero-copy API hands over for good; a read-only
    buffer, its owner's promise (a numpy array after ``arr.flags.writeable = False``).  A
    writable buffer may be changed by its owner as soon as ``write()`` returns.
    """
    return isinstance(frame, (bytes, zmq.Frame)) or memoryview(frame).readonly


def own_frames(msg: Frames, fixed: bool) -> tuple[Any, ...]:
    """Return frames safe to keep: copies of those the caller may still change."""
    if fixed:
        return tuple(msg)
    # A zmq.Frame is fixed: what is copied here is a buffer.
    return tuple(frame if is_fixed(frame) else bytes(cast("Buffer", frame)) for frame in msg)


def send_now(send: Callable[..., Any], msg: Frames, *, large: bool = False) -> None:
    """Send ``msg`` without blocking with ``send``, a socket's ``send``.  (Cheaper than
    ``send_multipart``.)

    A ``large`` message (at least ``UNCOPIED_MIN``) has its fixed frames (see
    ``is_fixed``) sent with ``copy=False``: libzmq then reads them where they are, for as long
    as it needs them, and pyzmq still copies the frames under its threshold.  Other frames, and
    every frame of a smaller message, are copied (cheaper there; a ``zmq.Frame`` never is).

    A ``zmq.ZMQError`` means nothing of the message will be delivered, so it can be retried
    whole (``zmq.Again``) or reported (an errno of ``REFUSALS``).  ZeroMQ takes a multipart
    message atomically: only its first frame meets the HWM or a refusal.  The one failure after
    the first frame is ``EAGAIN`` when the peer's pipe dies mid-message; libzmq has then dropped
    the frames it took (PUSH, DEALER and REQ also discard the rest of that message, PAIR sends
    nothing more into the dead pipe), so retrying the whole message later is still right.  Any
    other failure after the first frame raises ``TornMessage``.
    """
    if large:
        send = functools.partial(_send_uncopied, send)
    last = len(msg) - 1
    if last == 0:
        send(msg[0], _NOBLOCK)
        return
    index = 0
    try:
        for index in range(last):
            send(msg[index], _NOBLOCK_MORE)
        index = last
        send(msg[last], _NOBLOCK)
    except zmq.ZMQError as exc:
        if index == 0 or exc.errno == zmq.EAGAIN:
            raise
        raise TornMessage(exc) from exc
    except Exception as exc:  # not expected once check_message() passed, but never glue
        if index == 0:
            raise
        raise TornMessage(exc) from exc


def _send_uncopied(send: Callable[..., Any], frame: Any, flags: int) -> None:
    send(frame, flags, copy=not is_fixed(frame))


def receive_ready(
    recv: Callable[..., Any],
    feed: Callable[[list[Message], list[int], int], None],
    budget: int,
    first: Message | None = None,
    *,
    copy: bool = True,
) -> int:
    """Feed ``first`` and the messages ready after it to ``feed``; return how many.

    ``recv`` is a synchronous socket's ``recv``; ``feed`` gets one batch: the messages, their
    watermark sizes and the sizes' sum (see ``ReadBuffer.feed``), even when a receive fails
    midway.  Stops at ``EAGAIN``, once ``budget`` bytes are exceeded (the buffer is then above
    its high watermark), or after ``BATCH`` messages, when the caller should yield before taking
    more, so that one busy socket cannot starve the loop.  Frames are received with
    ``copy=False``, whose ``more`` is free, unlike ``recv_multipart``'s ``RCVMORE`` lookup per
    frame; the rest of a multipart message is always there once its first frame is.  With
    ``copy`` each frame is then copied into ``bytes``, else the ``zmq.Frame`` itself is kept.
    """
    messages: list[Message] = []
    sizes: list[int] = []
    total = 0
    if first is not None:
        total = message_size(first)
        messages.append(first)
        sizes.append(total)
    try:
        for _ in range(BATCH - len(messages)):
            if total > budget:
                break
            try:
                frame = recv(_NOBLOCK, copy=False)
            except zmq.Again:
                break
            except zmq.ZMQError as exc:
                if exc.errno == zmq.EFSM:
                    break  # REQ/REP: nothing more to read until we send
                raise
            data = frame.bytes if copy else frame
            msg = [data]
            size = len(data)
            while frame.more:
                frame = recv(_NOBLOCK, copy=False)
                data = frame.bytes if copy else frame
                msg.append(data)
                size += len(data)
            size = size or 1  # as message_size(): an empty message counts one byte
            messages.append(msg)
            sizes.append(size)
            total += size
    finally:
        if messages:
            feed(messages, sizes, total)
    return len(messages)
