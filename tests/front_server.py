"""Run the shipped nginx configuration (deploy/nginx/) as a private instance, for tests and bench.

The site file is used as shipped, with only the values its comments mark CHANGE (app hosts,
certificate) and its documented paths (shared folder, static files, ports) replaced; a
replacement that no longer finds its text fails, so the file and what is tested cannot drift
apart. nginx runs in the foreground with its own prefix, pid, logs and temporary folders in a
folder of its own, on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parent.parent
SITE = REPO_ROOT / "deploy" / "nginx" / "imaginecole.conf"
SNIPPET = "/etc/nginx/snippets/imaginecole-app-headers.conf"
STATIC_DIR = REPO_ROOT / "imaginecole" / "static"
SERVER_NAME = "learn.example.org"
START_TIMEOUT = 10.0  # seconds


def nginx_binary() -> str | None:
    """Return the nginx program, or None when nginx is not installed."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )


def replace_once(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"{SITE} no longer has {old!r}: update the test with the file")
    return text.replace(old, new)


def render_site(
    upstreams: list[str], https_port: int, http_port: int, shared_dir: Path, tls: Path
) -> str:
    """Return the shipped site file with this machine's values."""
    text = SITE.read_text(encoding="utf-8")
    servers = "".join(f"    server {address};\n" for address in upstreams)
    text, count = re.subn(
        r"(upstream imaginecole \{\n)(?:    #.*\n|    server .*\n)+", rf"\g<1>{servers}", text
    )
    assert count == 1, f"{SITE}: no upstream block"
    text = replace_once(text, "/srv/imaginecole/shared/", f"{shared_dir}/")
    text = replace_once(text, "/srv/imaginecole/static/", f"{STATIC_DIR}/")
    text = replace_once(text, SNIPPET, str(SITE.parent / Path(SNIPPET).name))
    text = replace_once(text, "    listen [::]:80;\n", "")
    text = replace_once(text, "    listen [::]:443 ssl http2 default_server;\n", "")
    text = replace_once(text, "    listen [::]:443 ssl http2;\n", "")
    text = replace_once(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = replace_once(text, "listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    text = replace_once(
        text, f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem", str(tls / "cert.pem")
    )
    text = replace_once(
        text, f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem", str(tls / "key.pem")
    )
    return text


def make_certificate(folder: Path) -> Path:
    """Write a self-signed certificate for SERVER_NAME into ``folder`` and return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder


MAIN_CONFIG = """\
{user}daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    # The request and the app host that answered it, for tests to see where requests went.
    log_format upstreams '$request_uri $upstream_addr';
    access_log {folder}/access.log upstreams;
    client_body_temp_path {folder}/temp/body;
    proxy_temp_path {folder}/temp/proxy;
    fastcgi_temp_path {folder}/temp/fastcgi;
    uwsgi_temp_path {folder}/temp/uwsgi;
    scgi_temp_path {folder}/temp/scgi;
    include {folder}/imaginecole.conf;
}}
"""


@dataclass
class Nginx:
    folder: Path
    port: int  # HTTPS
    http_port: int
    process: subprocess.Popen

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.folder / "error.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def start_nginx(folder: Path, site: str, port: int, http_port: int) -> Nginx:
    """Start a private nginx serving ``site`` from ``folder``; wait until it accepts."""
    binary = nginx_binary()
    assert binary, "nginx is not installed (apt-get install nginx)"
    (folder / "temp").mkdir(parents=True, exist_ok=True)
    (folder / "imaginecole.conf").write_text(site, encoding="utf-8")
    # As root, workers would run as nobody and could not read the test's private folders.
    user = "user root;\n" if os.getuid() == 0 else ""
    config = folder / "nginx.conf"
    config.write_text(MAIN_CONFIG.format(folder=folder, user=user), encoding="utf-8")
    command = [binary, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx = Nginx(folder, port, http_port, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx stopped at start:\n{nginx.log_tail()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return nginx
        except OSError:
            time.sleep(0.05)
    stop_nginx(nginx)
    raise RuntimeError(f"nginx did not listen on {port}:\n{nginx.log_tail()}")


def stop_nginx(nginx: Nginx) -> None:
    if nginx.process.poll() is None:
        nginx.process.terminate()  # a fast shutdown
        try:
            nginx.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.process.kill()
            nginx.process.wait(timeout=10)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def tls_context(tls: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls / "cert.pem"))


def request(
    port: int,
    path: str,
    *,
    tls: Path | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    source: str = "127.0.0.1",
    host: str | None = None,
) -> Answer:
    """Send one request from the address ``source`` (any of 127.0.0.0/8) and return the answer.

    ``tls``: the folder of the certificate to trust; the Host sent is then SERVER_NAME:port.
    """
    if tls is not None:
        # Named as a browser would name it (SNI, certificate check), reached on 127.0.0.1.
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            SERVER_NAME, port, timeout=30, context=tls_context(tls), source_address=(source, 0)
        )
        connection._create_connection = lambda address, *args: socket.create_connection(
            ("127.0.0.1", address[1]), *args
        )
    else:
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=(source, 0)
        )
    sent = {"Host": host or (f"{SERVER_NAME}:{port}" if tls is not None else f"127.0.0.1:{port}")}
    sent.update(headers or {})
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()
