"""This server's keys and trust: the key its bundles are signed with, the trust file it imports by.

A national server signs every bundle of a country with one key, recorded in the database at
the first build. Keys are made only on purpose (``imaginecole keys generate`` and ``rotate``): a
server that lost its ``keys/`` folder must not quietly sign with a new key that every school
refuses. A school server accepts a trust file only if it is not older than the one it accepted
before, and a newer one only if signed by the national root keys that one names; the accepted
file is kept apart (``trust-accepted.toml``), so an old copy put back is noticed.
docs/bundle-format.md describes the whole procedure.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from imaginecole.bundles.models import BuiltBundle, SigningKey
from imaginecole.datadir import accepted_trust_path, signing_key_path, trust_file_path
from imaginecole.extensions import db
from sync.bundle import (
    BundleError,
    KeyFileError,
    PrivateKey,
    PublicKey,
    TrustFileError,
    TrustNotSigned,
    TrustStore,
    check_trust_update,
    generate_key_files,
    load_private_key,
    load_public_key,
    load_trust,
    parse_trust_bytes,
    trust_entry_toml,
)


class BundleSetupError(BundleError):
    """The server is not set up to build or import bundles (no key, no trust file…)."""


class WrongSigningKey(BundleSetupError):
    """The key at hand is not the one this country's bundles are signed with."""


@dataclass(frozen=True)
class Recorded:
    """The key a country's bundles are signed with, as this server recorded it."""

    key_id: str
    since: str  # where the record comes from, for people: "recorded …" or "bundle v3"


# ---------------------------------------------------------------------------- signing keys


def generate_signing_key() -> tuple[Path, PrivateKey]:
    """Create this server's signing key; refuse when one exists (it is never replaced)."""
    path = signing_key_path()
    if path.exists():
        raise KeyFileError(
            f"{path} already exists: this server has its signing key. To replace it, run "
            "imaginecole keys rotate"
        )
    _new_key_file(path)
    return path, load_private_key(path)


def _new_key_file(path: Path) -> None:
    files = generate_key_files(path.parent, name=path.stem)
    if files.private_path != path:
        os.replace(files.private_path, path)


def recorded_key(country: str) -> Recorded | None:
    """Return the key recorded for a country: the newest record, else the newest bundle's."""
    row = db.session.scalar(
        select(SigningKey).filter_by(country_code=country).order_by(SigningKey.id.desc()).limit(1)
    )
    if row is not None:
        return Recorded(row.key_id, f"recorded {row.recorded_at:%Y-%m-%d}")
    # Bundles built before keys were recorded name the key that signed them.
    built = db.session.scalar(
        select(BuiltBundle)
        .filter_by(country_code=country)
        .order_by(BuiltBundle.built_at.desc(), BuiltBundle.id.desc())
        .limit(1)
    )
    if built is not None:
        return Recorded(built.publisher_key_id, f"bundle v{built.version}")
    return None


def signing_key_for(country: str) -> PrivateKey:
    """Return the key to sign a country's bundle with; refuse any key schools would not trust.

    The first build of a country records the key it signs with (``record_first_key``).
    """
    path = signing_key_path()
    recorded = recorded_key(country)
    if not path.exists():
        if recorded is None:
            raise BundleSetupError(
                f"This server has no signing key ({path}). Create it on purpose with: "
                "imaginecole keys generate — then give its trust entry to the ministry, which "
                "adds it to the trust file of every school."
            )
        raise WrongSigningKey(
            f"The signing key {path} is missing, and the bundles of {country} are signed with "
            f"key {recorded.key_id}: put that key file back from a backup. Only if it is lost "
            "for good: imaginecole keys rotate --old-key-lost, then ask the ministry for a "
            "trust file that trusts the new key (docs/bundle-format.md, Key rotation and compromise)."
        )
    key = load_private_key(path)
    if recorded is not None and recorded.key_id != key.key_id:
        raise WrongSigningKey(
            f"The signing key {path} is key {key.key_id}, but the bundles of {country} are "
            f"signed with key {recorded.key_id} ({recorded.since}); schools trust that one "
            "only and would refuse this bundle. Put the key file of "
            f"{recorded.key_id} back from a backup; or, if that key is lost or stolen, "
            "imaginecole keys rotate --old-key-lost, then ask the ministry for a trust file "
            "that trusts the new key (docs/bundle-format.md, Key rotation and compromise)."
        )
    return key


def record_first_key(country: str, key: PrivateKey) -> None:
    """Record the key of a country's first bundle: the one its next bundles must be signed with.

    Added with the build's own rows, at its end: a write begun earlier would hold SQLite's
    write lock for the whole build, and the build's progress could not be written.
    """
    if recorded_key(country) is None:
        _record(country, key)


def _record(country: str, key: PrivateKey, replaces: str = "", endorsement: bytes = b"") -> None:
    db.session.add(
        SigningKey(
            country_code=country,
            key_id=key.key_id,
            public_key=key.public.to_base64(),
            replaces_key_id=replaces,
            endorsement=base64.b64encode(endorsement).decode("ascii"),
        )
    )


def rotation_statement(old: str, new: PrivateKey, countries: list[str]) -> bytes:
    """Return the bytes an old key signs to hand its countries over to a new key."""
    return (
        f"imaginecole key rotation\nold {old}\nnew {new.key_id} {new.public.to_base64()}\n"
        f"countries {' '.join(sorted(countries))}\n"
    ).encode("ascii")


@dataclass
class Rotation:
    old_key_id: str
    new_key: PrivateKey
    countries: list[str]
    endorsement: bytes  # empty when the old key was lost
    retired_path: Path | None  # where the old key file was moved


def rotate_signing_key(old_key_lost: bool = False) -> Rotation:
    """Replace this server's signing key by a new one, recorded for every country of the old.

    The old key signs the change; with ``old_key_lost`` (the key is gone, or stolen) the change
    is recorded unsigned, for every country that has a recorded key.
    """
    path = signing_key_path()
    countries = sorted(
        set(db.session.scalars(select(SigningKey.country_code)))
        | set(db.session.scalars(select(BuiltBundle.country_code)))
    )
    old: PrivateKey | None = None
    if path.exists():
        old = load_private_key(path)
    elif not old_key_lost:
        raise KeyFileError(
            f"{path} is missing, so the old key cannot sign the change. Put it back from a "
            "backup; only if it is lost for good, add --old-key-lost"
        )
    if old is not None and not old_key_lost:
        countries = [c for c in countries if (r := recorded_key(c)) and r.key_id == old.key_id]
    retired: Path | None = None
    if old is not None:
        # Kept, not deleted: bundles signed with it can still be checked, and a mistaken
        # rotation undone.
        retired = path.with_name(f"{path.stem}-{old.key_id}.retired")
        os.replace(path, retired)
    public = path.with_suffix(".pub")
    if public.exists():
        os.replace(public, public.with_name(f"{public.stem}-{old_public_id(public)}.pub.retired"))
    _new_key_file(path)
    new = load_private_key(path)
    old_id = old.key_id if old is not None else ""
    endorsement = b""
    if old is not None and not old_key_lost:
        endorsement = old.sign(rotation_statement(old_id, new, countries))
    for country in countries:
        replaced = recorded_key(country)
        _record(country, new, replaced.key_id if replaced else old_id, endorsement)
    return Rotation(old_id, new, countries, endorsement, retired)


def old_public_id(path: Path) -> str:
    """Return the id of the public key file at ``path``, or "unknown" when it is not one."""
    try:
        return load_public_key(path).key_id
    except KeyFileError:
        return "unknown"


# ---------------------------------------------------------------------------- trust file


def current_trust() -> TrustStore:
    """Return the trust file imports are checked against, once it may replace the accepted one.

    The first trust file a server sees is accepted as it is (its admin put it there); after
    that, see ``check_trust_update``. The accepted file is copied aside.
    """
    path = trust_file_path()
    if not path.exists():
        raise BundleSetupError(
            f"No trust file at {path}: this server does not yet know whose bundles to accept. "
            "Copy the trust file from your national team there (see docs/bundle-format.md)."
        )
    data = path.read_bytes()
    trust = parse_trust_bytes(data, str(path))
    accepted_path = accepted_trust_path()
    accepted = accepted_path.read_bytes() if accepted_path.exists() else None
    check_trust_update(
        trust, parse_trust_bytes(accepted, str(accepted_path)) if accepted else None, str(path)
    )
    if data != accepted:
        _write_atomic(accepted_path, data)
    return trust


def _accepted_trust() -> TrustStore | None:
    path = accepted_trust_path()
    return load_trust(path) if path.exists() else None


def update_trust(paths: list[Path]) -> TrustStore:
    """Install newer trust files, each checked against the one before it; return the last.

    Files are taken in the order of their versions, so a server that missed some versions
    follows each change of root keys in turn.
    """
    current = _accepted_trust()
    if current is None and trust_file_path().exists():
        current = current_trust()
    files = sorted(((p, p.read_bytes()) for p in paths), key=lambda f: _version(*f))
    for path, data in files:
        trust = parse_trust_bytes(data, str(path))
        check_trust_update(trust, current, str(path))
        _install(data)
        current = trust
    assert current is not None
    return current


def replace_trust(path: Path) -> TrustStore:
    """Install a trust file on purpose, whatever its version and signatures; return it."""
    data = path.read_bytes()
    trust = parse_trust_bytes(data, str(path))
    _install(data)
    return trust


def _version(path: Path, data: bytes) -> int:
    return parse_trust_bytes(data, str(path)).version


def _install(data: bytes) -> None:
    _write_atomic(trust_file_path(), data)
    _write_atomic(accepted_trust_path(), data)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- trust in the browser

MAX_TRUST_FILE_BYTES = 1 << 20  # a trust file lists a few keys; anything bigger is not one


def fingerprint(public: PublicKey) -> str:
    """Return the SHA-256 of a public key in groups of four, to compare aloud over the phone."""
    digest = hashlib.sha256(public.raw).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def read_trust_candidate(path: Path) -> TrustStore:
    """Read a trust file found on a drive; raise TrustFileError (a BundleError) if it is not one."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_TRUST_FILE_BYTES + 1)
    except OSError as error:
        raise TrustFileError(f"{path} cannot be read: {error.strerror or error}") from error
    if len(data) > MAX_TRUST_FILE_BYTES:
        raise TrustFileError(f"{path} is too big to be a trust file")
    return parse_trust_bytes(data, path.name)


def add_trust_from(path: Path) -> TrustStore:
    """Install what a trust file on a drive brings; return the trust file now in use.

    A file signed by the national root keys replaces the one in use by the usual rules
    (``update_trust``). An unsigned file (an entry a national admin handed out) is added to
    an unsigned trust file, keeping its other keys; a server whose trust file is signed takes
    only signed ones, and one with no trust file yet takes it as its first.
    """
    new = read_trust_candidate(path)
    current = current_trust() if trust_file_path().exists() else None
    signed = current is not None and (current.roots or current.version)
    if signed and not (new.roots or new.version):
        raise TrustNotSigned(
            f"{path.name} is a single entry, not signed; this server's trust file is signed by "
            "the national root keys, so it takes only a newer trust file signed by them"
        )
    if new.roots or new.version or current is None or signed:
        return update_trust([path])
    merged = TrustStore(keys=dict(current.keys), revoked=current.revoked)
    for key in new.keys.values():
        merged.keys[key.key_id] = key
    data = merged.to_toml().encode()
    trust = parse_trust_bytes(data, path.name)
    check_trust_update(trust, current, path.name)
    _install(data)
    return trust


def publisher_entry() -> tuple[PublicKey, list[str], str] | None:
    """Return this server's signing key, the countries it signs for, and a trust file of it.

    The countries are those whose bundles it signed (or was recorded for); the file is empty
    while there are none. None when this server has no signing key.
    """
    path = signing_key_path()
    if not path.exists():
        return None
    public = load_private_key(path).public
    countries = sorted(
        set(db.session.scalars(select(SigningKey.country_code).filter_by(key_id=public.key_id)))
        | set(
            db.session.scalars(
                select(BuiltBundle.country_code).filter_by(publisher_key_id=public.key_id)
            )
        )
    )
    name = "Imaginecole " + " ".join(code.upper() for code in countries)
    entry = "format = 1\n\n" + trust_entry_toml(public, countries, name) if countries else ""
    return public, countries, entry
