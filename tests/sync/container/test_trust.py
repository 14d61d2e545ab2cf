"""Trust files with versions, root keys and revoked keys: what may replace what."""

from __future__ import annotations

import pytest

from sync.bundle import (
    PrivateKey,
    TrustFileError,
    TrustNotSigned,
    TrustRollback,
    check_trust_update,
    parse_trust_bytes,
    root_entry_toml,
    sign_trust,
    trust_entry_toml,
)

PUBLISHER, THIEF, NEW_PUBLISHER = (PrivateKey.generate() for _ in range(3))
ROOT_A, ROOT_B, ROOT_C = (PrivateKey.generate() for _ in range(3))


def trust_text(
    version: int,
    roots=(ROOT_A,),
    threshold: int = 1,
    publishers=(PUBLISHER,),
    revoked=(),
) -> bytes:
    lines = ["# Keys this server accepts bundles from.", "format = 1", f"version = {version}"]
    lines.append(f"root_threshold = {threshold}")
    if revoked:
        lines.append("revoked = [" + ", ".join(f'"{k.key_id}"' for k in revoked) + "]")
    text = "\n".join(lines) + "\n"
    text += "".join("\n" + root_entry_toml(root.public, "Ministère") for root in roots)
    text += "".join("\n" + trust_entry_toml(key.public, ["zz"]) for key in publishers)
    return text.encode()


def signed(data: bytes, *keys: PrivateKey):
    for key in keys:
        data = sign_trust(data, key)
    return parse_trust_bytes(data, "new.toml")


def test_a_trust_file_has_a_version_roots_and_signatures_over_the_text_above_them():
    data = sign_trust(sign_trust(trust_text(3, roots=(ROOT_A, ROOT_B)), ROOT_A), ROOT_B)
    trust = parse_trust_bytes(data)
    assert trust.version == 3 and set(trust.roots) == {ROOT_A.key_id, ROOT_B.key_id}
    assert trust.signed_by(trust.roots) == {ROOT_A.key_id, ROOT_B.key_id}
    assert trust.get(PUBLISHER.key_id).allows("zz")
    # A change to any signed byte, even a comment, breaks every signature.
    tampered = parse_trust_bytes(data.replace(b"# Keys", b"# keys"))
    assert tampered.signed_by(tampered.roots) == set()
    # Signing again replaces the key's own signature rather than adding a second one.
    assert sign_trust(data, ROOT_A).count(b"[[signatures]]") == 2


def test_an_older_trust_file_is_refused_as_a_rollback():
    accepted = signed(trust_text(5, revoked=(THIEF,)), ROOT_A)
    older = signed(trust_text(4, publishers=(PUBLISHER, THIEF)), ROOT_A)
    with pytest.raises(TrustRollback, match="older than version 5"):
        check_trust_update(older, accepted, "trust.toml")


def test_a_change_under_the_same_version_is_refused():
    accepted = signed(trust_text(5), ROOT_A)
    edited = signed(trust_text(5, publishers=(PUBLISHER, THIEF)), ROOT_A)
    with pytest.raises(TrustFileError, match="same version"):
        check_trust_update(edited, accepted, "trust.toml")
    check_trust_update(signed(trust_text(5), ROOT_A, ROOT_B), accepted, "trust.toml")


def test_a_newer_file_needs_the_threshold_of_the_current_roots():
    accepted = signed(trust_text(1, roots=(ROOT_A, ROOT_B), threshold=2), ROOT_A, ROOT_B)
    newer = trust_text(2, roots=(ROOT_A, ROOT_B), threshold=2, publishers=(NEW_PUBLISHER,))
    with pytest.raises(TrustNotSigned, match="1 valid signature"):
        check_trust_update(signed(newer, ROOT_A), accepted, "trust.toml")
    with pytest.raises(TrustNotSigned, match="0 valid signature"):
        check_trust_update(signed(newer, ROOT_C), accepted, "trust.toml")
    check_trust_update(signed(newer, ROOT_A, ROOT_B), accepted, "trust.toml")


def test_a_root_key_change_is_cross_signed_by_the_old_and_the_new_roots():
    accepted = signed(trust_text(1, roots=(ROOT_A,)), ROOT_A)
    rotated = trust_text(2, roots=(ROOT_C,))
    with pytest.raises(TrustNotSigned, match="this server's current"):
        check_trust_update(signed(rotated, ROOT_C), accepted, "trust.toml")
    with pytest.raises(TrustNotSigned, match="its own"):
        check_trust_update(signed(rotated, ROOT_A), accepted, "trust.toml")
    check_trust_update(signed(rotated, ROOT_A, ROOT_C), accepted, "trust.toml")


def test_a_revoked_key_stays_revoked_and_is_never_trusted_at_once():
    accepted = signed(trust_text(2, revoked=(THIEF,)), ROOT_A)
    with pytest.raises(TrustFileError, match="never trusted again"):
        check_trust_update(signed(trust_text(3), ROOT_A), accepted, "trust.toml")
    with pytest.raises(TrustFileError, match="both revoked and trusted"):
        parse_trust_bytes(trust_text(3, publishers=(THIEF,), revoked=(THIEF,)))


def test_files_without_versions_stay_editable_by_hand_until_a_versioned_one_arrives():
    old = parse_trust_bytes(b"format = 1\n\n" + trust_entry_toml(PUBLISHER.public, ["zz"]).encode())
    edited = parse_trust_bytes(
        b"format = 1\n\n"
        + trust_entry_toml(PUBLISHER.public, ["zz"]).encode()
        + b"\n"
        + trust_entry_toml(NEW_PUBLISHER.public, ["zz"]).encode()
    )
    assert old.version == 0 and not old.roots
    check_trust_update(edited, old, "trust.toml")
    # Without roots, nobody can sign a newer file: the admin installs it on purpose.
    with pytest.raises(TrustNotSigned, match="trust replace"):
        check_trust_update(signed(trust_text(1), ROOT_A), old, "trust.toml")
    versioned = signed(trust_text(1), ROOT_A)
    with pytest.raises(TrustRollback):
        check_trust_update(old, versioned, "trust.toml")


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: t.replace(b"version = 3", b"version = -1"), "version must be"),
        (lambda t: t.replace(b"root_threshold = 1", b"root_threshold = 2"), "root_threshold"),
        (lambda t: t.replace(b"format = 1", b'format = 1\nrevoked = ["x"]'), "revoked must"),
        (lambda t: t + b"\n[[roots]]\nkey_id = 1\n", "public_key"),
        (
            lambda t: t + b"# --- signatures: over every byte above this line ---\nversion = 9\n",
            "may follow the signatures line",
        ),
    ],
)
def test_a_malformed_versioned_trust_file_is_refused_with_the_reason(mangle, message):
    with pytest.raises(TrustFileError, match=message):
        parse_trust_bytes(mangle(trust_text(3)))
