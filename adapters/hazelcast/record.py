"""The health record stored per signal in ``DOLPHIN_HEALTH_GRID``, and its compact serializer.

One entry per signal: the value, the source timestamp, the writer's incarnation (``epoch``) and
sequence number, and a CRC-32 checksum over all of them. A reader that sees a checksum mismatch or
a sequence going backwards reports ``data.checksum_ok = 0``.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

from hazelcast.serialization.api import CompactReader, CompactSerializer, CompactWriter

from .errors import HazelcastAdapterError

__all__ = ["HealthRecord", "HealthRecordSerializer", "make_record", "checksum_of", "RECORD_TYPE_NAME"]

RECORD_TYPE_NAME = "dolphin.nor.HealthRecord"
_PACK = struct.Struct("<ddqq")


def checksum_of(signal: str, value: float, source_ts_s: float, seq: int, epoch: int) -> int:
    """CRC-32 over the canonical little-endian encoding of every other field (as a signed int32)."""
    payload = _PACK.pack(value, source_ts_s, seq, epoch) + signal.encode("utf-8")
    crc = zlib.crc32(payload)
    return crc - (1 << 32) if crc >= (1 << 31) else crc


@dataclass(frozen=True)
class HealthRecord:
    """One signal's latest published value (times in seconds since the epoch of the writer clock)."""

    signal: str
    value: float
    source_ts_s: float
    seq: int
    epoch: int
    checksum: int

    @property
    def intact(self) -> bool:
        """True when the checksum matches the other fields."""
        return self.checksum == checksum_of(self.signal, self.value, self.source_ts_s, self.seq, self.epoch)


def make_record(signal: str, value: float, source_ts_s: float, seq: int, epoch: int) -> HealthRecord:
    """Build a checksummed record, rejecting input that could never be read back meaningfully."""
    if not isinstance(signal, str) or not signal:
        raise HazelcastAdapterError(f"signal name must be a non-empty string, got {signal!r}")
    try:
        value_f = float(value)
        ts_f = float(source_ts_s)
    except (TypeError, ValueError) as exc:
        raise HazelcastAdapterError(f"signal {signal!r}: value and source timestamp must be numbers ({exc})") from None
    if not math.isfinite(ts_f):
        raise HazelcastAdapterError(f"signal {signal!r}: source timestamp must be finite, got {source_ts_s!r}")
    if seq < 0 or epoch < 0:
        raise HazelcastAdapterError(f"signal {signal!r}: seq and epoch must be >= 0, got seq={seq} epoch={epoch}")
    return HealthRecord(signal, value_f, ts_f, int(seq), int(epoch), checksum_of(signal, value_f, ts_f, seq, epoch))


class HealthRecordSerializer(CompactSerializer[HealthRecord]):
    """Compact serializer: a schema the member stores, so readers in other processes can decode."""

    def read(self, reader: CompactReader) -> HealthRecord:
        return HealthRecord(
            signal=reader.read_string("signal") or "",
            value=reader.read_float64("value"),
            source_ts_s=reader.read_float64("source_ts_s"),
            seq=reader.read_int64("seq"),
            epoch=reader.read_int64("epoch"),
            checksum=reader.read_int32("checksum"),
        )

    def write(self, writer: CompactWriter, obj: HealthRecord) -> None:
        writer.write_string("signal", obj.signal)
        writer.write_float64("value", obj.value)
        writer.write_float64("source_ts_s", obj.source_ts_s)
        writer.write_int64("seq", obj.seq)
        writer.write_int64("epoch", obj.epoch)
        writer.write_int32("checksum", obj.checksum)

    def get_class(self) -> type[HealthRecord]:
        return HealthRecord

    def get_type_name(self) -> str:
        return RECORD_TYPE_NAME
