"""Measure the peak memory of two checks of outside input, next to the naive way of doing them.

* **An uploaded image**: a 6000×6000 PNG that compresses to about 100 KB (under the 40 MP
  limit, over the per-worker budget of decoded bytes) and a 3000×3000 one (within it).
  Imaginecole redraws an image from its pixels with ``rebuild_image``, bounded by bytes of
  decoded pixels per worker; the naive way is Pillow's ``Image.open(...).load()``.
* **A forged bundle manifest**: a bundle whose ``manifest.json`` was replaced by 50 MB of JSON
  after signing. ``verify_bundle`` checks the signature over the entry as it streams it; the
  naive way reads the entry whole and parses it before checking anything.

Each measurement runs in a fresh process, so the figure is the growth of that process's peak
resident memory over what it held before the check, with imports done.

    .venv/bin/python bench/memory.py [--json memory.json]

Everything is written under one temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# Run as `python bench/memory.py`: bench/common.py, beside this script, must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, log, this_machine  # noqa: E402
from PIL import Image  # noqa: E402

from imaginecole.rendering.images import ImageRejected, rebuild_image  # noqa: E402
from sync.bundle import PrivateKey, build_bundle, verify_bundle  # noqa: E402
from sync.content import read_content  # noqa: E402

MAX_PIXELS = 40_000_000  # the default of IMAGINECOLE_MAX_IMAGE_PIXELS
MANIFEST_BYTES = 50 * 2**20
CHECKS = {  # kind of input: (what Imaginecole does, the naive way)
    "image": ("rebuild_image", "Pillow open + load"),
    "manifest": ("verify_bundle", "read + json.loads"),
}
CASES = {  # case: kind of input
    "image-36mp": "image",  # over the per-worker budget of decoded bytes: refused unread
    "image-9mp": "image",  # within it: redrawn
    "manifest": "manifest",
}


# ---------------------------------------------------------------------------- inputs


def make_image(path: Path, side: int) -> None:
    Image.new("RGB", (side, side), (200, 120, 40)).save(path, "PNG", optimize=True)


def make_forged_bundle(path: Path, work: Path) -> None:
    """Build a signed bundle of the test country, then swap its manifest for 50 MB of JSON."""
    signed = work / "signed.icb"
    tree = read_content(REPO_ROOT / "tests" / "data" / "content")
    build_bundle(tree, None, "zz", 1, signed, PrivateKey.generate())
    filler = '{"files": [' + ",".join(['"' + "a" * 62 + '"'] * (MANIFEST_BYTES // 65)) + "]}"
    with zipfile.ZipFile(signed) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            data = filler.encode() if info.filename == "manifest.json" else old.read(info)
            new.writestr(info, data)


# ---------------------------------------------------------------------------- in the child


def peak_kib() -> int:
    """Return this process's peak resident memory, in KiB.

    Linux's ``VmHWM`` belongs to the process's own memory; ``ru_maxrss`` would also count the
    parent's peak, which a child keeps across ``exec``.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def run_child(case: str, naive: bool, path: Path) -> None:
    """Run one check on ``path``; print the growth of peak memory in KiB, and what it decided."""
    kind = CASES[case]
    data = path.read_bytes() if kind == "image" else b""
    before = peak_kib()
    if kind == "image" and naive:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with Image.open(path) as image:
            image.load()
        outcome = "decoded"
    elif kind == "image":
        try:
            rebuild_image(data, MAX_PIXELS)
            outcome = "redrawn"
        except ImageRejected:
            outcome = "refused"  # a refusal is an answer too: what it cost is measured
    elif naive:
        with zipfile.ZipFile(path) as archive:
            json.loads(archive.read("manifest.json"))
        outcome = "parsed"
    else:
        outcome = "accepted" if verify_bundle(path).ok else "refused"
    print(peak_kib() - before, outcome)


def measure(case: str, naive: bool, path: Path) -> tuple[float, str]:
    """Return the peak memory growth of one check, in MB, and its outcome, from a fresh process."""
    args = [sys.executable, __file__, "--child", case, "--naive" if naive else "--ours", str(path)]
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"The {case} check failed:\n{result.stderr}")
    kib, outcome = result.stdout.split()[-2:]
    return int(kib) / 1024, outcome


# ---------------------------------------------------------------------------- the report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    side = parser.add_mutually_exclusive_group()
    side.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    side.add_argument("--ours", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        run_child(options.child, options.naive, options.path)
        return

    figures: dict = {**this_machine(), "cases": {}}
    with tempfile.TemporaryDirectory(prefix="imaginecole-memory-") as folder:
        work = Path(folder)
        inputs = {
            "image-36mp": work / "6000x6000.png",
            "image-9mp": work / "3000x3000.png",
            "manifest": work / "forged.icb",
        }
        log("Making 6000×6000 and 3000×3000 PNGs and a bundle with a 50 MB forged manifest…")
        make_image(inputs["image-36mp"], 6000)
        make_image(inputs["image-9mp"], 3000)
        make_forged_bundle(inputs["manifest"], work)
        for case, kind in CASES.items():
            ours_name, naive_name = CHECKS[kind]
            ours, ours_outcome = measure(case, False, inputs[case])
            naive, naive_outcome = measure(case, True, inputs[case])
            figures["cases"][case] = {
                "input_bytes": os.path.getsize(inputs[case]),
                "imaginecole": {
                    "check": ours_name,
                    "peak_mb": round(ours, 1),
                    "outcome": ours_outcome,
                },
                "naive": {
                    "check": naive_name,
                    "peak_mb": round(naive, 1),
                    "outcome": naive_outcome,
                },
            }
    print(f"Peak memory of a check, growth over the process before it ({figures['machine']}):")
    for case, row in figures["cases"].items():
        ours, naive = row["imaginecole"], row["naive"]
        ratio = ours["peak_mb"] / naive["peak_mb"] if naive["peak_mb"] else float("nan")
        print(
            f"  {case:<10} {row['input_bytes'] / 1e6:6.1f} MB in: "
            f"{ours['check']} {ours['peak_mb']:6.1f} MB ({ours['outcome']}), "
            f"{naive['check']} {naive['peak_mb']:6.1f} MB ({naive['outcome']}); ratio {ratio:.2f}"
        )
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
        log(f"Figures written to {options.json}")


if __name__ == "__main__":
    main()
