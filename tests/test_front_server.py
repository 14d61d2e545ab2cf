"""A national server on two app hosts behind the shipped nginx configuration, end to end.

PostgreSQL (the suite's, or a private cluster), nginx (deploy/nginx/imaginecole.conf, TLS),
two ``imaginecole serve`` processes with data folders of their own and one shared folder. What
one host does, the other serves at once; sign-in through nginx sees the real client; an import
killed while holding the import lock leaves every host serving the old content.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy
from PIL import Image
from sqlalchemy.engine import make_url

from imaginecole.bundles.operations import build_country_bundle
from imaginecole.extensions import db
from imaginecole.media.views import MEDIA_POLICY
from imaginecole.security import CONTENT_SECURITY_POLICY
from sync.container.keys import load_public_key, trust_entry_toml
from tests import conftest, postgresql
from tests.conftest import TEST_CONTENT, give_signing_key, load_content, make_app
from tests.front_server import (
    Answer,
    Nginx,
    make_certificate,
    nginx_binary,
    render_site,
    request,
    start_nginx,
    stop_nginx,
)
from tests.live_server import LiveServer, console_script, free_ports, start_server, stop_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        nginx_binary() is None, reason="nginx is not installed (bash .ci/test does)"
    ),
]

REPO_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
EDITOR = "editor@example.org"
LESSON = "/fr/modules/zz-sciences-eau/evaporation"
FOG = "le brouillard se lève au-dessus de la mare"  # added to that lesson in v2
RAIN = "Une averse remplit les calebasses"  # added in v3
SENT_BY_THE_APP = (
    "Cache-Control",
    "Content-Disposition",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
)
HOST_START_TIMEOUT = 90.0  # seconds
HAS_POSTGRESQL_SEARCH = importlib.util.find_spec("imaginecole.search.postgresql_engine") is not None


# ---------------------------------------------------------------------------- the servers


@dataclass
class Site:
    nginx: Nginx
    hosts: dict[str, LiveServer]
    settings: dict[str, str]
    tls: Path
    bundles: dict[int, Path]
    installed: int = 0  # the version of zz the hosts serve

    def get(self, path: str, **kwargs) -> Answer:
        return request(self.nginx.port, path, tls=self.tls, **kwargs)

    @property
    def origin(self) -> str:
        return f"https://learn.example.org:{self.nginx.port}"

    def env(self, host: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGINECOLE_")}
        env.update(self.settings, IMAGINECOLE_DATA_DIR=str(self.hosts[host].data_dir))
        env["PYTHONPATH"] = str(REPO_ROOT)
        return env

    def command(
        self, host: str, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run ``imaginecole ARGS`` as host ``host`` would, ``input`` on its standard input."""
        return subprocess.run(
            [str(console_script("imaginecole")), *args],
            env=self.env(host),
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A database of its own: on the suite's PostgreSQL, or on a private cluster started here."""
    if conftest.DATABASES is not None:
        yield conftest.DATABASES.url_for(Path(tempfile.mkdtemp(prefix="imaginecole-hosts-")))
        return
    cluster = Path(tempfile.mkdtemp(prefix="imaginecole-pg-"))
    try:
        server = postgresql.start(cluster)
        admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text('CREATE DATABASE "national"'))
        admin.dispose()
        yield make_url(server).set(database="national").render_as_string(hide_password=False)
    finally:
        postgresql.stop(cluster)


def write_png(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), colour).save(path)


def publish_bundles(root: Path) -> tuple[dict[int, Path], Path]:
    """Build v1 (the zz content), v2 (a lesson edited, an image added) and v3 (edited again)."""
    content = root / "content"
    shutil.copytree(TEST_CONTENT, content)
    national = make_app(root / "national")
    give_signing_key(national)
    module = content / "zz" / "modules" / "zz-sciences-eau"
    bundles: dict[int, Path] = {}
    for version in (1, 2, 3):
        if version == 2:
            write_png(module / "media" / "nuage.png", (40, 90, 200))
            with (module / "01-evaporation.md").open("a", encoding="utf-8") as out:
                out.write(f"\nLe matin, {FOG}.\n\n![Un nuage](media/nuage.png)\n")
        if version == 3:
            with (module / "01-evaporation.md").open("a", encoding="utf-8") as out:
                out.write(f"\n{RAIN}.\n")
        if version > 1:
            toml = module / "module.toml"
            toml.write_text(
                re.sub(r"(?m)^version = \d+$", f"version = {version}", toml.read_text()),
                encoding="utf-8",
            )
        assert not load_content(national, content).problems
        with national.app_context():
            row = build_country_bundle("zz", since=version - 1 if version > 1 else None)
            db.session.commit()
            bundles[version] = Path(row.path)
    with national.app_context():
        db.engine.dispose()
    return bundles, root / "national" / "keys" / "publisher.pub"


@pytest.fixture(scope="module")
def site(tmp_path_factory, database_url) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hosts")
    bundles, public_key = publish_bundles(root / "publisher")
    shared = root / "shared"
    shared.mkdir()
    (shared / "trust.toml").write_text(
        "format = 1\n\n" + trust_entry_toml(load_public_key(public_key), ["zz"], "Zedland"),
        encoding="utf-8",
    )
    settings = {
        "IMAGINECOLE_DATABASE_URL": database_url,
        "IMAGINECOLE_SHARED_DIR": str(shared),
        "IMAGINECOLE_PROXIES": "1",
        "IMAGINECOLE_ACCEL_REDIRECT": "/_shared/",
        "IMAGINECOLE_SESSION_COOKIE_SECURE": "true",
    }
    if HAS_POSTGRESQL_SEARCH:
        settings["IMAGINECOLE_SEARCH_ENGINE"] = "postgresql"
    hosts: dict[str, LiveServer] = {}
    nginx = None
    try:
        for name in ("a", "b"):
            data = root / f"host-{name}"
            data.mkdir()
            hosts[name] = start_server(
                data,
                root / f"host-{name}.log",
                ("--workers", "1", "--threads", "4"),
                settings=settings,
                # The first start creates every table of an empty database.
                start_timeout=HOST_START_TIMEOUT,
            )
        https_port, http_port = free_ports(2)
        tls = make_certificate(root / "tls")
        upstreams = [f"127.0.0.1:{server.port}" for server in hosts.values()]
        site_text = render_site(upstreams, https_port, http_port, shared, tls)
        nginx = start_nginx(root / "nginx", site_text, https_port, http_port)
        yield Site(nginx, hosts, settings, tls, bundles)
    finally:
        if nginx is not None:
            stop_nginx(nginx)
        for server in hosts.values():
            stop_server(server)


def served_by(site: Site, path: str, requests: int) -> set[int]:
    """Return the ports of the app hosts nginx sent ``path`` to, once ``requests`` are logged.

    nginx writes a log line just after its answer: wait for it.
    """
    deadline = time.monotonic() + 5
    while True:
        lines = [
            line.partition(" ")[2]
            for line in (site.nginx.folder / "access.log").read_text().splitlines()
            if line.partition(" ")[0] == path
        ]
        if len(lines) >= requests or time.monotonic() > deadline:
            return {int(port) for line in lines for port in re.findall(r":(\d+)", line)}
        time.sleep(0.05)


def one_of_each(answer: Answer) -> dict[str, str]:
    """Return the security and caching headers of ``answer``, each sent exactly once."""
    found = {}
    for name in SENT_BY_THE_APP:
        values = answer.headers.get_all(name) or []
        assert len(values) == 1, f"{name}: {values}"
        found[name] = values[0]
    return found


def install(site: Site, host: str, version: int) -> None:
    """Import bundle ``version`` through ``host``, and those before it not yet imported."""
    for number in range(site.installed + 1, version + 1):
        done = site.command(host, "bundle", "import", str(site.bundles[number]))
        assert done.returncode == 0, done.stdout + done.stderr
        site.installed = number


# ---------------------------------------------------------------------------- the tests


def test_a_bundle_imported_through_host_a_is_served_by_both_hosts_at_once(site):
    install(site, "a", 1)
    before = site.get(LESSON)
    assert before.status == 200 and FOG not in before.text

    install(site, "a", 2)
    # Round robin: four requests reach both hosts, and every one shows the change.
    pages = [site.get(LESSON) for _ in range(4)]
    assert all(page.status == 200 and FOG in page.text for page in pages)
    assert served_by(site, LESSON, 5) == {server.port for server in site.hosts.values()}

    media = set(re.findall(r'(?:src|href)="(/media/[0-9a-f]{64}\.[a-z]+)"', pages[0].text))
    assert media, "the new image"
    for url in sorted(media):
        for _ in range(2):  # once through each host
            answer = site.get(url)
            assert answer.status == 200, url
            assert answer.body[:4] in (b"\x89PNG", b"RIFF") or answer.body[:2] == b"\xff\xd8"
            assert one_of_each(answer) == {
                "Cache-Control": "public, max-age=31536000, immutable",
                "Content-Disposition": "inline",
                "Content-Security-Policy": MEDIA_POLICY,
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "same-origin",
            }
    assert served_by(site, url, 2) == {server.port for server in site.hosts.values()}

    # Each host only said where the file is; nginx sent the bytes from the shared folder.
    direct = request(site.hosts["b"].port, url)
    assert direct.status == 200 and direct.body == b""
    assert direct.headers["X-Accel-Redirect"].startswith("/_shared/blobs/")
    # An internal location cannot be asked for from outside.
    assert site.get(direct.headers["X-Accel-Redirect"]).status == 404
    assert site.get("/media/" + "0" * 64 + ".png").status == 404


def test_static_files_and_pages_come_compressed_and_plain_http_moves_to_https(site):
    page = site.get("/fr/", headers={"Accept-Encoding": "gzip"})
    assert page.status == 200 and page.headers["Content-Encoding"] == "gzip"
    style = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', page_text(site, "/fr/"))
    assert style, "the layout links its stylesheet"
    css = site.get(style.group(1), headers={"Accept-Encoding": "gzip"})
    assert css.status == 200 and css.headers["Content-Encoding"] == "gzip"
    assert "immutable" in css.headers["Cache-Control"]
    assert not served_by(site, style.group(1), 1), "nginx sends static files itself"

    moved = request(site.nginx.http_port, "/fr/", host="learn.example.org")
    assert moved.status == 301
    assert moved.headers["Location"] == "https://learn.example.org/fr/"


def page_text(site: Site, path: str) -> str:
    answer = site.get(path)
    assert answer.status == 200, path
    return answer.text


def login(site: Site, email: str, password: str, source: str = "127.0.0.1", **headers) -> Answer:
    return site.get(
        "/en/login",
        method="POST",
        body=urlencode({"email": email, "password": password}).encode(),
        headers={
            "Origin": site.origin,
            "Content-Type": "application/x-www-form-urlencoded",
            **headers,
        },
        source=source,
    )


@pytest.fixture(scope="module")
def editor(site) -> str:
    """A national editor of zz, created through host A."""
    install(site, "a", 1)  # the country
    made = site.command(
        "a", "users", "create", "--email", EDITOR, "--name", "Awa", "--role", "editor",
        "--country", "zz", "--password-stdin", input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    return EDITOR


def cookies(answer: Answer) -> str:
    return "; ".join(
        value.split(";")[0]
        for key, value in answer.headers.items()
        if key.lower() == "set-cookie"  # any case, as HTTP allows
    )


def test_sign_in_through_nginx_works_on_both_hosts_and_throttles_the_real_client(site, editor):
    signed = login(site, EDITOR, PASSWORD)
    assert signed.status == 302, signed.text[:500]
    assert "Secure" in signed.headers["Set-Cookie"]
    # Both hosts know the session: they share the secret that signs it.
    for _ in range(4):
        page = site.get("/en/national/", headers={"Cookie": cookies(signed)})
        assert page.status == 200 and "Awa" in page.text
    assert served_by(site, "/en/national/", 4) == {server.port for server in site.hosts.values()}

    # A guesser at one address, even one that forges X-Forwarded-For, is held back...
    for attempt in range(20):
        failed = login(site, f"guess{attempt}@example.org", "wrong password!", source="127.0.0.2")
        assert failed.status == 400, failed.status  # wrong password, counted
    held = login(site, EDITOR, PASSWORD, source="127.0.0.2", **{"X-Forwarded-For": "127.0.0.7"})
    assert held.status == 429
    # ...and nobody else is.
    assert login(site, EDITOR, PASSWORD, source="127.0.0.3").status == 302


def test_a_bundle_built_on_host_a_is_sent_by_nginx_from_the_shared_folder(site, editor):
    install(site, "a", 1)
    for command in (("keys", "generate"), ("bundle", "build", "--country", "zz")):
        done = site.command("a", *command)
        assert done.returncode == 0, done.stdout + done.stderr
    signed = login(site, EDITOR, PASSWORD, source="127.0.0.4")
    assert signed.status == 302
    publish = site.get("/en/national/zz/publish", headers={"Cookie": cookies(signed)}).text
    [link] = re.findall(r'href="(/en/national/zz/bundles/\d+/download)"', publish)
    [built] = (Path(site.settings["IMAGINECOLE_SHARED_DIR"]) / "bundles").glob("*")
    data = built.read_bytes()

    for _ in range(2):  # through each host
        whole = site.get(link, headers={"Cookie": cookies(signed)})
        assert whole.status == 200 and whole.body == data
        headers = one_of_each(whole)
        assert headers["Content-Disposition"] == f"attachment; filename={built.name}"
        assert "private" in headers["Cache-Control"]
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Frame-Options"] == "DENY"
    assert served_by(site, link, 2) == {server.port for server in site.hosts.values()}
    # nginx answers Range requests itself: a cut download resumes.
    part = site.get(link, headers={"Cookie": cookies(signed), "Range": "bytes=10-19"})
    assert part.status == 206 and part.body == data[10:20]
    # Without a session, the app says no and nginx sends nothing.
    refused = site.get(link)
    assert refused.status == 302 and refused.body != data


CRASHER = textwrap.dedent(
    """
    import sys, time

    import imaginecole.__main__ as entry
    import imaginecole.content.operations as content

    write_module = content._write_module

    def stop_in_the_middle(*args, **kwargs):
        written = write_module(*args, **kwargs)
        # The module is written in the open transaction; the test kills the process here.
        print("applying", flush=True)
        time.sleep(300)
        return written

    content._write_module = stop_in_the_middle
    sys.argv = ["imaginecole", "bundle", "import", sys.argv[1]]
    entry.main()
    """
)


def test_an_import_killed_on_host_a_leaves_host_b_serving_and_importing(site):
    install(site, "a", 2)
    crasher = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(site.bundles[3])],
        env=site.env("a"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = crasher.stdout.readline()
        assert line.strip() == "applying", crasher.stderr.read()
        # Host B sees host A's import lock...
        refused = site.command("b", "bundle", "import", str(site.bundles[3]))
        assert refused.returncode == 1 and "import is running" in refused.stdout + refused.stderr
        # ...and both hosts serve v2 while it runs.
        assert all(FOG in page_text(site, LESSON) and RAIN not in page_text(site, LESSON)
                   for _ in range(2))  # fmt: skip
    finally:
        os.killpg(crasher.pid, signal.SIGKILL)
        crasher.communicate(timeout=30)

    for _ in range(2):
        page = page_text(site, LESSON)
        assert FOG in page and RAIN not in page
    # The dead process's lock went with its connection: host B imports at once.
    install(site, "b", 3)
    assert all(RAIN in page_text(site, LESSON) for _ in range(2))


@pytest.mark.skipif(
    not HAS_POSTGRESQL_SEARCH,
    reason="the PostgreSQL search engine (imaginecole.search.postgresql_engine) is not built yet: "
    "with Whoosh each host keeps its own index",
)
def test_a_change_through_host_a_is_found_by_searching_on_both_hosts_at_once(site):
    install(site, "a", 2)
    path = "/fr/search?" + urlencode({"q": "brouillard"})
    for _ in range(4):
        answer = site.get(path)
        assert answer.status == 200 and "/modules/zz-sciences-eau/" in answer.text
    assert served_by(site, path, 4) == {server.port for server in site.hosts.values()}
