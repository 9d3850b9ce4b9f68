"""In-memory state of the wire-level test member (a TEST DOUBLE of the Hazelcast protocol).

One member, one node: maps of opaque serialised keys/values, compact schemas, listener
registrations and the member/partition views it advertises. Touched only on the member's event
loop thread.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

from hazelcast.core import Address, MemberInfo, MemberVersion, ProtocolType

__all__ = ["Registration", "ClientConn", "MemberCore", "PARTITION_COUNT", "SERVER_VERSION"]

PARTITION_COUNT = 271
SERVER_VERSION = "5.5.0"


@dataclass(frozen=True)
class _WireQualifier:
    """Endpoint qualifier shaped for the library's EndpointQualifierCodec.encode (reads ``.type``)."""

    type: int
    identifier: str | None = None


_MEMBER_QUALIFIER = _WireQualifier(ProtocolType.MEMBER)


class ClientConn:
    """One accepted client connection (the transport is owned by the member's event loop)."""

    def __init__(self, conn_id: int, write: Callable[[bytes], None], abort: Callable[[], None]):
        self.conn_id = conn_id
        self._write = write
        self._abort = abort
        self.authenticated = False
        self.client_uuid: uuid.UUID | None = None
        self.closed = False

    def send(self, buf: bytes | bytearray) -> None:
        if not self.closed:
            self._write(bytes(buf))

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self._abort()


@dataclass
class Registration:
    """A listener registered by a client; events go back on ``correlation_id``."""

    conn: ClientConn
    correlation_id: int
    kind: str  # "entry" | "invalidation" | "cluster_view" | "backup"
    event_message_type: int = 0
    map_name: str | None = None
    key: bytes | None = None
    flags: int = 0
    include_value: bool = False


@dataclass
class MemberCore:
    """Everything a restart wipes, plus the member's identity and advertised views."""

    cluster_name: str = "dev"
    username: str | None = None
    password: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    member_uuid: uuid.UUID = field(default_factory=uuid.uuid4)
    cluster_id: uuid.UUID = field(default_factory=uuid.uuid4)
    member_list_version: int = 1
    partition_version: int = 1
    extra_members: list[MemberInfo] = field(default_factory=list)
    maps: dict[str, dict[bytes, bytes]] = field(default_factory=dict)
    schemas: dict[int, object] = field(default_factory=dict)
    registrations: dict[uuid.UUID, Registration] = field(default_factory=dict)
    partition_sequences: dict[str, int] = field(default_factory=dict)
    partition_uuid: uuid.UUID = field(default_factory=uuid.uuid4)

    def address(self) -> Address:
        return Address(self.host, self.port)

    def self_info(self) -> MemberInfo:
        addr = self.address()
        return MemberInfo(
            addr, self.member_uuid, {}, False, MemberVersion(5, 5, 0), None, {_MEMBER_QUALIFIER: addr}
        )

    def member_infos(self) -> list[MemberInfo]:
        return [self.self_info(), *self.extra_members]

    def member_uuids(self) -> set[uuid.UUID]:
        return {m.uuid for m in self.member_infos()}

    def map(self, name: str) -> dict[bytes, bytes]:
        return self.maps.setdefault(name, {})

    def next_sequence(self, map_name: str) -> int:
        seq = self.partition_sequences.get(map_name, 0) + 1
        self.partition_sequences[map_name] = seq
        return seq

    def registrations_of(self, kind: str, map_name: str | None = None) -> list[Registration]:
        return [
            r
            for r in self.registrations.values()
            if r.kind == kind and (map_name is None or r.map_name == map_name) and not r.conn.closed
        ]

    def forget_connection(self, conn: ClientConn) -> None:
        for reg_id in [k for k, r in self.registrations.items() if r.conn is conn]:
            del self.registrations[reg_id]

    def wipe(self, new_cluster_id: bool) -> None:
        """A restart: new member identity, no data, no schemas, no listeners."""
        self.member_uuid = uuid.uuid4()
        if new_cluster_id:
            self.cluster_id = uuid.uuid4()
        self.maps.clear()
        self.schemas.clear()
        self.registrations.clear()
        self.partition_sequences.clear()
        self.partition_uuid = uuid.uuid4()
        self.extra_members = []
        self.member_list_version = 1
        self.partition_version = 1


def make_member_info(host: str, port: int, member_uuid: uuid.UUID | None = None) -> MemberInfo:
    """A MemberInfo for a (possibly fictitious) member pushed in a member-list view."""
    addr = Address(host, port)
    return MemberInfo(
        addr, member_uuid or uuid.uuid4(), {}, False, MemberVersion(5, 5, 0), None, {_MEMBER_QUALIFIER: addr}
    )
