"""Keys, signatures and the trust file."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from sync.bundle import (
    KeyFileError,
    PrivateKey,
    Signature,
    TrustFileError,
    generate_key_files,
    key_id_of,
    load_private_key,
    load_public_key,
    load_trust,
    trust_entry_toml,
)
from sync.container.keys import sign


def test_generated_keys_are_ed25519_with_a_private_file_only_the_owner_reads(tmp_path):
    files = generate_key_files(tmp_path / "keys", "zz-team")
    assert files.private_path.name == "zz-team.key" and files.public_path.name == "zz-team.pub"
    if os.name == "posix":
        assert stat.S_IMODE(files.private_path.stat().st_mode) == 0o600
    private = load_private_key(files.private_path)
    public = load_public_key(files.public_path)
    assert private.public == public == load_public_key(files.private_path)
    assert files.key_id == public.key_id == hashlib.sha256(public.raw).hexdigest()[:16]
    assert key_id_of(public.raw) == files.key_id


def test_keys_are_never_overwritten(tmp_path):
    generate_key_files(tmp_path, "team")
    with pytest.raises(KeyFileError, match="already exists"):
        generate_key_files(tmp_path, "team")
    with pytest.raises(KeyFileError, match="key name"):
        generate_key_files(tmp_path, "../escape")


def test_a_file_that_is_not_a_key_is_named(tmp_path):
    path = tmp_path / "notes.key"
    path.write_text("hello")
    with pytest.raises(KeyFileError, match="notes.key"):
        load_private_key(path)
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_public_key(tmp_path / "absent.pub")


def test_a_signature_covers_the_exact_bytes(tmp_path):
    key = PrivateKey.generate()
    signature = Signature.from_json_bytes(sign(b"manifest", key).to_json_bytes())
    assert signature.key_id == key.key_id
    assert key.public.verify(signature.signature, b"manifest")
    assert not key.public.verify(signature.signature, b"manifest ")
    assert not PrivateKey.generate().public.verify(signature.signature, b"manifest")


def write_trust(tmp_path, text: str):
    path = tmp_path / "trust.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_trust_file_lists_keys_and_their_countries(tmp_path):
    one, two = PrivateKey.generate(), PrivateKey.generate()
    path = write_trust(
        tmp_path,
        "# Keys of the national teams\nformat = 1\n\n"
        + trust_entry_toml(one.public, ["sn"], "Sénégal 2025")
        + "\n"
        + trust_entry_toml(two.public, ["sn", "gn"]),
    )
    trust = load_trust(path)
    assert trust.get(one.key_id).allows("sn") and not trust.get(one.key_id).allows("gn")
    assert trust.get(two.key_id).allows("gn")
    assert trust.get(one.key_id).name == "Sénégal 2025"
    assert load_trust(write_trust(tmp_path, trust.to_toml())) == trust


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda e: e.replace("countries", "countrys"), "unknown field 'countrys'"),
        (lambda e: e.replace('key_id = "', 'key_id = "0'), "does not match public_key"),
        (lambda e: e.replace('["sn"]', '["SN"]'), "two-letter lower-case"),
        (lambda e: e.replace('["sn"]', "[]"), "countries"),
        (lambda e: e.replace('public_key = "', 'public_key = "!'), "public_key is not valid"),
        (lambda e: e + e, "listed twice"),
        (lambda e: e.replace("[[keys]]", "[[keys]"), "not valid TOML"),
    ],
)
def test_a_malformed_trust_file_is_refused_with_the_reason(tmp_path, mangle, message):
    entry = trust_entry_toml(PrivateKey.generate().public, ["sn"])
    with pytest.raises(TrustFileError, match=message):
        load_trust(write_trust(tmp_path, mangle(entry)))


def test_a_missing_trust_file_is_named(tmp_path):
    with pytest.raises(TrustFileError, match="absent.toml"):
        load_trust(tmp_path / "absent.toml")
