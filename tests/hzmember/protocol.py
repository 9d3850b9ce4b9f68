"""Framing and message building for the wire-level test member.

THIS IS A TEST DOUBLE of the Hazelcast Open Client Protocol, not a Hazelcast replacement.

It reuses the pinned client library's (hazelcast-python-client 5.7.0) own frame classes and
builtin/custom codecs for every encoding that both sides share. The library only ships the client
half (request encoders, response/event decoders), so the member half written here is the mirror
image: request field offsets, response and event initial frames, and the error message.
"""

from __future__ import annotations

import struct

from hazelcast.protocol import ErrorHolder
from hazelcast.protocol.builtin import (
    FixSizedTypesCodec,
    ListMultiFrameCodec,
)
from hazelcast.protocol.client_message import (
    EVENT_HEADER_SIZE,
    REQUEST_HEADER_SIZE,
    RESPONSE_HEADER_SIZE,
    SIZE_OF_FRAME_LENGTH_AND_FLAGS,
    Frame,
    InboundMessage,
    _IS_EVENT_FLAG,
    _IS_FINAL_FLAG,
    _UNFRAGMENTED_MESSAGE_FLAGS,
)
from hazelcast.protocol.codec.custom.error_holder_codec import ErrorHolderCodec
from hazelcast.serialization.bits import LE_INT, LE_LONG, LE_UINT16

__all__ = [
    "CLIENT_PROTOCOL_MAGIC",
    "FrameReader",
    "REQUEST_FIELDS_OFFSET",
    "ProtocolViolation",
    "request_header",
    "new_response",
    "new_event",
    "error_response",
    "mark_final",
]

CLIENT_PROTOCOL_MAGIC = b"CP2"
_FRAME_HEADER = struct.Struct("<iH")
_HDR = SIZE_OF_FRAME_LENGTH_AND_FLAGS
# Inbound frames are stored without their 6-byte length+flags header, so the fixed-size request
# fields start 6 bytes earlier than the client's outbound offsets.
REQUEST_FIELDS_OFFSET = REQUEST_HEADER_SIZE - _HDR
_RESPONSE_FIELDS_OFFSET = _HDR + RESPONSE_HEADER_SIZE
_EVENT_FIELDS_OFFSET = _HDR + EVENT_HEADER_SIZE
_MAX_FRAME_BYTES = 64 * 1024 * 1024
_EXCEPTION_MESSAGE_TYPE = 0


class ProtocolViolation(Exception):
    """The peer sent bytes that are not a valid client protocol stream."""


class FrameReader:
    """Incremental parser: feed bytes, get complete InboundMessages (unfragmented only)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._message: InboundMessage | None = None

    def feed(self, data: bytes) -> list[InboundMessage]:
        self._buf.extend(data)
        out: list[InboundMessage] = []
        pos = 0
        while len(self._buf) - pos >= _HDR:
            size, flags = _FRAME_HEADER.unpack_from(self._buf, pos)
            if size < _HDR or size > _MAX_FRAME_BYTES:
                raise ProtocolViolation(f"frame length {size} out of range")
            if len(self._buf) - pos < size:
                break
            frame = Frame(bytes(self._buf[pos + _HDR : pos + size]), flags)
            pos += size
            if self._message is None:
                if not frame.has_unfragmented_message_flags():
                    raise ProtocolViolation("fragmented client messages are not supported")
                self._message = InboundMessage(frame)
            else:
                self._message.add_frame(frame)
            if frame.is_final_frame():
                out.append(self._message)
                self._message = None
        del self._buf[:pos]
        return out


def request_header(msg: InboundMessage) -> tuple[int, int, bytes]:
    """Return (message_type, correlation_id, initial frame bytes) and advance past the frame."""
    frame = msg.next_frame()
    return msg.get_message_type(), msg.get_correlation_id(), frame.buf


def _initial(size: int, flags: int, message_type: int, correlation_id: int) -> bytearray:
    buf = bytearray(size)
    LE_INT.pack_into(buf, 0, size)
    LE_UINT16.pack_into(buf, 4, flags)
    LE_INT.pack_into(buf, _HDR, message_type)
    LE_LONG.pack_into(buf, _HDR + 4, correlation_id)
    return buf


def new_response(
    message_type: int, correlation_id: int, fixed_size: int = 0, final: bool = True
) -> tuple[bytearray, int]:
    """Initial frame of a response; returns (buffer, offset of the first fixed-size field)."""
    flags = _UNFRAGMENTED_MESSAGE_FLAGS | (_IS_FINAL_FLAG if final else 0)
    buf = _initial(_RESPONSE_FIELDS_OFFSET + fixed_size, flags, message_type, correlation_id)
    return buf, _RESPONSE_FIELDS_OFFSET


def new_event(
    message_type: int, correlation_id: int, fixed_size: int = 0, final: bool = True
) -> tuple[bytearray, int]:
    """Initial frame of an event pushed on a listener's correlation id."""
    flags = _UNFRAGMENTED_MESSAGE_FLAGS | _IS_EVENT_FLAG | (_IS_FINAL_FLAG if final else 0)
    buf = _initial(_EVENT_FIELDS_OFFSET + fixed_size, flags, message_type, correlation_id)
    LE_INT.pack_into(buf, _HDR + 12, -1)  # partition id
    return buf, _EVENT_FIELDS_OFFSET


def mark_final(buf: bytearray) -> bytearray:
    """Set IS_FINAL on the single initial frame of ``buf`` (used for field-only messages)."""
    flags = LE_UINT16.unpack_from(buf, 4)[0] | _IS_FINAL_FLAG
    LE_UINT16.pack_into(buf, 4, flags)
    return buf


def error_response(correlation_id: int, error_code: int, class_name: str, message: str) -> bytearray:
    """A protocol error reply, decoded by the client into its own exception class."""
    buf, _ = new_response(_EXCEPTION_MESSAGE_TYPE, correlation_id, final=False)
    holder = ErrorHolder(error_code, class_name, message, [])
    ListMultiFrameCodec.encode(buf, [holder], ErrorHolderCodec.encode, True)
    return buf


def put_uuid(buf: bytearray, offset: int, value) -> None:
    FixSizedTypesCodec.encode_uuid(buf, offset, value)
