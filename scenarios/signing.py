"""Ed25519 keys for promotion records: the private key signs (``nor promote``), public keys are trusted (``nor paper``).

Where the keys live (``environ`` is injected; the CLI passes ``os.environ``):

* the **private key**: ``$NOR_PROMOTION_KEY_FILE``, else ``<config dir>/promotion_key.pem`` (PKCS#8 PEM, mode 0600);
* the **trusted public keys**: ``$NOR_PROMOTION_TRUSTED_KEYS``, else ``<config dir>/trusted_keys`` — one
  ``ed25519:<base64>`` per line, optionally followed by a comment; ``#`` starts a comment line;

where ``<config dir>`` is ``$XDG_CONFIG_HOME/dolphin-nor``, else ``~/.config/dolphin-nor``.
``init_key`` makes a private key and adds its public key to the trusted keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import ScenarioError

__all__ = ["SigningKeyError", "SigningKey", "PublicKey", "config_dir", "private_key_path", "trusted_keys_path",
           "load_signing_key", "load_trusted_keys", "init_key", "parse_public_key"]

ALGORITHM = "ed25519"
KEY_ENV, TRUSTED_ENV = "NOR_PROMOTION_KEY_FILE", "NOR_PROMOTION_TRUSTED_KEYS"


class SigningKeyError(ScenarioError):
    """A signing key or trusted-keys file that is missing or unreadable (the CLI: exit 2)."""


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key; ``text`` is ``ed25519:<base64 of the 32 raw bytes>``."""

    raw: bytes

    @property
    def text(self) -> str:
        return f"{ALGORITHM}:{base64.b64encode(self.raw).decode()}"

    @property
    def key_id(self) -> str:
        """The first 16 hex digits of the key's SHA-256: a short name for messages."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key and where it was read from."""

    key: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


def config_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/dolphin-nor``, else ``~/.config/dolphin-nor`` (``$HOME`` from ``environ``)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "dolphin-nor"


def private_key_path(environ: Mapping[str, str]) -> Path:
    return Path(environ[KEY_ENV]) if environ.get(KEY_ENV) else config_dir(environ) / "promotion_key.pem"


def trusted_keys_path(environ: Mapping[str, str]) -> Path:
    return Path(environ[TRUSTED_ENV]) if environ.get(TRUSTED_ENV) else config_dir(environ) / "trusted_keys"


def load_signing_key(environ: Mapping[str, str]) -> SigningKey:
    """The private key; SigningKeyError naming the file when it is missing or not an Ed25519 PEM key."""
    path = private_key_path(environ)
    where = f"${KEY_ENV}" if environ.get(KEY_ENV) else "the user's config directory"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: no promotion signing key ({where}): `nor promote --init-key` makes one, or set "
                        f"{KEY_ENV} to the key file (in CI: a secret)") from None
    except OSError as exc:
        raise SigningKeyError(f"{path}: unreadable promotion signing key ({type(exc).__name__})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: expected an unencrypted Ed25519 private key in PEM (PKCS#8), "
                        f"not readable as one ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: expected an Ed25519 private key, got a {type(key).__name__}")
    return SigningKey(key, path)


def parse_public_key(text: str) -> PublicKey | None:
    """``ed25519:<base64>`` → the key, or None if ``text`` is not one."""
    algorithm, _, b64 = text.strip().partition(":")
    if algorithm != ALGORITHM:
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return PublicKey(raw) if len(raw) == 32 else None


def load_trusted_keys(environ: Mapping[str, str]) -> tuple[Path, tuple[PublicKey, ...]]:
    """The trusted public keys and their file; SigningKeyError naming the file and line if it is unusable."""
    path = trusted_keys_path(environ)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: no trusted promotion keys: put the promoting key's public key (`ed25519:...`, "
                        f"printed by `nor promote --init-key`) there, or set {TRUSTED_ENV} to such a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"{path}: unreadable trusted keys file ({type(exc).__name__})") from None
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key = parse_public_key(line.split()[0])
        if key is None:
            raise SigningKeyError(f"{path}: line {n}: expected an Ed25519 public key 'ed25519:<base64 of 32 bytes>' "
                            f"[comment], got {line[:80]!r}")
        keys.append(key)
    if not keys:
        raise SigningKeyError(f"{path}: no trusted promotion keys in the file")
    return path, tuple(keys)


def init_key(environ: Mapping[str, str]) -> tuple[SigningKey, Path]:
    """Make a private key (never overwriting one) and trust its public key; (the key, the trusted keys file)."""
    path = private_key_path(environ)
    if path.exists():
        raise SigningKeyError(f"{path}: a promotion signing key already exists (not overwritten); its public key: "
                        f"{load_signing_key(environ).public.text}")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    signing, trusted = SigningKey(key, path), trusted_keys_path(environ)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        trusted.parent.mkdir(parents=True, exist_ok=True)
        with trusted.open("a", encoding="utf-8") as f:
            f.write(f"{signing.public.text} promotion key {path}\n")
    except OSError as exc:
        raise SigningKeyError(f"{exc.filename or path}: cannot write the key ({type(exc).__name__}: {exc.strerror})") \
            from None
    return signing, trusted
