"""Ed25519 keys for signing bundles, and the trust file that says which keys a server accepts.

A key is named by its id: the first 16 hex digits of the SHA-256 of the raw 32-byte public key.
The trust file is TOML (readable with the standard library, and people can write comments in
it); its format is described in docs/bundle-format.md. There is deliberately no expiry date:
the school server's clock cannot be trusted, so a key stops being accepted only when its entry
is removed from the trust file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mmap
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.content import COUNTRY_CODE
from sync.errors import (
    BadSignature,
    KeyFileError,
    SignatureMissing,
    TrustFileError,
    TrustNotSigned,
    TrustRollback,
)

ALGORITHM = "ed25519"
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_SIGNATURE_BYTES = 64 * 1024
# Said of JSON or TOML whose nesting exhausts the parser's recursion (a crafted file).
DEEP = "nests arrays or objects too deeply"


def key_id_of(raw_public_key: bytes) -> str:
    """Return the id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    def to_base64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @classmethod
    def from_base64(cls, text: str) -> PublicKey:
        """Decode a base64 raw public key; raise ValueError when it is not one."""
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as error:
            raise ValueError("not valid base64") from error
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key has 32 bytes, this one has {len(raw)}")
        return cls(raw)

    def verify(self, signature: bytes, data: bytes | mmap.mmap) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class PrivateKey:
    key: Ed25519PrivateKey = field(repr=False)

    @property
    def public(self) -> PublicKey:
        return PublicKey(
            self.key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class KeyFiles:
    private_path: Path
    public_path: Path
    key_id: str


def generate_key_files(out_dir: Path | str, name: str = "publisher") -> KeyFiles:
    """Create ``NAME.key`` (private, mode 0600) and ``NAME.pub`` in ``out_dir``; never overwrite."""
    if not KEY_NAME.match(name):
        raise KeyFileError(
            f"key name {name!r}: use letters, digits, dots, hyphens and underscores only"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = PrivateKey.generate()
    private_path, public_path = out / f"{name}.key", out / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path} already exists; a key is never overwritten")
    pem = key.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL and the mode at creation: the private key is never readable by others, not even
    # for the instant between writing and a later chmod.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
    public_pem = (
        key.key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    public_path.write_text(public_pem, encoding="ascii")
    return KeyFiles(private_path, public_path, key.key_id)


def load_private_key(path: Path | str) -> PrivateKey:
    """Read a PEM private key written by ``generate_key_files``."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 private key")
    return PrivateKey(key)


def load_public_key(path: Path | str) -> PublicKey:
    """Read a public key: a ``.pub`` PEM file, or the public half of a private key file."""
    data = _read_key_file(path)
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path}: not a PEM public key") from error
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 public key")
    return PublicKey(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _read_key_file(path: Path | str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise KeyFileError(f"{path}: cannot be read ({error.strerror or error})") from error
    if len(data) > 16 * 1024:
        raise KeyFileError(f"{path}: too large to be a key file")
    return data


# ---------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class Signature:
    """The content of ``signature.json``."""

    key_id: str
    signature: bytes
    public_key: PublicKey | None = None  # a hint for checking integrity; never a source of trust
    algorithm: str = ALGORITHM

    def to_json_bytes(self) -> bytes:
        data = {
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        if self.public_key is not None:
            data["public_key"] = self.public_key.to_base64()
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Signature:
        """Parse ``signature.json``; raise ``SignatureMissing`` when it is not a usable one."""
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SignatureMissing("signature.json is not valid JSON") from error
        except RecursionError:
            raise SignatureMissing(f"signature.json {DEEP}") from None
        if not isinstance(value, dict):
            raise SignatureMissing("signature.json is not a JSON object")
        if value.get("algorithm") != ALGORITHM:
            raise SignatureMissing(
                f"signature.json uses the algorithm {value.get('algorithm')!r}, not ed25519"
            )
        key_id = value.get("key_id")
        if not isinstance(key_id, str) or not KEY_ID.match(key_id):
            raise SignatureMissing("signature.json has no valid key_id")
        try:
            signature = base64.b64decode(str(value.get("signature", "")), validate=True)
        except (binascii.Error, ValueError) as error:  # ValueError: not even ASCII
            raise SignatureMissing("the signature in signature.json is not valid base64") from error
        if len(signature) != 64:
            raise SignatureMissing("the signature in signature.json is not 64 bytes long")
        public_key = None
        if "public_key" in value:
            try:
                public_key = PublicKey.from_base64(str(value["public_key"]))
            except ValueError as error:
                raise SignatureMissing(f"the public key in signature.json is {error}") from error
            if public_key.key_id != key_id:
                raise BadSignature(
                    key_id, f"signature.json names key {key_id} but carries another public key"
                )
        return cls(key_id=key_id, signature=signature, public_key=public_key)


def sign(data: bytes, key: PrivateKey) -> Signature:
    """Sign ``data`` (the exact manifest bytes)."""
    return Signature(key_id=key.key_id, signature=key.sign(data), public_key=key.public)


# ---------------------------------------------------------------------------- trust


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    public_key: PublicKey
    countries: tuple[str, ...]
    name: str = ""

    def allows(self, country: str) -> bool:
        return country in self.countries


@dataclass
class TrustStore:
    """The keys a school server accepts, each for some countries only.

    A trust file also has a version (0 for files written before versions existed), the
    national root keys that may sign its next version with how many of them must
    (``root_threshold``), the keys revoked for ever, and the signatures of its root keys over
    ``signed_bytes`` (the file above its signatures).
    """

    keys: dict[str, TrustedKey] = field(default_factory=dict)
    version: int = 0
    roots: dict[str, TrustedKey] = field(default_factory=dict)
    root_threshold: int = 1
    revoked: frozenset[str] = frozenset()
    signed_bytes: bytes = field(default=b"", compare=False, repr=False)
    signatures: dict[str, bytes] = field(default_factory=dict)

    def get(self, key_id: str) -> TrustedKey | None:
        return self.keys.get(key_id)

    def add(self, public_key: PublicKey, countries: list[str], name: str = "") -> TrustedKey:
        trusted = TrustedKey(public_key.key_id, public_key, tuple(countries), name)
        self.keys[trusted.key_id] = trusted
        return trusted

    def signed_by(self, roots: dict[str, TrustedKey]) -> set[str]:
        """Return the ids of the keys of ``roots`` whose signature over this file is valid."""
        return {
            key_id
            for key_id, signature in self.signatures.items()
            if key_id in roots and roots[key_id].public_key.verify(signature, self.signed_bytes)
        }

    def to_toml(self) -> str:
        header = (
            "# Keys this server accepts bundles from (see docs/bundle-format.md).\nformat = 1\n"
        )
        if self.version:
            header += f"version = {self.version}\n"
        if self.roots:
            header += f"root_threshold = {self.root_threshold}\n"
        if self.revoked:
            header += f"revoked = {json.dumps(sorted(self.revoked))}\n"
        roots = "".join("\n" + root_entry_toml(k.public_key, k.name) for k in self.roots.values())
        return (
            header
            + roots
            + "".join(
                "\n" + trust_entry_toml(k.public_key, list(k.countries), k.name)
                for k in self.keys.values()
            )
        )


TRUST_ENTRY_KEYS = ("key_id", "public_key", "countries", "name")


def trust_entry_toml(public_key: PublicKey, countries: list[str], name: str = "") -> str:
    """Return a ``[[keys]]`` entry for a trust file."""
    lines = ["[[keys]]"]
    if name:
        lines.append(f"name = {json.dumps(name, ensure_ascii=False)}")
    lines.append(f'key_id = "{public_key.key_id}"')
    lines.append(f'public_key = "{public_key.to_base64()}"')
    lines.append(f"countries = {json.dumps(countries)}")
    return "\n".join(lines) + "\n"


def root_entry_toml(public_key: PublicKey, name: str = "") -> str:
    """Return a ``[[roots]]`` entry for a trust file."""
    lines = ["[[roots]]"]
    if name:
        lines.append(f"name = {json.dumps(name, ensure_ascii=False)}")
    lines.append(f'key_id = "{public_key.key_id}"')
    lines.append(f'public_key = "{public_key.to_base64()}"')
    return "\n".join(lines) + "\n"


def read_toml_file(path: Path | str, what: str, error: type[TrustFileError]) -> dict:
    """Read the TOML file at ``path``; raise ``error``, calling the file ``what``, if it fails."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as problem:
        raise error(f"{what} {path}: cannot be read ({problem.strerror or problem})") from problem
    except UnicodeDecodeError as problem:
        raise error(f"{what} {path}: not UTF-8 text") from problem
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{what} {path}: not valid TOML: {problem}") from problem
    except RecursionError:
        raise error(f"{what} {path}: not valid TOML: it {DEEP}") from None


def key_entries(
    data: dict,
    source: str,
    table: str,
    label: str,
    fields: tuple[str, ...],
    error: type[TrustFileError],
    top_level: tuple[str, ...] = (),
) -> Iterator[tuple[str, dict, PublicKey]]:
    """Yield each ``[[table]]`` entry of a key file as (where, entry, its checked public key).

    ``top_level`` names the other fields the file may have, which the caller checks.
    """
    unknown = sorted(set(data) - {"format", table, *top_level})
    if unknown:
        expected = ", ".join(("format", *top_level, table))
        raise error(f"{source}: unknown field {unknown[0]!r} (expected {expected})")
    if data.get("format", 1) != 1:
        raise error(
            f"{source}: format {data.get('format')!r} is not understood; update Imaginecole"
        )
    entries = data.get(table, [])
    if not isinstance(entries, list):
        raise error(f"{source}: {table} must be a list of [[{table}]] tables")
    # One entry at a time: the caller's checks of an entry come before the next entry's, so
    # the first fault in the file is the one reported.
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: {label} {number}"
        if not isinstance(entry, dict):
            raise error(f"{where}: must be a [[{table}]] table")
        extra = sorted(set(entry) - set(fields))
        if extra:
            raise error(f"{where}: unknown field {extra[0]!r} (expected {', '.join(fields)})")
        try:
            public_key = PublicKey.from_base64(str(entry.get("public_key", "")))
        except ValueError as problem:
            raise error(f"{where}: public_key is {problem}") from problem
        key_id = entry.get("key_id")
        if key_id != public_key.key_id:
            # Catches a key pasted into the wrong entry, which would trust the wrong publisher
            # or file one school's work under another.
            raise error(
                f"{where}: key_id {key_id!r} does not match public_key (its id is "
                f"{public_key.key_id})"
            )
        yield where, entry, public_key


# A trust file's signatures come last, under this line; they sign every byte above it, so the
# file stays plain TOML that people can read, and its signed part is exactly what they read.
SIGNATURES_LINE = b"# --- signatures: over every byte above this line ---\n"
TRUST_FIELDS = ("version", "root_threshold", "revoked", "roots")
ROOT_ENTRY_KEYS = ("key_id", "public_key", "name")
SIGNATURE_ENTRY_KEYS = ("key_id", "signature")


def load_trust(path: Path | str) -> TrustStore:
    """Read a trust file; raise ``TrustFileError`` naming the entry and field at fault."""
    try:
        data = Path(path).read_bytes()
    except OSError as problem:
        raise TrustFileError(
            f"trust file {path}: cannot be read ({problem.strerror or problem})"
        ) from problem
    return parse_trust_bytes(data, str(path))


def split_signatures(data: bytes) -> tuple[bytes, bytes]:
    """Return a trust file's signed part and its signatures part (empty when unsigned)."""
    at = data.find(SIGNATURES_LINE)
    while at > 0 and data[at - 1 : at] != b"\n":
        at = data.find(SIGNATURES_LINE, at + 1)
    if at < 0:
        return data, b""
    return data[:at], data[at:]


def _toml(data: bytes, source: str) -> dict:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as problem:
        raise TrustFileError(f"trust file {source}: not UTF-8 text") from problem
    except tomllib.TOMLDecodeError as problem:
        raise TrustFileError(f"trust file {source}: not valid TOML: {problem}") from problem
    except RecursionError:
        raise TrustFileError(f"trust file {source}: not valid TOML: it {DEEP}") from None


def parse_trust_bytes(data: bytes, source: str = "trust file") -> TrustStore:
    """Build a trust store from a trust file's bytes, signatures included."""
    body, tail = split_signatures(data)
    store = parse_trust(_toml(body, source), source)
    store.signed_bytes = body
    if tail:
        store.signatures = _parse_signatures(_toml(tail, source), source)
    return store


def _parse_signatures(data: dict, source: str) -> dict[str, bytes]:
    if set(data) - {"signatures"}:
        raise TrustFileError(f"{source}: only [[signatures]] may follow the signatures line")
    entries = data.get("signatures", [])
    if not isinstance(entries, list):
        raise TrustFileError(f"{source}: signatures must be a list of [[signatures]] tables")
    found: dict[str, bytes] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: signature {number}"
        if not isinstance(entry, dict) or set(entry) != set(SIGNATURE_ENTRY_KEYS):
            raise TrustFileError(f"{where}: must have exactly key_id and signature")
        key_id = entry["key_id"]
        if not isinstance(key_id, str) or not KEY_ID.match(key_id):
            raise TrustFileError(f"{where}: key_id must be 16 hex digits")
        try:
            signature = base64.b64decode(str(entry["signature"]).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as problem:
            raise TrustFileError(f"{where}: signature is not valid base64") from problem
        if len(signature) != 64 or key_id in found:
            raise TrustFileError(f"{where}: not one 64-byte signature per key")
        found[key_id] = signature
    return found


def parse_trust(data: dict, source: str = "trust file") -> TrustStore:
    """Build a trust store from parsed TOML data (a trust file's part above its signatures)."""
    store = TrustStore()
    for where, entry, public_key in key_entries(
        data, source, "keys", "key", TRUST_ENTRY_KEYS, TrustFileError, TRUST_FIELDS
    ):
        countries = entry.get("countries")
        if (
            not isinstance(countries, list)
            or not countries
            or not all(isinstance(c, str) and COUNTRY_CODE.match(c) for c in countries)
        ):
            raise TrustFileError(
                f'{where}: countries must list two-letter lower-case codes, like ["sn"]'
            )
        name = entry.get("name", "")
        if not isinstance(name, str):
            raise TrustFileError(f"{where}: name must be a text in quotes")
        if public_key.key_id in store.keys:
            raise TrustFileError(f"{where}: key {public_key.key_id} is listed twice")
        store.add(public_key, countries, name)
    _parse_trust_fields(data, source, store)
    return store


def _parse_trust_fields(data: dict, source: str, store: TrustStore) -> None:
    """Read a trust file's version, root keys, threshold and revoked keys into ``store``."""
    version = data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise TrustFileError(f"{source}: version must be a whole number")
    store.version = version
    roots = {"format": 1, "roots": data.get("roots", [])}
    for where, entry, public_key in key_entries(
        roots, source, "roots", "root key", ROOT_ENTRY_KEYS, TrustFileError
    ):
        name = entry.get("name", "")
        if not isinstance(name, str):
            raise TrustFileError(f"{where}: name must be a text in quotes")
        if public_key.key_id in store.roots:
            raise TrustFileError(f"{where}: key {public_key.key_id} is listed twice")
        store.roots[public_key.key_id] = TrustedKey(public_key.key_id, public_key, (), name)
    threshold = data.get("root_threshold", 1)
    if (
        not isinstance(threshold, int)
        or isinstance(threshold, bool)
        or not 1 <= threshold <= max(1, len(store.roots))
    ):
        raise TrustFileError(
            f"{source}: root_threshold must be between 1 and the number of root keys "
            f"({len(store.roots)})"
        )
    store.root_threshold = threshold
    revoked = data.get("revoked", [])
    if not isinstance(revoked, list) or not all(
        isinstance(k, str) and KEY_ID.match(k) for k in revoked
    ):
        raise TrustFileError(f'{source}: revoked must list key ids, like ["3d32f9ec30b98ee8"]')
    store.revoked = frozenset(revoked)
    both = sorted(store.revoked & (set(store.keys) | set(store.roots)))
    if both:
        raise TrustFileError(f"{source}: key {both[0]} is both revoked and trusted")


def check_trust_update(new: TrustStore, accepted: TrustStore | None, source: str) -> None:
    """Refuse a trust file that may not replace the one this server accepted.

    It must not be older (rollback to a file trusting revoked keys), nor changed under the
    same version; a newer one must be signed by ``root_threshold`` of the accepted file's root
    keys and of its own (so a root key change is cross-signed), and keep every revoked key
    revoked. Files without versions nor root keys (written before they existed) are edited by
    hand and accepted as they are, until a versioned one arrives.
    """
    if accepted is None or new.signed_bytes == accepted.signed_bytes:
        return
    if new.version < accepted.version:
        raise TrustRollback(source, new.version, accepted.version)
    if new.version == accepted.version:
        if new.version == 0 and not new.roots and not accepted.roots:
            return
        raise TrustFileError(
            f"{source} differs from version {new.version} that this server accepted, under the "
            "same version: every change raises the version and is signed again"
        )
    if not accepted.roots:
        raise TrustNotSigned(
            f"{source}: the trust file this server accepted names no root keys, so a new "
            "version can only be installed on purpose: imaginecole trust replace FILE"
        )
    for roots, threshold, whose in (
        (accepted.roots, accepted.root_threshold, "this server's current"),
        (new.roots, new.root_threshold, "its own"),
    ):
        valid = len(new.signed_by(roots))
        if valid < threshold:
            raise TrustNotSigned(
                f"{source} (version {new.version}) carries {valid} valid signature(s) of "
                f"{whose} root keys and needs {threshold}; ask the national team for a "
                "properly signed trust file"
            )
    unrevoked = sorted(accepted.revoked - new.revoked)
    if unrevoked:
        raise TrustFileError(
            f"{source} no longer revokes key {unrevoked[0]}: a revoked key is never trusted again"
        )


def sign_trust(data: bytes, key: PrivateKey) -> bytes:
    """Return a trust file's bytes with ``key``'s signature added (or replaced)."""
    body, tail = split_signatures(data)
    signatures = _parse_signatures(_toml(tail, "trust file"), "trust file") if tail else {}
    if not body.endswith(b"\n"):
        raise TrustFileError("the trust file must end with a line break before it is signed")
    signatures[key.key_id] = key.sign(body)
    entries = "".join(
        f'\n[[signatures]]\nkey_id = "{key_id}"\n'
        f'signature = "{base64.b64encode(signature).decode("ascii")}"\n'
        for key_id, signature in sorted(signatures.items())
    )
    return body + SIGNATURES_LINE + entries.encode("ascii")
