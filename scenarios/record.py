"""Promotion records (format ``dolphin-nor.promotion/2``): signed JSON, one file per config id.

``<records>/<config_id>.json`` holds what was promoted and on which evidence, and a ``signature``: Ed25519
over the canonical JSON of everything else (sorted keys, no spaces, ASCII). :func:`read_record` reads one
strictly: a file that is not a JSON object, or a field of the wrong type, is :class:`RecordInvalid`
(``nor paper``: exit 2) naming the file and the field; a record that is unsigned, signed by a key that is
not trusted, or edited after signing is :class:`RecordRefused` (exit 1) with the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import ScenarioError
from .signing import ALGORITHM, PublicKey, SigningKey, parse_public_key

__all__ = ["RECORD_FORMAT", "PromotionError", "RecordInvalid", "RecordRefused", "Record", "canonical_bytes", "sign_record",
           "write_record", "read_record", "verify_record"]

RECORD_FORMAT = "dolphin-nor.promotion/2"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class PromotionError(Exception):
    """Promotion refused, or a config is not promoted; the message names the one thing that blocks (exit 1)."""


class RecordInvalid(ScenarioError):
    """A promotion record that is not one: not UTF-8 JSON, not an object, or a field of the wrong type."""


class RecordRefused(PromotionError):
    """A well-formed promotion record that cannot be trusted: unsigned, unknown key, or edited after signing."""


@dataclass(frozen=True)
class Record:
    """A promotion record read from ``path`` (its fields checked for type, not yet for trust)."""

    path: Path
    data: Mapping[str, Any]

    @property
    def config_id(self) -> str:
        return str(self.data["config_id"])

    @property
    def code_files(self) -> Mapping[str, str]:
        return self.data["code"]["files"]


def canonical_bytes(data: Mapping[str, Any]) -> bytes:
    """What is signed: the record without ``signature``, as canonical JSON."""
    body = {k: v for k, v in data.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def sign_record(data: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """``data`` with its ``signature``."""
    value = base64.b64encode(key.sign(canonical_bytes(data))).decode()
    return {**data, "signature": {"algorithm": ALGORITHM, "public_key": key.public.text, "value": value}}


def write_record(records_dir: Path, data: Mapping[str, Any]) -> Path:
    records_dir.mkdir(parents=True, exist_ok=True)
    path = records_dir / f"{data['config_id']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return path


def _bad(path: Path, field: str, expected: str, got: Any) -> RecordInvalid:
    shown = type(got).__name__ if isinstance(got, (dict, list)) else repr(got)[:80]
    return RecordInvalid(f"{path}: {field}: expected {expected}, got {shown}")


def _field(path: Path, data: Mapping[str, Any], key: str, kind: type, expected: str, where: str = "") -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(path, f"{where}{key}", expected, value)
    return value


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def read_record(path: Path) -> Record:
    """Read and type-check a record; RecordInvalid naming the file and field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordInvalid(f"{path}: unreadable promotion record ({type(exc).__name__})") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise RecordInvalid(f"{path}: expected a UTF-8 JSON promotion record, got bytes that are not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise RecordInvalid(f"{path}: expected a JSON promotion record, not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise _bad(path, "(top level)", "a JSON object (a promotion record)", data)
    fmt = data.get("format")
    if fmt != RECORD_FORMAT:
        raise _bad(path, "format", repr(RECORD_FORMAT), fmt)
    config_id = _field(path, data, "config_id", str, "a config id (64 hex digits)")
    if not _HEX64.fullmatch(config_id):
        raise _bad(path, "config_id", "a config id (64 hex digits)", config_id)
    for key in ("config_name", "promoted_utc"):
        _field(path, data, key, str, "a string")
    _field(path, data, "config", dict, "the config (an object)")
    _field(path, data, "suites", dict, "the suites (an object)")
    evidence = _field(path, data, "evidence", dict, "the evidence (an object)")
    _field(path, evidence, "run_id", str, "a string", "evidence.")
    code = _field(path, data, "code", dict, "the bound code (an object)")
    _field(path, code, "sha256", str, "a SHA-256 (a string)", "code.")
    files = _field(path, code, "files", dict, "the bound files (an object of path: SHA-256)", "code.")
    for name, digest in files.items():
        if not isinstance(digest, str):
            raise _bad(path, f"code.files.{name}", "a SHA-256 (a string)", digest)
    if "signature" in data:
        sig = _field(path, data, "signature", dict, "the signature (an object)")
        for key in ("algorithm", "public_key", "value"):
            _field(path, sig, key, str, "a string", "signature.")
    return Record(path, data)


def verify_record(record: Record, trusted: Sequence[PublicKey], trusted_file: Path) -> PublicKey:
    """The trusted key that signed ``record``; RecordRefused saying why it is not trusted."""
    path, sig = record.path, record.data.get("signature")
    if sig is None:
        raise RecordRefused(f"{path}: the record is not signed (hand-written, or from an older nor?): only "
                            f"`nor promote` with the promotion key makes records `nor paper` accepts")
    if sig["algorithm"] != ALGORITHM:
        raise RecordRefused(f"{path}: signature.algorithm: {sig['algorithm']!r} is not {ALGORITHM!r}")
    key = parse_public_key(sig["public_key"])
    if key is None:
        raise RecordRefused(f"{path}: signature.public_key: not an Ed25519 public key")
    if key.raw not in {k.raw for k in trusted}:
        raise RecordRefused(f"{path}: signed by key {key.key_id} ({key.text}), which is not trusted: it is not in "
                            f"{trusted_file} (trusted: {', '.join(k.key_id for k in trusted)})")
    try:
        signature = base64.b64decode(sig["value"], validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    try:
        message = canonical_bytes(record.data)
    except ValueError:
        message = b""
    if not message or not key.verify(signature, message):
        raise RecordRefused(f"{path}: the signature does not verify: the record was edited after it was signed")
    return key
