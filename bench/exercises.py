"""Measure what checking an answer costs next to reading the lesson, in one process.

Loads one sample country into a fresh temporary data directory, then with the app's test client
(no network, one thread) times reading the lesson of exercises, checking an answer with the page
round trip (JavaScript off) and checking it in place (``exercises.js``), and prints the sizes a
pupil downloads. Bounded: ``--requests`` of each.

    .venv/bin/python bench/exercises.py
    .venv/bin/python bench/exercises.py --country ci --lesson /fr/modules/ci-maths-pythagore-4e/exercices
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from imaginecole.app import create_app  # noqa: E402
from imaginecole.content.operations import load_tree  # noqa: E402
from imaginecole.extensions import db  # noqa: E402
from imaginecole.schema import ensure_schema  # noqa: E402
from sync.content import read_content  # noqa: E402


def timed(call, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return times


def line(name: str, times: list[float], base: float | None) -> None:
    median = statistics.median(times) * 1000
    p95 = sorted(times)[int(len(times) * 0.95) - 1] * 1000
    ratio = f"{median / base:5.1f}×" if base else "  1.0×"
    print(f"  {name:<34} {median:7.2f} ms  p95 {p95:7.2f} ms  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--country", default="sn")
    parser.add_argument("--lesson", default="/fr/modules/sn-maths-fractions-cm1/exercices")
    parser.add_argument("--exercise", type=int, default=4)
    parser.add_argument("--answer", default="18")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        app = create_app({"DATA_DIR": data, "TESTING": True})
        ensure_schema(app)
        with app.app_context():
            report = load_tree(read_content(REPO_ROOT / "content", [args.country]))
            db.session.commit()
            assert not report.problems, report.problems
        client = app.test_client()
        url = f"{args.lesson}?exercise={args.exercise}"
        form = {"answer": args.answer}
        same_site = {"Origin": "http://localhost"}
        page = client.get(args.lesson)
        checked = client.post(url, data=form, headers=same_site)
        fragment = client.post(url, data=form, headers={**same_site, "X-Exercise": "fragment"})
        assert b"feedback-right" in checked.data and b"feedback-right" in fragment.data
        script = REPO_ROOT / "imaginecole" / "static" / "exercises.js"

        print(f"{args.lesson}, exercise {args.exercise}, {args.requests} requests each")
        kb = {
            "lesson page": len(page.data),
            "page with feedback": len(checked.data),
            "feedback alone": len(fragment.data),
            "exercises.js": script.stat().st_size,
        }
        print("  sizes: " + ", ".join(f"{name} {size / 1024:.1f} KB" for name, size in kb.items()))
        read = timed(lambda: client.get(args.lesson), args.requests)
        base = statistics.median(read) * 1000
        line("read the lesson (GET)", read, None)
        round_trip = timed(lambda: client.post(url, data=form, headers=same_site), args.requests)
        line("check, page round trip (JS off)", round_trip, base)
        in_place_headers = {**same_site, "X-Exercise": "fragment"}
        in_place = timed(
            lambda: client.post(url, data=form, headers=in_place_headers), args.requests
        )
        line("check in place (exercises.js)", in_place, base)


if __name__ == "__main__":
    main()
