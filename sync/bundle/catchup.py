"""Which of the bundles found on a drive to install, and in what order, to catch up at once.

A school several versions behind may find on a stick a full bundle, a chain of updates, and
bundles it has already installed or that are meant for another starting point. Each bundle
gets a status a person can act on, and those worth installing a place in one order: the one
that reaches the newest version reachable, in the fewest imports (the fewest bytes among
equals). Only manifests are read; ``stage_bundle`` still checks each bundle as it is imported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sync.bundle.manifest import Manifest
from sync.bundle.stage import InstalledState
from sync.errors import BundleError

# What a person is told about each bundle found.
INSTALL = "install"  # part of the plan: installed by "install all", at its ``step``
INSTALLED = "installed"  # this very version is installed
OLDER = "older"  # older than the version installed: never imported again
NOT_NEEDED = "not_needed"  # the plan reaches its version, or a newer one, another way
NEEDS = "needs"  # an update whose base is neither installed nor reachable from this drive
REFUSED = "refused"  # unreadable, or not signed by a key trusted for its country


@dataclass
class Found:
    """A bundle on the drive: its authenticated manifest, or why it could not be read."""

    path: Path
    manifest: Manifest | None = None
    problem: BundleError | None = None


@dataclass
class Candidate:
    path: Path
    status: str
    manifest: Manifest | None = None
    problem: BundleError | None = None
    step: int | None = None  # for INSTALL: 1 for the first to install, 2 …
    installed: int | None = None  # the version of its country and channel installed here
    # For NEEDS: the version the update applies to; None when only a full bundle can follow
    # (the installed content came from a key revoked since).
    needs: int | None = None


def plan_catch_up(found: list[Found], installed: InstalledState) -> list[Candidate]:
    """Return every bundle found with its status, those to install numbered in their order."""
    candidates = [
        Candidate(item.path, REFUSED, problem=item.problem)
        if item.manifest is None
        else Candidate(item.path, "", manifest=item.manifest)
        for item in found
    ]
    channels: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        if candidate.manifest is not None:
            channels[(candidate.manifest.country, candidate.manifest.channel)].append(candidate)
    step = 0
    for (country, channel), group in sorted(channels.items()):
        have = installed.version(country, channel)
        revoked = installed.revoked_key(country, channel) is not None
        plan = _best_path(group, have or 0, revoked)
        reached = plan[-1].manifest.version if plan else (have or 0)
        for candidate in plan:
            step += 1
            candidate.status, candidate.step = INSTALL, step
        for candidate in group:
            candidate.installed = have
            if candidate.status:
                continue
            version = candidate.manifest.version
            if have is not None and version < have:
                candidate.status = OLDER
            elif version == have and not revoked:
                candidate.status = INSTALLED
            elif version <= reached:
                candidate.status = NOT_NEEDED
            else:  # only an update can be out of reach: a full bundle always applies
                candidate.status = NEEDS
                candidate.needs = None if revoked else candidate.manifest.base_version
    return candidates


def _best_path(group: list[Candidate], start: int, revoked: bool) -> list[Candidate]:
    """Return the bundles leading from ``start`` to the newest version reachable, in order.

    Versions only grow along a path, so the best way to each version is known once every
    smaller version has been seen. An update applies on its base version only, a full bundle
    to anything older. Content from a revoked key takes no update, and a full bundle of its
    very version replaces it: it starts just below its version, where no update starts.
    """
    origin: float = start - 0.5 if revoked else start
    best: dict[float, tuple[int, int, list[Candidate]]] = {origin: (0, 0, [])}
    unique = {}
    for candidate in group:  # the same bundle copied twice on the stick counts once
        manifest = candidate.manifest
        unique.setdefault((manifest.version, manifest.base_version), candidate)
    bundles = list(unique.values())
    for version in sorted({origin} | {c.manifest.version for c in bundles}):
        if version not in best:
            continue
        steps, size, path = best[version]
        for candidate in bundles:
            manifest = candidate.manifest
            if manifest.is_delta:
                applies = manifest.base_version == version
            else:
                applies = manifest.version > version
            if not applies:
                continue
            option = (steps + 1, size + manifest.total_size, path + [candidate])
            known = best.get(manifest.version)
            if known is None or option[:2] < known[:2]:
                best[manifest.version] = option
    return best[max(best)][2]
