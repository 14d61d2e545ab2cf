"""Every reason a bundle, a submission package, a key or a trust file is refused, in plain words.

One class per refusal so callers (the import command, the tests) can tell them apart; the
message names the file, key or version involved and, where there is one, what to do about it.
"""

from __future__ import annotations


def human_size(size: int) -> str:
    """Return a byte count as people read it (decimal units, like file managers)."""
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


class BundleError(Exception):
    """A bundle, key or trust file cannot be used; ``str(error)`` is the message to show."""

    # An interrupted read (stick pulled out) keeps what was already staged so a rerun resumes;
    # every real refusal throws the staged files away.
    resumable = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __reduce__(self):
        # Subclasses take other arguments than their message, so pickling (a refusal found by
        # the process that copies blobs, sent back to the import) rebuilds without __init__.
        return (_rebuild_error, (type(self), self.message, dict(self.__dict__)))


def _rebuild_error(cls: type[BundleError], message: str, state: dict) -> BundleError:
    error = cls.__new__(cls)
    BundleError.__init__(error, message)
    error.__dict__.update(state)
    return error


# ---------------------------------------------------------------------------- the container


class BundleNotFound(BundleError):
    def __init__(self, path: str):
        super().__init__(f"{path}: no such bundle (nor any part of one named {path}.001)")
        self.path = path


class MissingPart(BundleError):
    def __init__(self, path: str, number: int):
        super().__init__(
            f"{path}: part {number:03d} is missing; copy every part of the bundle into the same folder"
        )
        self.path, self.number = path, number


class NotABundle(BundleError):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: not a readable bundle: {reason}")
        self.path, self.reason = path, reason


class BundleReadError(BundleError):
    resumable = True

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"{path}: could not be read ({reason}); was the stick removed? "
            "Plug it in again and start again: files already copied are kept"
        )
        self.path, self.reason = path, reason


class UnsafeEntryName(BundleError):
    def __init__(self, name: str, reason: str):
        super().__init__(
            f"entry {name!r} {reason}; a bundle only holds manifest.json, signature.json and "
            "blobs/<sha256>, so this archive was crafted or damaged"
        )
        self.name, self.reason = name, reason


class UnexpectedEntry(BundleError):
    def __init__(self, name: str):
        super().__init__(f"entry {name!r} is not listed in the manifest; the bundle was altered")
        self.name = name


class DuplicateEntry(BundleError):
    def __init__(self, name: str):
        super().__init__(f"entry {name!r} appears twice in the archive; the bundle was altered")
        self.name = name


class UnsupportedEntry(BundleError):
    def __init__(self, name: str, reason: str):
        super().__init__(f"entry {name!r} {reason}; bundles never do that")
        self.name, self.reason = name, reason


class MissingBlob(BundleError):
    def __init__(self, sha256: str, name: str = ""):
        what = f"{name} ({sha256})" if name else sha256
        super().__init__(f"file {what} is listed in the manifest but missing from the bundle")
        self.sha256 = sha256


class MissingBaseBlob(BundleError):
    def __init__(self, sha256: str, name: str = ""):
        what = f"{name} ({sha256})" if name else sha256
        super().__init__(
            f"file {what} was shipped in an earlier bundle but is not on this server; "
            "import the full bundle of this channel instead of the update"
        )
        self.sha256 = sha256


class CorruptBlob(BundleError):
    def __init__(self, sha256: str, name: str = "", reason: str = "its content does not match"):
        what = f"{name} ({sha256})" if name else sha256
        super().__init__(f"file {what} is corrupt: {reason}; copy the bundle again")
        self.sha256 = sha256


class TruncatedBlob(BundleError):
    def __init__(self, sha256: str, declared: int, actual: int, name: str = ""):
        what = f"{name} ({sha256})" if name else sha256
        super().__init__(
            f"file {what} is cut short: {actual} bytes instead of {declared}; copy the bundle again"
        )
        self.sha256, self.declared, self.actual = sha256, declared, actual


class OversizedBlob(BundleError):
    def __init__(self, sha256: str, declared: int, actual: int, name: str = ""):
        what = f"{name} ({sha256})" if name else sha256
        super().__init__(
            f"file {what} holds {actual} bytes but the manifest declares {declared}; "
            "the bundle was altered"
        )
        self.sha256, self.declared, self.actual = sha256, declared, actual


class DecompressionBomb(BundleError):
    def __init__(self, name: str, reason: str):
        super().__init__(f"entry {name!r}: {reason}; the archive was crafted to exhaust the disk")
        self.name, self.reason = name, reason


# ---------------------------------------------------------------------------- signature and manifest


class SignatureMissing(BundleError):
    def __init__(self, reason: str = "the bundle has no signature.json"):
        super().__init__(f"{reason}; unsigned bundles are never accepted")


class BadSignature(BundleError):
    def __init__(self, key_id: str, reason: str = ""):
        super().__init__(
            reason
            or f"the signature by key {key_id} does not match the manifest: the bundle was "
            "changed after it was signed, or damaged while copied"
        )
        self.key_id = key_id


class UntrustedKey(BundleError):
    def __init__(self, key_id: str):
        super().__init__(
            f"the bundle is signed by key {key_id}, which is not in this server's trust file"
        )
        self.key_id = key_id


class KeyNotAllowed(BundleError):
    def __init__(self, key_id: str, name: str, country: str, allowed: list[str]):
        who = f"key {key_id} ({name})" if name else f"key {key_id}"
        super().__init__(f"{who} may sign bundles for {', '.join(allowed)} only, not for {country}")
        self.key_id, self.country = key_id, country


class ManifestError(BundleError):
    def __init__(self, message: str):
        super().__init__(f"manifest: {message}")


class UnsupportedFormat(BundleError):
    def __init__(self, found: int, newest: int, oldest: int):
        if found > newest:
            message = (
                f"the bundle uses format version {found} but this software reads up to version "
                f"{newest}: update Imaginecole on this server, then import it again"
            )
        else:
            message = (
                f"the bundle uses format version {found}, which this software no longer reads "
                f"(oldest supported: {oldest}); ask the publisher for a new bundle"
            )
        super().__init__(message)
        self.found = found


# ---------------------------------------------------------------------------- the server's state


class Rollback(BundleError):
    def __init__(self, country: str, channel: str, version: int, installed: int):
        super().__init__(
            f"{country}/{channel}: the bundle holds version {version} but version {installed} "
            "is already installed; an older version is never imported. If that version was "
            "signed with a stolen key, the national team revokes the key in a new trust file: "
            "once it is installed here, their next bundle is accepted and no content goes "
            "offline meanwhile (docs/bundle-format.md, Key rotation and compromise)"
        )
        self.version, self.installed = version, installed


class RevokedBase(BundleError):
    def __init__(self, country: str, channel: str, key_id: str):
        super().__init__(
            f"{country}/{channel}: the content installed here was signed with key {key_id}, "
            "which the trust file now revokes; an update cannot apply to it: import the next "
            "full bundle of this channel"
        )
        self.key_id = key_id


class BaseNotInstalled(BundleError):
    def __init__(self, country: str, channel: str, base: int, installed: int | None):
        have = f"version {installed} is installed" if installed else "nothing is installed yet"
        super().__init__(
            f"{country}/{channel}: this update applies to version {base} but {have}; "
            "import the missing versions, or a full bundle, first"
        )
        self.base, self.installed = base, installed


class InsufficientSpace(BundleError):
    def __init__(self, path: str, needed: int, free: int):
        super().__init__(
            f"not enough free disk space in {path}: the import needs {human_size(needed)} "
            f"(with a safety margin) and only {human_size(free)} are free; nothing was copied"
        )
        self.needed, self.free = needed, free


class DiskFull(InsufficientSpace):
    resumable = True

    def __init__(self, path: str, needed: int, free: int):
        BundleError.__init__(
            self,
            f"the disk holding {path} is full: the import needs {human_size(needed)} free "
            f"(with a safety margin) and {human_size(free)} are free. The installed content "
            "is unchanged; free some space and import again (files already copied are kept)",
        )
        self.path, self.needed, self.free = path, needed, free


class StoreWriteError(BundleError):
    resumable = True

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"could not write to {path} ({reason}); the installed content is unchanged, "
            "and files already copied are kept for the next attempt"
        )
        self.path, self.reason = path, reason


# ---------------------------------------------------------------------------- building and keys


class BuildError(BundleError):
    """The bundle cannot be built from this input."""


class KeyFileError(BundleError):
    """A key file cannot be read or written."""


class TrustFileError(BundleError):
    """The trust file is missing or malformed."""


class TrustRollback(TrustFileError):
    def __init__(self, source: str, version: int, accepted: int):
        super().__init__(
            f"{source} is version {version} of the trust file, older than version {accepted} "
            "that this server accepted: an old copy was put back? It may trust keys revoked "
            "since. Put the newest trust file back; to go back on purpose, run "
            "imaginecole trust replace FILE"
        )
        self.version, self.accepted = version, accepted


class TrustNotSigned(TrustFileError):
    """A new trust file is not signed by enough of the root keys the server trusts."""
