"""Helpers shared by the submission tests: a school server's kit, revisions, forged packages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sync.bundle import PrivateKey, canonical_json
from sync.container.keys import sign
from sync.storage import BlobStore
from sync.submissions import (
    EnrolledKeys,
    FileRef,
    RevisionData,
    SubmissionData,
    build_package,
    make_revision,
    read_package,
    revision_uid,
)
from tests.sync.bundle.test_support import manifest_data, rewrite

CREATED = "2025-03-01T09:00:00Z"
LATER = "2025-03-08T16:30:00Z"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def uid(name: str) -> str:
    """Return a valid submission uid that reads as ``name`` in test output."""
    return f"sub-{name}".ljust(20, "0")


def revision(
    submission_uid: str,
    parent: RevisionData | None = None,
    *,
    markdown: str = "# Les fractions\n\nUne fraction partage un tout.\n",
    title: str = "Les fractions",
    created: str = CREATED,
    files: list[FileRef] | None = None,
) -> RevisionData:
    return make_revision(
        submission_uid,
        parent.uid if parent is not None else None,
        title=title,
        markdown=markdown,
        created=created,
        summary="Partager un tout en parts égales.",
        levels=["cm1"],
        subject="mathematiques",
        competencies=["sn-math-fractions"],
        files=files or [],
    )


def submission(
    name: str,
    *revisions: RevisionData,
    teacher: str = "t-1",
    withdrawn: bool = False,
) -> SubmissionData:
    return SubmissionData(uid(name), teacher, "Awa Diop", withdrawn, list(revisions))


@dataclass
class SchoolKit:
    """A school server's key and outbox files, and the national server's enrolment and store."""

    root: Path
    key: PrivateKey
    enrolled: EnrolledKeys
    store: BlobStore
    image: Path
    image_ref: FileRef

    def package(
        self, submissions: list[SubmissionData], name: str = "outbox.icsub", **options: object
    ) -> Path:
        out = self.root / name
        build_package(
            submissions,
            {self.image_ref.sha256: self.image},
            "sn",
            self.key,
            out,
            **options,  # type: ignore[arg-type]
        )
        return out

    def sample(self, name: str = "a") -> SubmissionData:
        """Return a submission of two revisions, the first with a picture."""
        sub_uid = uid(name)
        first = revision(sub_uid, files=[self.image_ref])
        second = revision(
            sub_uid, first, markdown="# Les fractions\n\nUn demi, un tiers.\n", created=LATER
        )
        return SubmissionData(sub_uid, "t-1", "Awa Diop", False, [first, second])

    def read(self, path: Path):
        return read_package(path, self.enrolled, self.store)


def make_school(tmp_path: Path, country: str = "sn", name: str = "École de Ndiaye") -> SchoolKit:
    key = PrivateKey.generate()
    enrolled = EnrolledKeys()
    enrolled.add(key.public, country, name)
    image = tmp_path / "schema.png"
    image.write_bytes(PNG)
    ref = FileRef(hashlib.sha256(PNG).hexdigest(), "schéma.png", "image/png", len(PNG))
    return SchoolKit(tmp_path, key, enrolled, BlobStore(tmp_path / "store"), image, ref)


def resign(source: Path, target: Path, manifest_bytes: bytes, key: PrivateKey, **changes) -> Path:
    """Write ``target``: ``source`` with these exact manifest bytes, signed by ``key``."""
    replace = dict(changes.pop("replace", {}))
    replace["manifest.json"] = manifest_bytes
    replace["signature.json"] = sign(manifest_bytes, key).to_json_bytes()
    return rewrite(source, target, replace=replace, **changes)


def edit_and_resign(
    source: Path, target: Path, edit: Callable[[dict], None], key: PrivateKey, **changes
) -> Path:
    """Write ``target`` with the manifest edited and signed again (ASCII escapes allowed)."""
    data = manifest_data(source)
    edit(data)
    # ensure_ascii keeps lone surrogates as \\udxxx escapes, as a crafted package would.
    raw = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()
    return resign(source, target, raw, key, **changes)


def content_uid(submission_uid: str, revision_data: dict) -> str:
    """Recompute a manifest revision's uid from its fields, as a forger who knows the rules would."""
    keys = ("title", "summary", "language", "levels", "subject", "competencies", "licence")
    content = {k: revision_data[k] for k in keys}
    content["markdown"] = revision_data["markdown"]
    content["files"] = revision_data["files"]
    content_hash = hashlib.sha256(canonical_json(content)).hexdigest()
    return revision_uid(submission_uid, revision_data["parent_uid"], content_hash)


def forge_markdown(source: Path, target: Path, new_markdown: bytes, key: PrivateKey) -> Path:
    """Replace the first revision's Markdown with ``new_markdown``: a consistent, signed forgery.

    The package must hold a single submission with a single revision.
    """
    data = manifest_data(source)
    [entry] = data["submissions"]
    [rev] = entry["revisions"]
    old_sha = rev["markdown"]
    new_sha = hashlib.sha256(new_markdown).hexdigest()
    data["files"][new_sha] = dict(data["files"].pop(old_sha), size=len(new_markdown))
    rev["markdown"] = new_sha
    rev["uid"] = content_uid(entry["uid"], rev)
    raw = canonical_json(data)
    return resign(
        source,
        target,
        raw,
        key,
        drop=lambda name: name == "blobs/" + old_sha,
        add=[("blobs/" + new_sha, new_markdown)],
    )


def test_a_school_kit_builds_a_package_its_national_server_reads(tmp_path):
    kit = make_school(tmp_path)
    received = kit.read(kit.package([kit.sample()]))
    assert [s.uid for s in received.submissions] == [uid("a")]
