"""Request handlers of the wire-level test member (a TEST DOUBLE of the Hazelcast protocol).

Each handler decodes one request type (the mirror of the pinned client's ``encode_request``),
mutates the in-memory state and answers with the response layout the client's
``decode_response`` reads. Map mutations fan out entry events and near-cache invalidations.
"""

from __future__ import annotations

import uuid
from typing import Callable

from hazelcast.protocol.builtin import (
    ByteArrayCodec,
    CodecUtil,
    EntryListCodec,
    EntryListUUIDListIntegerCodec,
    FixSizedTypesCodec,
    ListMultiFrameCodec,
    SetUUIDCodec,
    StringCodec,
)
from hazelcast.protocol.client_message import InboundMessage
from hazelcast.protocol.codec import (
    client_add_cluster_view_listener_codec as cluster_view,
    client_authentication_codec as auth,
    client_create_proxy_codec,
    client_destroy_proxy_codec,
    client_fetch_schema_codec,
    client_local_backup_listener_codec,
    client_ping_codec,
    client_send_all_schemas_codec,
    client_send_schema_codec,
    client_statistics_codec,
    map_add_entry_listener_codec,
    map_add_entry_listener_to_key_codec,
    map_add_near_cache_invalidation_listener_codec as invalidation,
    map_clear_codec,
    map_contains_key_codec,
    map_delete_codec,
    map_entry_set_codec,
    map_get_all_codec,
    map_get_codec,
    map_key_set_codec,
    map_put_all_codec,
    map_put_codec,
    map_put_if_absent_codec,
    map_remove_codec,
    map_remove_entry_listener_codec,
    map_set_codec,
    map_size_codec,
)
from hazelcast.protocol.codec.custom.address_codec import AddressCodec
from hazelcast.protocol.codec.custom.member_info_codec import MemberInfoCodec
from hazelcast.protocol.codec.custom.schema_codec import SchemaCodec

from .protocol import REQUEST_FIELDS_OFFSET as F, new_event, new_response
from .state import PARTITION_COUNT, SERVER_VERSION, ClientConn, MemberCore, Registration

__all__ = ["HANDLERS", "push_views", "push_member_view"]

ADDED, REMOVED, UPDATED, CLEAR_ALL = 1, 2, 4, 64
_UUID = 17
_AUTHENTICATED, _CREDENTIALS_FAILED = 0, 1
Handler = Callable[[MemberCore, ClientConn, InboundMessage, int, bytes], None]


def _rtype(codec) -> int:
    return codec._REQUEST_MESSAGE_TYPE + 1


def _empty(codec, conn: ClientConn, corr: int) -> None:
    buf, _ = new_response(_rtype(codec), corr)
    conn.send(buf)


def _nullable_bytes(buf: bytearray, value: bytes | None, final: bool = False) -> None:
    CodecUtil.encode_nullable(buf, value, ByteArrayCodec.encode, final)


def _reply_nullable(codec, conn: ClientConn, corr: int, value: bytes | None) -> None:
    buf, _ = new_response(_rtype(codec), corr, final=False)
    _nullable_bytes(buf, value, True)
    conn.send(buf)


def _reply_uuid(codec, conn: ClientConn, corr: int, value: uuid.UUID) -> None:
    buf, off = new_response(_rtype(codec), corr, _UUID)
    FixSizedTypesCodec.encode_uuid(buf, off, value)
    conn.send(buf)


# ---------------------------------------------------------------- client service


def _authenticate(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    conn.client_uuid = FixSizedTypesCodec.decode_uuid(f, F)
    cluster_name = StringCodec.decode(msg)
    username = CodecUtil.decode_nullable(msg, StringCodec.decode)
    password = CodecUtil.decode_nullable(msg, StringCodec.decode)
    ok = cluster_name == core.cluster_name
    if core.username is not None:
        ok = ok and username == core.username and password == core.password
    buf, off = new_response(_rtype(auth), corr, 1 + _UUID + 1 + 4 + _UUID + 1, final=False)
    FixSizedTypesCodec.encode_byte(buf, off, _AUTHENTICATED if ok else _CREDENTIALS_FAILED)
    FixSizedTypesCodec.encode_uuid(buf, off + 1, core.member_uuid)
    FixSizedTypesCodec.encode_byte(buf, off + 1 + _UUID, 1)
    FixSizedTypesCodec.encode_int(buf, off + 2 + _UUID, PARTITION_COUNT)
    FixSizedTypesCodec.encode_uuid(buf, off + 6 + _UUID, core.cluster_id)
    FixSizedTypesCodec.encode_boolean(buf, off + 6 + 2 * _UUID, False)
    CodecUtil.encode_nullable(buf, core.address(), AddressCodec.encode)
    StringCodec.encode(buf, SERVER_VERSION, True)
    conn.authenticated = ok
    conn.send(buf)


def push_member_view(core: MemberCore, reg: Registration) -> None:
    buf, off = new_event(cluster_view._EVENT_MEMBERS_VIEW_MESSAGE_TYPE, reg.correlation_id, 4, final=False)
    FixSizedTypesCodec.encode_int(buf, off, core.member_list_version)
    ListMultiFrameCodec.encode(buf, core.member_infos(), MemberInfoCodec.encode, True)
    reg.conn.send(buf)


def push_views(core: MemberCore, reg: Registration) -> None:
    push_member_view(core, reg)
    buf, off = new_event(cluster_view._EVENT_PARTITIONS_VIEW_MESSAGE_TYPE, reg.correlation_id, 4, final=False)
    FixSizedTypesCodec.encode_int(buf, off, core.partition_version)
    EntryListUUIDListIntegerCodec.encode(buf, [(core.member_uuid, list(range(PARTITION_COUNT)))], True)
    reg.conn.send(buf)


def _cluster_view(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    reg = Registration(conn, corr, "cluster_view")
    core.registrations[uuid.uuid4()] = reg
    _empty(cluster_view, conn, corr)
    push_views(core, reg)


def _backup_listener(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    reg_id = uuid.uuid4()
    core.registrations[reg_id] = Registration(conn, corr, "backup")
    _reply_uuid(client_local_backup_listener_codec, conn, corr, reg_id)


def _no_op(codec) -> Handler:
    def handle(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
        _empty(codec, conn, corr)

    return handle


# ---------------------------------------------------------------- compact schemas


def _send_schema(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    schema = SchemaCodec.decode(msg)
    core.schemas[schema.schema_id] = schema
    buf, _ = new_response(_rtype(client_send_schema_codec), corr, final=False)
    SetUUIDCodec.encode(buf, core.member_uuids(), True)
    conn.send(buf)


def _send_all_schemas(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    for schema in ListMultiFrameCodec.decode(msg, SchemaCodec.decode):
        core.schemas[schema.schema_id] = schema
    _empty(client_send_all_schemas_codec, conn, corr)


def _fetch_schema(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    schema = core.schemas.get(FixSizedTypesCodec.decode_long(f, F))
    buf, _ = new_response(_rtype(client_fetch_schema_codec), corr, final=False)
    CodecUtil.encode_nullable(buf, schema, SchemaCodec.encode, True)
    conn.send(buf)


# ---------------------------------------------------------------- map events


def _fire(core: MemberCore, conn: ClientConn, name: str, key: bytes, value, old, event_type: int) -> None:
    for reg in core.registrations_of("entry", name):
        if (reg.key is not None and reg.key != key) or not reg.flags & event_type:
            continue
        buf, off = new_event(reg.event_message_type, reg.correlation_id, 4 + _UUID + 4, final=False)
        FixSizedTypesCodec.encode_int(buf, off, event_type)
        FixSizedTypesCodec.encode_uuid(buf, off + 4, core.member_uuid)
        FixSizedTypesCodec.encode_int(buf, off + 4 + _UUID, 1)
        _nullable_bytes(buf, key)
        _nullable_bytes(buf, value if reg.include_value else None)
        _nullable_bytes(buf, old if reg.include_value else None)
        _nullable_bytes(buf, None, True)
        reg.conn.send(buf)
    _invalidate(core, conn, name, key)


def _invalidate(core: MemberCore, conn: ClientConn, name: str, key: bytes | None) -> None:
    regs = core.registrations_of("invalidation", name)
    if not regs:
        return
    seq = core.next_sequence(name)
    for reg in regs:
        buf, off = new_event(
            invalidation._EVENT_I_MAP_INVALIDATION_MESSAGE_TYPE, reg.correlation_id, 2 * _UUID + 8, final=False
        )
        FixSizedTypesCodec.encode_uuid(buf, off, conn.client_uuid)
        FixSizedTypesCodec.encode_uuid(buf, off + _UUID, core.partition_uuid)
        FixSizedTypesCodec.encode_long(buf, off + 2 * _UUID, seq)
        _nullable_bytes(buf, key, True)
        reg.conn.send(buf)


def _store(core: MemberCore, conn: ClientConn, name: str, key: bytes, value: bytes) -> bytes | None:
    data = core.map(name)
    old = data.get(key)
    data[key] = value
    _fire(core, conn, name, key, value, old, ADDED if old is None else UPDATED)
    return old


def _drop(core: MemberCore, conn: ClientConn, name: str, key: bytes) -> bytes | None:
    old = core.map(name).pop(key, None)
    if old is not None:
        _fire(core, conn, name, key, None, old, REMOVED)
    return old


# ---------------------------------------------------------------- map operations


def _name_key(msg: InboundMessage) -> tuple[str, bytes]:
    return StringCodec.decode(msg), ByteArrayCodec.decode(msg)


def _put(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name, key = _name_key(msg)
    _reply_nullable(map_put_codec, conn, corr, _store(core, conn, name, key, ByteArrayCodec.decode(msg)))


def _set(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name, key = _name_key(msg)
    _store(core, conn, name, key, ByteArrayCodec.decode(msg))
    _empty(map_set_codec, conn, corr)


def _put_if_absent(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name, key = _name_key(msg)
    value = ByteArrayCodec.decode(msg)
    old = core.map(name).get(key)
    if old is None:
        _store(core, conn, name, key, value)
    _reply_nullable(map_put_if_absent_codec, conn, corr, old)


def _get(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name, key = _name_key(msg)
    _reply_nullable(map_get_codec, conn, corr, core.map(name).get(key))


def _remove(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name, key = _name_key(msg)
    _reply_nullable(map_remove_codec, conn, corr, _drop(core, conn, name, key))


def _delete(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name, key = _name_key(msg)
    _drop(core, conn, name, key)
    _empty(map_delete_codec, conn, corr)


def _contains_key(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name, key = _name_key(msg)
    buf, off = new_response(_rtype(map_contains_key_codec), corr, 1)
    FixSizedTypesCodec.encode_boolean(buf, off, key in core.map(name))
    conn.send(buf)


def _size(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    buf, off = new_response(_rtype(map_size_codec), corr, 4)
    FixSizedTypesCodec.encode_int(buf, off, len(core.map(StringCodec.decode(msg))))
    conn.send(buf)


_MAP_SERVICE = "hz:impl:mapService"


def _destroy_proxy(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    """Destroying a map drops its data (a later access starts an empty map, as on a real member)."""
    name = StringCodec.decode(msg)
    service = StringCodec.decode(msg)
    if service == _MAP_SERVICE and name in core.maps:
        _invalidate(core, conn, name, None)
        del core.maps[name]
    _empty(client_destroy_proxy_codec, conn, corr)


def _clear(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name = StringCodec.decode(msg)
    core.map(name).clear()
    _invalidate(core, conn, name, None)
    _empty(map_clear_codec, conn, corr)


def _put_all(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name = StringCodec.decode(msg)
    for key, value in EntryListCodec.decode(msg, ByteArrayCodec.decode, ByteArrayCodec.decode):
        _store(core, conn, name, key, value)
    _empty(map_put_all_codec, conn, corr)


def _get_all(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name = StringCodec.decode(msg)
    data = core.map(name)
    keys = ListMultiFrameCodec.decode(msg, ByteArrayCodec.decode)
    entries = [(k, data[k]) for k in keys if k in data]
    buf, _ = new_response(_rtype(map_get_all_codec), corr, final=False)
    EntryListCodec.encode(buf, entries, ByteArrayCodec.encode, ByteArrayCodec.encode, True)
    conn.send(buf)


def _key_set(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    keys = list(core.map(StringCodec.decode(msg)))
    buf, _ = new_response(_rtype(map_key_set_codec), corr, final=False)
    ListMultiFrameCodec.encode(buf, keys, ByteArrayCodec.encode, True)
    conn.send(buf)


def _entry_set(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    entries = list(core.map(StringCodec.decode(msg)).items())
    buf, _ = new_response(_rtype(map_entry_set_codec), corr, final=False)
    EntryListCodec.encode(buf, entries, ByteArrayCodec.encode, ByteArrayCodec.encode, True)
    conn.send(buf)


# ---------------------------------------------------------------- map listeners


def _add_entry_listener(codec, to_key: bool) -> Handler:
    def handle(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
        include_value = FixSizedTypesCodec.decode_boolean(f, F)
        flags = FixSizedTypesCodec.decode_int(f, F + 1)
        name = StringCodec.decode(msg)
        key = ByteArrayCodec.decode(msg) if to_key else None
        reg_id = uuid.uuid4()
        core.registrations[reg_id] = Registration(
            conn, corr, "entry", codec._EVENT_ENTRY_MESSAGE_TYPE, name, key, flags, include_value
        )
        _reply_uuid(codec, conn, corr, reg_id)

    return handle


def _add_invalidation_listener(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    name = StringCodec.decode(msg)
    reg_id = uuid.uuid4()
    core.registrations[reg_id] = Registration(conn, corr, "invalidation", map_name=name)
    _reply_uuid(invalidation, conn, corr, reg_id)


def _remove_entry_listener(core: MemberCore, conn: ClientConn, msg: InboundMessage, corr: int, f: bytes) -> None:
    removed = core.registrations.pop(FixSizedTypesCodec.decode_uuid(f, F), None) is not None
    buf, off = new_response(_rtype(map_remove_entry_listener_codec), corr, 1)
    FixSizedTypesCodec.encode_boolean(buf, off, removed)
    conn.send(buf)


HANDLERS: dict[int, Handler] = {
    auth._REQUEST_MESSAGE_TYPE: _authenticate,
    cluster_view._REQUEST_MESSAGE_TYPE: _cluster_view,
    client_local_backup_listener_codec._REQUEST_MESSAGE_TYPE: _backup_listener,
    client_ping_codec._REQUEST_MESSAGE_TYPE: _no_op(client_ping_codec),
    client_statistics_codec._REQUEST_MESSAGE_TYPE: _no_op(client_statistics_codec),
    client_create_proxy_codec._REQUEST_MESSAGE_TYPE: _no_op(client_create_proxy_codec),
    client_destroy_proxy_codec._REQUEST_MESSAGE_TYPE: _destroy_proxy,
    client_send_schema_codec._REQUEST_MESSAGE_TYPE: _send_schema,
    client_send_all_schemas_codec._REQUEST_MESSAGE_TYPE: _send_all_schemas,
    client_fetch_schema_codec._REQUEST_MESSAGE_TYPE: _fetch_schema,
    map_put_codec._REQUEST_MESSAGE_TYPE: _put,
    map_set_codec._REQUEST_MESSAGE_TYPE: _set,
    map_put_if_absent_codec._REQUEST_MESSAGE_TYPE: _put_if_absent,
    map_get_codec._REQUEST_MESSAGE_TYPE: _get,
    map_remove_codec._REQUEST_MESSAGE_TYPE: _remove,
    map_delete_codec._REQUEST_MESSAGE_TYPE: _delete,
    map_contains_key_codec._REQUEST_MESSAGE_TYPE: _contains_key,
    map_size_codec._REQUEST_MESSAGE_TYPE: _size,
    map_clear_codec._REQUEST_MESSAGE_TYPE: _clear,
    map_put_all_codec._REQUEST_MESSAGE_TYPE: _put_all,
    map_get_all_codec._REQUEST_MESSAGE_TYPE: _get_all,
    map_key_set_codec._REQUEST_MESSAGE_TYPE: _key_set,
    map_entry_set_codec._REQUEST_MESSAGE_TYPE: _entry_set,
    map_add_entry_listener_codec._REQUEST_MESSAGE_TYPE: _add_entry_listener(map_add_entry_listener_codec, False),
    map_add_entry_listener_to_key_codec._REQUEST_MESSAGE_TYPE: _add_entry_listener(
        map_add_entry_listener_to_key_codec, True
    ),
    invalidation._REQUEST_MESSAGE_TYPE: _add_invalidation_listener,
    map_remove_entry_listener_codec._REQUEST_MESSAGE_TYPE: _remove_entry_listener,
}
