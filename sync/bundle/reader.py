"""Read a bundle's manifest once its signer is checked, and verify a bundle without importing it.

The container (``sync.container.archive``) checks the archive and the signature; here the
signer is judged against the server's trust file: a key it lists, allowed for the bundle's
country, and the key the manifest itself names as its publisher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sync.bundle.manifest import Manifest, parse_manifest
from sync.container.archive import BLOB_PREFIX, PART_SUFFIX, SignedArchive, container_name
from sync.container.keys import PublicKey, Signature, TrustedKey, TrustStore
from sync.errors import (
    BadSignature,
    BundleError,
    BundleReadError,
    KeyNotAllowed,
    SignatureMissing,
    UntrustedKey,
    human_size,
)

BUNDLE_SUFFIX = ".icb"


def signer_key(signature: Signature, trust: TrustStore | None) -> PublicKey:
    """Return the key a bundle's signature must be made with; refuse a key not trusted.

    With no trust store, it is the public key the bundle carries: that proves the manifest is
    intact, not who made it.
    """
    if trust is not None:
        trusted = trust.get(signature.key_id)
        if trusted is None:
            raise UntrustedKey(signature.key_id)
        return trusted.public_key
    if signature.public_key is not None:
        return signature.public_key
    raise SignatureMissing(
        f"signature.json does not carry key {signature.key_id}, and no trust file "
        "was given to check it with"
    )


def authenticate(
    archive: SignedArchive, trust: TrustStore | None
) -> tuple[bytes, Signature, TrustedKey | None]:
    """Return the manifest bytes once signed by a trusted key, and that key; parse nothing else."""
    manifest_bytes, signature = archive.authenticate(lambda s: signer_key(s, trust))
    trusted = trust.get(signature.key_id) if trust is not None else None
    return manifest_bytes, signature, trusted


def check_signer(manifest: Manifest, signature: Signature, trusted: TrustedKey | None) -> None:
    """Refuse a manifest its signer may not sign: another country, or another key named inside."""
    if manifest.publisher_key_id != signature.key_id:
        raise BadSignature(
            signature.key_id,
            f"the manifest names key {manifest.publisher_key_id} as its publisher but is "
            f"signed by key {signature.key_id}",
        )
    if trusted is not None and not trusted.allows(manifest.country):
        raise KeyNotAllowed(trusted.key_id, trusted.name, manifest.country, list(trusted.countries))


def read_manifest(path: Path | str, trust: TrustStore | None = None) -> Manifest:
    """Return the authenticated manifest of a bundle, or of a bare ``manifest.json`` file.

    A bare manifest carries no signature: it is only accepted as the base of a new build, by
    its own publisher.
    """
    path = Path(path)
    if path.suffix == ".json" and path.is_file():
        try:
            return parse_manifest(path.read_bytes())
        except OSError as error:
            raise BundleReadError(str(path), error.strerror or str(error)) from error
    with SignedArchive(path) as archive:
        if archive.entry_problems:
            raise archive.entry_problems[0]
        manifest_bytes, signature, trusted = authenticate(archive, trust)
        manifest = parse_manifest(manifest_bytes)
        check_signer(manifest, signature, trusted)
        return manifest


# ---------------------------------------------------------------------------- verify


@dataclass
class Verdict:
    """The result of checking one bundle: every problem found, or none."""

    path: Path
    parts: list[Path] = field(default_factory=list)
    manifest: Manifest | None = None
    key_id: str | None = None
    key_name: str = ""
    trust_checked: bool = False
    problems: list[BundleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """Return a one-line verdict; the problems follow it, one a line, in ``lines()``."""
        if not self.ok:
            count = len(self.problems)
            return f"BAD  {self.path}: {count} problem{'s' if count > 1 else ''}, do not import"
        assert self.manifest is not None
        m = self.manifest
        parts = f", {len(self.parts)} parts" if len(self.parts) > 1 else ""
        size = human_size(m.total_size)
        signer = f"key {self.key_id}" + (f" ({self.key_name})" if self.key_name else "")
        trust = "" if self.trust_checked else "; key NOT checked against a trust file"
        return (
            f"GOOD {self.path}: {m.describe()}, {len(m.modules)} modules, "
            f"{len(m.files)} files, {size}{parts}, signed by {signer}{trust}"
        )

    def lines(self) -> list[str]:
        return [self.describe()] + [f"     - {problem}" for problem in self.problems]


def verify_bundle(path: Path | str, trust: TrustStore | None = None) -> Verdict:
    """Check a bundle completely without importing it, listing every problem found."""
    verdict = Verdict(path=Path(path))
    try:
        archive = SignedArchive(path)
    except BundleError as error:
        verdict.problems.append(error)
        return verdict
    with archive:
        verdict.parts = archive.parts
        verdict.path = Path(archive.label)
        verdict.problems.extend(archive.entry_problems)
        try:
            manifest_bytes, signature, trusted = authenticate(archive, trust)
            verdict.key_id = signature.key_id
            verdict.key_name = trusted.name if trusted else ""
            verdict.trust_checked = trust is not None
            manifest = parse_manifest(manifest_bytes)
            verdict.manifest = manifest
            check_signer(manifest, signature, trusted)
        except BundleError as error:
            verdict.problems.append(error)
            return verdict
        listing = archive.listing_problems(manifest.files)
        verdict.problems.extend(listing)
        # Entries already refused from their headers are not inflated: that is the point.
        unreadable = {getattr(p, "sha256", None) for p in listing} | {
            getattr(p, "name", "").removeprefix(BLOB_PREFIX) for p in listing
        }
        for sha, entry in sorted(manifest.files.items()):
            if sha in unreadable:
                continue
            try:
                archive.check_blob(sha, entry.size, entry.name)
            except BundleError as error:
                verdict.problems.append(error)
    return verdict


def find_bundles(path: Path | str) -> list[Path]:
    """Return the bundles in a folder (searched recursively), or ``path`` itself when it is one."""
    path = Path(path)
    if not path.is_dir():
        return [container_name(path) if PART_SUFFIX.match(path.suffix) else path]
    found = []
    for candidate in sorted(path.rglob("*")):
        if any(part.startswith(".") for part in candidate.relative_to(path).parts):
            continue  # hidden folders, and files being written, are not bundles to check
        if not candidate.is_file():
            continue
        if candidate.suffix == BUNDLE_SUFFIX:
            found.append(candidate)
        elif candidate.name.endswith(BUNDLE_SUFFIX + ".001"):
            found.append(container_name(candidate))
    return found
