"""Catching up from a USB drive: every bundle on it judged, those needed installed in order.

The national server of ``test_operations`` built v1 (full), v2 (changes since v1) and v3
(changes since v2); a school finds them on a drive, in any order, with other files.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest

from imaginecole.bundles.keys import fingerprint
from imaginecole.bundles.operations import import_bundle, remove_channel
from imaginecole.curation.operations import history_of
from imaginecole.extensions import db
from sync.bundle import load_public_key
from tests.conftest import make_app
from tests.imaginecole.bundles.test_operations import (
    REMOVED,
    Publisher,
    history,
    install,
    national_with_three_versions,
    trust,
)
from tests.imaginecole.national_helpers import Page, add_accounts, client_as, post

PAGE = "/en/admin/bundles"


@pytest.fixture(scope="module")
def publisher(tmp_path_factory) -> Publisher:
    return national_with_three_versions(tmp_path_factory.mktemp("national"))


@pytest.fixture
def drive(tmp_path) -> Path:
    path = tmp_path / "media" / "CLE-USB"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def school(tmp_path, publisher, drive):
    app = make_app(tmp_path / "school", BUNDLE_SEARCH_PATHS=(str(drive.parent),))
    trust(app, publisher)
    add_accounts(app, [("admin", "admin", None)])
    return app


def put(drive: Path, national: Publisher, *versions: int) -> dict[int, Path]:
    """Copy bundles onto the drive (newest first, so that the file order is no help)."""
    copied = {}
    for version in sorted(versions, reverse=True):
        source = national.bundles[version].path
        copied[version] = Path(shutil.copy(source, drive / f"{version}-{source.name}"))
    return copied


def found(page: str) -> list[tuple[str, str]]:
    """(version, status) of each bundle the page lists, in the order shown ("?" unreadable)."""
    items = page.split('id="found"', 1)[1].split("</ul>", 1)[0]
    return [
        (version or "?", status)
        for status, version in re.findall(
            r'<li data-status="(\w+)">\s*(?:<strong>ZZ · version (\d+)</strong>)?', items
        )
    ]


def test_a_new_school_installs_the_whole_chain_in_order_in_one_action(school, publisher, drive):
    put(drive, publisher, 1, 2, 3)
    admin = client_as(school, "admin")
    page = admin.get(PAGE).get_data(as_text=True)
    assert found(page) == [("1", "install"), ("2", "install"), ("3", "install")]
    assert "Install all 3 bundles" in page
    assert "To install (step 3)" in page

    response = post(admin, "/en/admin/bundles/install-all")
    assert response.status_code == 302
    assert history(school) == [("zz", "main", 1, None), ("zz", "main", 2, 1), ("zz", "main", 3, 2)]
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Installed version 3 of ZZ" in page
    assert found(page) == [("1", "older"), ("2", "older"), ("3", "installed")]
    assert "Nothing on the drive is newer than what this server has." in page
    assert 'action="/en/admin/bundles/install-all"' not in page


def test_a_school_behind_is_told_what_is_missing_not_to_install_the_full_bundle_again(
    school, publisher, drive
):
    install(school, publisher, 1)
    put(drive, publisher, 3)
    admin = client_as(school, "admin")
    page = admin.get(PAGE).get_data(as_text=True)
    assert found(page) == [("3", "needs")]
    assert "Needs version 2 first, which is not on the drive." in page
    assert "install-all" not in page

    # Installing it anyway (the single-bundle form) names the version missing.
    [path] = drive.iterdir()
    response = post(admin, "/en/admin/bundles/import", {"path": str(path)})
    text = Page(response.get_data(as_text=True)).text
    assert response.status_code == 400
    assert "changes since version 2, and this server has version 1" in text
    assert "install the versions in between first" in text
    assert "full bundle first" not in text
    assert history(school) == [("zz", "main", 1, None)]

    put(drive, publisher, 2)
    page = admin.get(PAGE).get_data(as_text=True)
    assert found(page) == [("2", "install"), ("3", "install")]
    post(admin, "/en/admin/bundles/install-all")
    assert history(school)[-1] == ("zz", "main", 3, 2)


def test_what_each_version_changes_is_shown_before_it_is_installed(school, publisher, drive):
    install(school, publisher, 1)
    put(drive, publisher, 2)
    page = Page(client_as(school, "admin").get(PAGE).get_data(as_text=True)).text
    assert "What it changes" in page
    assert "Changed: Le cycle de l'eau" in page
    assert "Removed: Le royaume de Zed" in page and REMOVED not in page


def test_a_bundle_of_another_country_is_refused_and_nothing_is_offered(tmp_path, publisher, drive):
    other = make_app(tmp_path / "yy-school", BUNDLE_SEARCH_PATHS=(str(drive.parent),))
    trust(other, publisher, countries=("yy",))
    add_accounts(other, [("admin", "admin", None)])
    put(drive, publisher, 1)
    admin = client_as(other, "admin")
    page = admin.get(PAGE).get_data(as_text=True)
    assert found(page) == [("?", "refused")]
    assert "The key that signed the bundle may not publish for this country." in page

    response = post(admin, "/en/admin/bundles/install-all")
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing to install: this server is up to date with the drive." in page
    assert history(other) == []


def damage_a_blob(path: Path) -> None:
    """Flip one byte inside the first blob's data: the manifest still reads, the blob does not."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.startswith("blobs/"))
    with open(path, "r+b") as file:
        file.seek(info.header_offset + 26)
        name_length, extra_length = (int.from_bytes(file.read(2), "little") for _ in range(2))
        file.seek(info.header_offset + 30 + name_length + extra_length)
        byte = file.read(1)
        file.seek(-1, 1)
        file.write(bytes([byte[0] ^ 0xFF]))


def test_install_all_stops_at_a_refused_bundle_keeping_those_before_it(school, publisher, drive):
    copied = put(drive, publisher, 1, 2, 3)
    damage_a_blob(copied[2])
    admin = client_as(school, "admin")
    response = post(admin, "/en/admin/bundles/install-all")
    text = Page(response.get_data(as_text=True)).text
    assert response.status_code == 400
    assert "The bundle is damaged or incomplete" in text
    assert "Installed before it: version 1." in text
    assert "This bundle and the 1 after it were not installed" in text
    assert history(school) == [("zz", "main", 1, None)]


def test_the_command_installs_a_folder_in_order_then_has_nothing_to_do(school, publisher, drive):
    put(drive, publisher, 1, 2, 3)
    runner = school.test_cli_runner()
    result = runner.invoke(args=["bundle", "import", str(drive)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Installed zz")]
    assert [line.split(":")[0] for line in lines] == [
        "Installed zz main v1",
        "Installed zz main v2",
        "Installed zz main v3",
    ]
    assert "to install, step 1" in result.output

    again = runner.invoke(args=["bundle", "import", str(drive)])
    assert again.exit_code == 0, again.output
    assert "Nothing to install: this server is up to date with these bundles." in again.output
    assert "installed already" in again.output


def test_the_command_names_the_missing_version_and_fails(school, publisher, drive):
    with school.app_context():
        import_bundle(publisher.bundles[1].path)
        db.session.remove()
    put(drive, publisher, 3)
    result = school.test_cli_runner().invoke(args=["bundle", "import", str(drive)])
    assert "needs version 2 first, which is not here" in result.output
    assert "Nothing to install" in result.output
    empty = drive.parent / "empty"
    empty.mkdir()
    result = school.test_cli_runner().invoke(args=["bundle", "import", str(empty)])
    assert result.exit_code == 1 and "No bundle (*.icb) in" in result.output


# ---------------------------------------------------------------------------- removing


def test_removing_a_country_shows_what_disappears_first_and_a_full_bundle_brings_it_back(
    school, publisher, drive
):
    install(school, publisher, 1)
    admin = client_as(school, "admin")
    page = admin.get(PAGE).get_data(as_text=True)
    confirm = "/en/admin/bundles/remove/confirm?country=zz&amp;channel=main"
    assert f'href="{confirm}"' in page
    assert 'action="/en/admin/bundles/remove"' not in page  # no removal in one click

    # A form without the confirmation (an old page, a forged post) only leads to it.
    response = post(admin, "/en/admin/bundles/remove", {"country": "zz", "channel": "main"})
    assert response.status_code == 302 and "/remove/confirm" in response.headers["Location"]
    assert history(school) == [("zz", "main", 1, None)]

    text = Page(admin.get(confirm.replace("&amp;", "&")).get_data(as_text=True)).text
    assert "This deletes these 3 modules from this server" in text
    assert "Le royaume de Zed zz-histoire-royaume" in text
    assert "installed versions (1)" in text
    assert "Remove these 3 modules" in text

    response = post(
        admin, "/en/admin/bundles/remove", {"country": "zz", "channel": "main", "confirmed": "yes"}
    )
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Removed 3 modules of ZZ." in page
    assert "To bring them back, install a full bundle of ZZ again" in page
    assert history(school) == []
    assert school.test_client().get("/fr/modules/zz-maths-fractions/").status_code == 404

    put(drive, publisher, 1)
    post(admin, "/en/admin/bundles/install-all")
    assert history(school) == [("zz", "main", 1, None)]
    assert school.test_client().get("/fr/modules/zz-maths-fractions/").status_code == 200


def test_the_confirmation_of_a_channel_not_installed_is_not_found(school):
    admin = client_as(school, "admin")
    assert admin.get("/en/admin/bundles/remove/confirm?country=zz&channel=main").status_code == 404


def test_the_command_lists_what_it_would_remove_before_asking(school, publisher):
    install(school, publisher, 1)
    result = school.test_cli_runner().invoke(
        args=["bundle", "remove", "--country", "zz"], input="n\n"
    )
    assert result.exit_code == 1 and "Aborted" in result.output
    assert "  zz-histoire-royaume" in result.output
    assert "Remove these 3 modules of zz (main)" in result.output
    assert history(school) == [("zz", "main", 1, None)]


# ---------------------------------------------------------------------------- what was installed


def module_history(app, uid: str) -> list[tuple]:
    with app.app_context():
        return [
            (
                row.version,
                row.origin,
                row.reference,
                row.changed_by.name if row.changed_by else None,
            )
            for row in history_of(uid)
        ]


def test_each_version_a_bundle_brings_is_in_the_modules_history_with_its_signing_key(
    school, publisher, drive
):
    put(drive, publisher, 1, 2, 3)
    post(client_as(school, "admin"), "/en/admin/bundles/install-all")
    key = fingerprint(load_public_key(publisher.public_key_path))
    signed = f"(main), signed by {key}"
    assert module_history(school, "zz-sciences-eau") == [
        (2, "bundle", f"bundle v2 of zz {signed}", "Admin"),
        (1, "bundle", f"bundle v1 of zz {signed}", "Admin"),
    ]
    # A delta leaves alone the modules it does not carry; v3 changed the fractions again.
    assert module_history(school, "zz-maths-fractions") == [
        (2, "bundle", f"bundle v3 of zz {signed}", "Admin"),
        (1, "bundle", f"bundle v1 of zz {signed}", "Admin"),
    ]
    assert module_history(school, "zz-sciences-atlas") == [
        (1, "bundle", f"bundle v3 of zz {signed}", "Admin")
    ]

    # The same full bundle again changes nothing, history included.
    with school.app_context():
        assert import_bundle(publisher.bundles[3].path).noop
    assert len(module_history(school, "zz-sciences-eau")) == 2


def test_a_school_reads_a_modules_history_on_its_own_side(tmp_path, publisher):
    school = make_app(tmp_path / "school", SERVER_ROLE="school")
    trust(school, publisher)
    add_accounts(school, [("admin", "admin", None), ("teacher", "teacher", "zz")])
    install(school, publisher, 1, 2)  # by command: nobody's name
    page = client_as(school, "admin").get("/en/national/modules/zz-sciences-eau/history")
    assert page.status_code == 200
    text = Page(page.get_data(as_text=True)).text
    assert "Bundle bundle v2 of zz (main), signed by" in text
    assert "Edit the module" not in text  # the national tools stay on their side
    assert client_as(school, "admin").get("/en/national/zz/modules").status_code == 404
    teacher = client_as(school, "teacher").get("/en/national/modules/zz-sciences-eau/history")
    assert teacher.status_code == 403


def test_a_module_a_bundle_removes_keeps_its_history_on_the_page_and_in_the_command(
    school, publisher, drive
):
    put(drive, publisher, 1, 2)
    post(client_as(school, "admin"), "/en/admin/bundles/install-all")
    key = fingerprint(load_public_key(publisher.public_key_path))
    removed_by = f"removed by bundle v2 of zz (main), signed by {key}"
    assert module_history(school, REMOVED) == [
        (2, "bundle", removed_by, "Admin"),
        (1, "bundle", f"bundle v1 of zz (main), signed by {key}", "Admin"),
    ]

    page = client_as(school, "admin").get(f"/en/national/modules/{REMOVED}/history")
    assert page.status_code == 200
    text = Page(page.get_data(as_text=True)).text
    assert "Version 2 · Removed from this server" in text
    assert f"Bundle {removed_by}" in text and "Deleted" in text
    command = school.test_cli_runner().invoke(args=["module", "history", REMOVED])
    assert command.exit_code == 0, command.output
    assert command.output.splitlines()[0].endswith(
        f"bundle ({removed_by})  admin@example.org: deleted"
    )

    # A module never installed here still has no history page.
    missing = client_as(school, "admin").get("/en/national/modules/zz-nothing/history")
    assert missing.status_code == 404


def test_removing_a_channel_writes_who_removed_each_module_in_its_history(school, publisher):
    install(school, publisher, 1)
    with school.app_context():
        assert remove_channel("zz") == 3
    assert module_history(school, "zz-sciences-eau")[0] == (
        2,
        "bundle",
        "channel main of zz removed from this server",
        None,
    )
    page = client_as(school, "admin").get("/en/national/modules/zz-sciences-eau/history")
    assert page.status_code == 200
    assert "Removed from this server" in page.get_data(as_text=True)
    # Every language of the interface says it: here Arabic.
    page = client_as(school, "admin").get("/ar/national/modules/zz-sciences-eau/history")
    assert "أُزيلت من هذا الخادم" in page.get_data(as_text=True)


def log_items(page: str) -> list[str]:
    """The text of each item of the installation log, newest first."""
    items = page.split('id="installation-log"', 1)[1].split("</ol>", 1)[0]
    return [Page(item).text for item in items.split("<li ")[1:]]


def test_the_school_keeps_what_it_installed_when_by_whom_and_each_changelog(
    school, publisher, drive
):
    admin = client_as(school, "admin")
    assert "No bundle has been installed on this server." in admin.get(PAGE).get_data(as_text=True)
    install(school, publisher, 1)  # by command
    put(drive, publisher, 2, 3)
    post(admin, "/en/admin/bundles/install-all")
    page = admin.get(PAGE).get_data(as_text=True)
    newest, middle, oldest = log_items(page)
    assert "ZZ · version 3 (changes since version 2)" in newest
    assert "by Admin: 2 modules updated, 0 removed." in newest
    assert "Added: L'atlas des pluies" in newest
    assert "Changed:" in newest and "Version 2" not in newest  # only what v3 brought
    assert "by Admin: 1 modules updated, 1 removed." in middle
    assert "Removed:" in middle and "Version 2" in middle
    assert "ZZ · version 1 (full)" in oldest and "by a command on the server" in oldest
    assert 'href="/en/national/modules/zz-sciences-atlas/history"' in page

    # Removing the country keeps the record, with a line saying who removed it.
    post(
        admin, "/en/admin/bundles/remove", {"country": "zz", "channel": "main", "confirmed": "yes"}
    )
    page = admin.get(PAGE).get_data(as_text=True)
    removed, *installs = log_items(page)
    assert "by Admin: 3 modules." in removed and "version 3" in removed
    assert len(installs) == 3

    french = admin.get("/fr/admin/bundles").get_data(as_text=True)
    assert "Versions installées et ce qu'elles ont changé" in Page(french).text


def test_an_admin_of_another_country_cannot_remove_this_ones_content(school, publisher):
    install(school, publisher, 1)
    add_accounts(school, [("chef-sn", "admin", "sn")])
    admin = client_as(school, "chef-sn")
    assert "/remove/confirm" not in admin.get(PAGE).get_data(as_text=True)
    assert admin.get("/en/admin/bundles/remove/confirm?country=zz&channel=main").status_code == 403
    confirmed = {"country": "zz", "channel": "main", "confirmed": "yes"}
    refused = post(admin, "/en/admin/bundles/remove", confirmed)
    assert refused.status_code == 403 and "error 403" in refused.get_data(as_text=True)
    assert history(school) == [("zz", "main", 1, None)]
    assert school.test_client().get("/fr/modules/zz-maths-fractions/").status_code == 200


def test_bundles_built_here_are_listed_with_sizes_in_the_reader_s_number_format(publisher):
    add_accounts(publisher.app, [("admin-sizes", "admin", None)])
    admin = client_as(publisher.app, "admin-sizes")
    french = (
        admin.get("/fr/admin/bundles").get_data(as_text=True).split("Construits sur ce serveur")
    )
    english = admin.get("/en/admin/bundles").get_data(as_text=True).split("Built on this server")
    # Three bundles, each a tenth of a megabyte at least, with a decimal comma in French.
    assert len(re.findall(r"<td>\d+,\d Mo</td>", french[1])) == 3
    assert len(re.findall(r"<td>\d+\.\d MB</td>", english[1])) == 3
