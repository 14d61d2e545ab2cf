"""Pages through nginx in front of two app hosts, against one app host answering directly.

Starts, on 127.0.0.1 only: a private PostgreSQL cluster, two ``imaginecole serve`` processes
(each a host with its own data folder, one shared folder between them) and nginx with the
shipped configuration (deploy/nginx/imaginecole.conf, TLS, as tests/test_front_server.py runs
it). Loads the zz test content through host A, then measures with wrk, for a lesson page, the
home page and a lesson image, in the same run:

- direct: host A alone, plain HTTP (what a school server does);
- nginx, 1 host: TLS through nginx to host A (what nginx costs);
- nginx, 2 hosts: TLS through nginx to hosts A and B (what a second host gives).

Prints requests per second, p50 and p95 latency and errors per row, and the ratios to direct.

    .venv/bin/python bench/front.py
    .venv/bin/python bench/front.py --duration 10 --connections 32 --ports 8200-8299

Every load is bounded by --duration. Needs nginx and wrk (apt-get install nginx wrk) and
PostgreSQL's server binaries. The load generator shares this machine's CPUs with the servers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

# wrk reports latency percentiles only to a Lua script; this one prints them on one line.
REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), errors))
end
"""


@dataclass
class Row:
    setup: str
    page: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(url: str, duration: int, connections: int, script: Path, host: str | None) -> Row:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s"]
    command += ["-s", str(script)]
    if host:
        command += ["-H", f"Host: {host}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=duration + 60, check=True
    )
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", done.stdout)
    if not found:
        sys.exit(f"wrk printed no result for {url}:\n{done.stdout}\n{done.stderr}")
    requests, micros, p50, p95, errors = (int(value) for value in found.groups())
    return Row("", "", requests, micros / 1e6, p50 / 1000, p95 / 1000, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per row")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--ports", default="8200-8299", help="range of ports to listen on")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    for program in ("wrk", "nginx"):
        if not shutil.which(program) and not Path("/usr/sbin", program).exists():
            sys.exit(f"{program} is not installed: apt-get install -y {program}")
    # Read by tests.conftest when it is imported (below), which then clears IMAGINECOLE_*.
    os.environ["IMAGINECOLE_TEST_PORTS"] = args.ports
    run(args)


def run(args) -> None:
    from tests import postgresql
    from tests.conftest import TEST_CONTENT
    from tests.front_server import (
        SERVER_NAME,
        make_certificate,
        render_site,
        request,
        start_nginx,
        stop_nginx,
    )
    from tests.live_server import console_script, free_ports, start_server, stop_server

    root = Path(tempfile.mkdtemp(prefix="imaginecole-front-"))
    cluster = root / "postgresql"
    hosts, fronts = [], []
    try:
        root.chmod(0o755)  # the cluster runs as nobody when this runs as root
        url = postgresql.start(cluster)
        shared = root / "shared"
        shared.mkdir()
        settings = {
            "IMAGINECOLE_DATABASE_URL": url,
            "IMAGINECOLE_SHARED_DIR": str(shared),
            "IMAGINECOLE_PROXIES": "1",
            "IMAGINECOLE_ACCEL_REDIRECT": "/_shared/",
        }
        for name in ("a", "b"):
            (root / name).mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGINECOLE_")}
        env.update(settings, IMAGINECOLE_DATA_DIR=str(root / "a"))
        subprocess.run(
            [str(console_script("imaginecole")), "content", "load", str(TEST_CONTENT)],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        for name in ("a", "b"):
            # One worker process of four threads per host: two hosts share this machine.
            hosts.append(
                start_server(
                    root / name,
                    root / f"{name}.log",
                    ("--workers", "1", "--threads", "4"),
                    settings=settings,
                )
            )
        tls = make_certificate(root / "tls")
        for label, upstream in (("nginx, 1 host", hosts[:1]), ("nginx, 2 hosts", hosts)):
            port, http_port = free_ports(2)
            site = render_site(
                [f"127.0.0.1:{host.port}" for host in upstream], port, http_port, shared, tls
            )
            # wrk names the server by its address (SNI): the server that refuses unknown names
            # would turn it away.
            site = re.sub(r"server \{\n    listen [^\n]*default_server;\n[^}]*\}\n", "", site)
            fronts.append(
                (label, start_nginx(root / f"nginx-{len(fronts)}", site, port, http_port))
            )

        lesson = "/fr/modules/zz-maths-fractions/lire-une-fraction"
        page = request(hosts[0].port, lesson).text
        image = re.search(r'src="(/media/[0-9a-f]{64}\.jpg)"', page).group(1)
        pages = (("lesson", lesson), ("home", "/fr/"), ("image", image))
        script = root / "report.lua"
        script.write_text(REPORT)

        rows: list[Row] = []
        setups = [("direct, 1 host", f"http://127.0.0.1:{hosts[0].port}", None)]
        setups += [
            (label, f"https://127.0.0.1:{nginx.port}", f"{SERVER_NAME}:{nginx.port}")
            for label, nginx in fronts
        ]
        for name, path in pages:
            for label, base, host in setups:
                warm = wrk(base + path, 2, 2, script, host)
                if warm.errors or not warm.requests:
                    sys.exit(f"{label} {path}: {warm.errors} errors in {warm.requests} requests")
                row = wrk(base + path, args.duration, args.connections, script, host)
                row.setup, row.page = label, name
                rows.append(row)
                print(
                    f"{name:7} {label:15} {row.rate:8.0f} req/s  p50 {row.p50_ms:7.1f} ms  "
                    f"p95 {row.p95_ms:7.1f} ms  errors {row.errors}",
                    flush=True,
                )
        print(f"\n{args.connections} connections, {args.duration} s per row, {os.cpu_count()} CPUs")
        for name, _ in pages:
            direct = next(r for r in rows if r.page == name and r.setup.startswith("direct"))
            ratios = ", ".join(
                f"{r.setup} {r.rate / direct.rate:.2f}×"
                for r in rows
                if r.page == name and r is not direct
            )
            print(f"{name}: against direct: {ratios}")
    finally:
        for _, nginx in fronts:
            stop_nginx(nginx)
        for host in hosts:
            stop_server(host)
        postgresql.stop(cluster)
        if args.keep:
            print(f"Kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
