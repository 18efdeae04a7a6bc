"""Signing keys on disk and in the environment: generate, load, and sign packets as they are written.

Keys are Ed25519 in PEM: the private key as unencrypted PKCS#8 (``-----BEGIN PRIVATE KEY-----``, written
with mode 0600), the public key as SubjectPublicKeyInfo (``-----BEGIN PUBLIC KEY-----``), the formats
``openssl pkey`` and most tooling read. A CI job usually holds the private key in a secret:
``GATEPACK_SIGNING_KEY`` (the PEM text) or ``GATEPACK_SIGNING_KEY_FILE`` (a path). Errors name the file
or variable, never the key material.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from collector.errors import UsageError
from collector.signing_env import KEY_ENV, KEY_FILE_ENV
from slo.dsse import envelope_for_packet, key_id
from slo.evidence import EvidencePacket

ENVELOPE_SUFFIX = ".intoto.json"
MAX_KEY_BYTES = 64 * 1024


class SigningKeyError(UsageError):
    """A key cannot be read or is not an Ed25519 key; the message names where it came from."""


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def write_keypair(path: Path, key: Ed25519PrivateKey | None = None, force: bool = False) -> str:
    """Write ``path`` (0600, created so no other user can ever read it) and ``path.pub``; return the key id."""
    key = key or Ed25519PrivateKey.generate()
    pub = path.with_name(path.name + ".pub")
    if not force:
        for target in (path, pub):
            if target.exists():
                raise SigningKeyError(f"{target} exists (use --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if force:
        path.unlink(missing_ok=True)
    # O_EXCL with mode 0600: the secret never exists with wider permissions, not even for an instant
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem(key))
    os.chmod(path, 0o600)  # the umask may have narrowed it further; never wider
    pub.write_bytes(public_pem(key.public_key()))
    return key_id(key.public_key())


def _private_from_pem(data: bytes, origin: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(
            f"{origin}: not an unencrypted PEM private key (make one with `gatepack keygen`)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{origin}: not an Ed25519 key ({type(key).__name__.removeprefix('_')})")
    return key


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise SigningKeyError(f"{path}: too large for a {what}")
        return path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    return _private_from_pem(_read(path, "signing key"), str(path))


def signing_key_from(option: Path | None, env: Mapping[str, str]) -> Ed25519PrivateKey | None:
    """The key ``--sign`` names, else ``GATEPACK_SIGNING_KEY`` (PEM text), else ``..._FILE``; None to not sign."""
    if option is not None:
        return load_private_key(option)
    text = env.get(KEY_ENV)
    if text:
        return _private_from_pem(text.encode("utf-8"), f"${KEY_ENV}")
    path = env.get(KEY_FILE_ENV)
    if path:
        return _private_from_pem(_read(Path(path), "signing key"), f"${KEY_FILE_ENV} ({path})")
    return None


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key file; a private key file is accepted too (its public half is used)."""
    data = _read(path, "public key")
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        return _private_from_pem(data, str(path)).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return key


def trusted_keys(key: Path | None, directory: Path | None) -> list[Ed25519PublicKey] | None:
    """Keys from ``--key`` and every ``*.pub``/``*.pem`` in ``--trusted-keys``; None when neither was given."""
    if key is None and directory is None:
        return None
    keys = [load_public_key(key)] if key is not None else []
    if directory is not None:
        if not directory.is_dir():
            raise SigningKeyError(f"--trusted-keys {directory}: not a directory")
        files = sorted(p for p in directory.iterdir() if p.suffix in {".pub", ".pem"} and p.is_file())
        if not files:
            raise SigningKeyError(f"--trusted-keys {directory}: no *.pub or *.pem key files in it")
        keys.extend(load_public_key(p) for p in files)
    return keys


def envelope_path(packet_path: Path) -> Path:
    """Where ``--no-envelope`` puts the signed envelope beside the plain packet: ``X.json`` → ``X.intoto.json``."""
    return packet_path.with_name(packet_path.name.removesuffix(".json") + ENVELOPE_SUFFIX)


@dataclass(frozen=True)
class PacketSigner:
    """What ``CollectOptions.signer`` holds: turns a sealed packet into the files to write.

    With ``envelope`` (the default) the packet file *is* the DSSE envelope, one artifact to ship. Without it
    the plain packet stays at its path for tools that read packets, and the envelope goes beside it.
    """

    key: Ed25519PrivateKey
    envelope: bool = True

    @property
    def key_id(self) -> str:
        return key_id(self.key.public_key())

    def files(self, packet: EvidencePacket, path: Path, data: bytes) -> list[tuple[Path, bytes]]:
        signed = envelope_for_packet(data, self.key)
        if self.envelope:
            return [(path, signed)]
        return [(path, data), (envelope_path(path), signed)]
