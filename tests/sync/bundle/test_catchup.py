"""Planning a catch-up from the bundles on a drive: statuses and the order to install them."""

from __future__ import annotations

from pathlib import Path

from sync.bundle import Found, InstalledState, Manifest, UntrustedKey, plan_catch_up
from sync.bundle.catchup import INSTALL, INSTALLED, NEEDS, NOT_NEEDED, OLDER, REFUSED
from sync.model import FileEntry


def manifest(version: int, base: int | None = None, size: int = 100, country: str = "zz"):
    sha = f"{version:032d}{base or 0:032d}"
    return Manifest(
        country=country,
        channel="main",
        version=version,
        base_version=base,
        created="2026-01-01T00:00:00Z",
        publisher_key_id="0123456789abcdef",
        curriculum=None,  # the plan reads versions and sizes only
        modules=[],
        tombstones=[],
        files={sha: FileEntry(size=size, media_type="image/png", name="x.png")},
        index={},
    )


def plan(bundles: dict[str, Manifest | Exception], **installed: int):
    found = [
        Found(Path(name), problem=item) if isinstance(item, Exception) else Found(Path(name), item)
        for name, item in bundles.items()
    ]
    state = InstalledState({(cc, "main"): v for cc, v in installed.items()})
    return {c.path.name: (c.status, c.step, c.needs) for c in plan_catch_up(found, state)}


def test_a_school_with_the_full_bundle_installs_the_updates_in_order_whatever_the_file_order():
    result = plan(
        {"v4": manifest(4, 3), "v2": manifest(2, 1), "v1": manifest(1), "v3": manifest(3, 2)},
        zz=1,
    )
    assert result == {
        "v1": (INSTALLED, None, None),
        "v2": (INSTALL, 1, None),
        "v3": (INSTALL, 2, None),
        "v4": (INSTALL, 3, None),
    }


def test_a_new_school_takes_the_newest_full_bundle_and_skips_what_it_makes_useless():
    result = plan(
        {"v1": manifest(1), "v2": manifest(2, 1), "v3": manifest(3), "v4": manifest(4, 3)}
    )
    assert result == {
        "v1": (NOT_NEEDED, None, None),
        "v2": (NOT_NEEDED, None, None),
        "v3": (INSTALL, 1, None),
        "v4": (INSTALL, 2, None),
    }


def test_among_equal_numbers_of_steps_the_smaller_bundles_win():
    result = plan({"full": manifest(3, size=10_000), "delta": manifest(3, 2, size=10)}, zz=2)
    assert result["delta"][0] == INSTALL and result["full"][0] == NOT_NEEDED


def test_a_missing_update_is_named_and_what_follows_it_waits():
    result = plan({"v3": manifest(3, 2), "v4": manifest(4, 3)}, zz=1)
    assert result == {"v3": (NEEDS, None, 2), "v4": (NEEDS, None, 3)}


def test_older_and_unreadable_bundles_are_told_apart_and_never_planned():
    result = plan(
        {"v1": manifest(1), "bad": UntrustedKey("0011223344556677"), "v3": manifest(3)}, zz=2
    )
    assert result == {
        "v1": (OLDER, None, None),
        "bad": (REFUSED, None, None),
        "v3": (INSTALL, 1, None),
    }


def test_each_country_is_planned_against_its_own_installed_version():
    result = plan({"zz2": manifest(2, 1), "yy2": manifest(2, 1, country="yy")}, zz=1)
    assert result["zz2"][0] == INSTALL
    assert result["yy2"] == (NEEDS, None, 1)


def test_content_from_a_revoked_key_takes_a_full_bundle_even_of_its_own_version():
    state = InstalledState({("zz", "main"): 3}, {("zz", "main"): "badbadbadbadbad0"})
    found = [Found(Path("full3"), manifest(3)), Found(Path("d4"), manifest(4, 3))]
    result = {c.path.name: (c.status, c.step, c.needs) for c in plan_catch_up(found, state)}
    assert result == {"full3": (INSTALL, 1, None), "d4": (INSTALL, 2, None)}

    only_delta = plan_catch_up([Found(Path("d4"), manifest(4, 3))], state)
    assert (only_delta[0].status, only_delta[0].needs) == (NEEDS, None)
