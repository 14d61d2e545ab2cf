"""Make the sample lessons' sound and video files again (they are committed; run only to change them).

Sounds are French sentences spoken by the espeak-ng synthesiser, encoded as mono Ogg Vorbis;
videos are short animations drawn frame by frame with Pillow and encoded as WebM (VP9) with
no sound. Each gets WebVTT captions with the same words and each video a PNG poster. All of
it is original work of the Imaginecole team, under the licence of its module (CC BY-SA 4.0).

Needs ``espeak-ng`` and ``ffmpeg`` (Debian: ``apt-get install espeak-ng ffmpeg``) and Pillow::

    python content/_tools/sample_media.py
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

CONTENT = Path(__file__).resolve().parents[1]

SPOKEN = {
    "bf/modules/bf-maths-proportionnalite-5e/media/probleme-mil.ogg": (
        "Au marché de Koudougou, trois kilos de mil coûtent neuf cents francs. "
        "Combien coûtent six kilos de mil ?"
    ),
    "bj/modules/bj-est-eau-potable-cm1/media/dictee-eau.ogg": (
        "Pour rendre l'eau potable, on peut la faire bouillir pendant plusieurs minutes."
    ),
    "cm/modules/cm-sciences-cycle-eau-cm2/media/dictee-cycle.ogg": (
        "Le soleil chauffe l'eau des mers. L'eau s'évapore, puis elle forme des nuages."
    ),
    "gn/modules/gn-francais-present-indicatif-4e-annee/media/dictee-present.ogg": (
        "Nous chantons et vous dansez. Les enfants finissent leurs devoirs."
    ),
    "ml/modules/ml-histoire-empire-du-mali-6e-annee/media/recit-kirina.ogg": (
        "Soundiata Keïta fonde l'empire du Mali après la bataille de Kirina."
    ),
    "ne/modules/ne-sciences-germination-ce2/media/dictee-graine.ogg": (
        "Pour germer, une graine a besoin d'eau, d'air et de chaleur."
    ),
    "td/modules/td-maths-equations-4e/media/probleme-equation.ogg": (
        "Trois fois x, plus deux, égale onze. Trouve la valeur de x."
    ),
    "tg/modules/tg-sciences-circuit-electrique-cm1/media/conducteurs.ogg": (
        "Le cuivre laisse passer le courant électrique : c'est un conducteur. "
        "Le plastique ne le laisse pas passer : c'est un isolant."
    ),
}

ANIMATED = {
    "sn/modules/sn-maths-fractions-cm1/media/quart.webm": (
        "quarter",
        "Le disque est partagé en quatre parts égales. Une part est coloriée : c'est un quart.",
    ),
    "ci/modules/ci-maths-pythagore-4e/media/triangle-3-4-5.webm": (
        "pythagoras",
        "Un triangle rectangle de côtés 3, 4 et 5 : 9 plus 16 égale 25.",
    ),
}
FPS, SECONDS, SIZE = 8, 4, 240


def _timestamp(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:06.3f}"


def _captions(path: Path, text: str, duration: float) -> None:
    path.write_text(f"WEBVTT\n\n{_timestamp(0)} --> {_timestamp(duration)}\n{text}\n")


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def speak(target: Path, text: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        wav = Path(work) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "fr", "-s", "125", "-w", wav, text], check=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", wav, "-ac", "1", "-ar", "16000",
             "-c:a", "libvorbis", "-q:a", "1", "-map_metadata", "-1", target],
            check=True,
        )  # fmt: skip
    _captions(target.with_suffix(".vtt"), text, _duration(target))


def _quarter(draw: ImageDraw.ImageDraw, progress: float) -> None:
    box = (30, 30, SIZE - 30, SIZE - 30)
    draw.ellipse(box, outline="black", width=3)
    if progress > 0.5:  # the first quarter fills in during the second half
        sweep = min(1.0, (progress - 0.5) * 2.5) * 90
        draw.pieslice(box, -90, -90 + sweep, fill="#2e7d32")
    centre = SIZE / 2
    for cut in range(4):
        if progress * 4 > cut:
            angle = math.radians(cut * 90 - 90)
            end = (centre + 90 * math.cos(angle), centre + 90 * math.sin(angle))
            draw.line((centre, centre, *end), fill="black", width=3)


def _pythagoras(draw: ImageDraw.ImageDraw, progress: float) -> None:
    unit = 20
    a = (80, 140)  # the right angle
    b, c = (a[0] + 4 * unit, a[1]), (a[0], a[1] - 3 * unit)
    draw.polygon([a, b, c], outline="black", width=3)
    draw.rectangle((a[0], a[1] - 12, a[0] + 12, a[1]), outline="black")
    shown = progress * 3
    if shown > 0.5:  # the square on the side 4 (16 small squares)
        draw.rectangle((a[0], a[1], b[0], a[1] + 4 * unit), fill="#9ecae1", outline="black")
    if shown > 1.2:  # the square on the side 3 (9 small squares)
        draw.rectangle((a[0] - 3 * unit, c[1], a[0], a[1]), fill="#fdd49e", outline="black")
    if shown > 2:  # the square on the hypotenuse (25)
        dx, dy = b[0] - c[0], b[1] - c[1]
        draw.polygon(
            [c, b, (b[0] + dy, b[1] - dx), (c[0] + dy, c[1] - dx)], fill="#c7e9c0", outline="black"
        )


DRAWINGS = {"quarter": _quarter, "pythagoras": _pythagoras}


def animate(target: Path, drawing: str, text: str) -> None:
    frames = []
    with tempfile.TemporaryDirectory() as work:
        for index in range(FPS * SECONDS):
            image = Image.new("RGB", (SIZE, SIZE), "white")
            DRAWINGS[drawing](ImageDraw.Draw(image), index / (FPS * SECONDS - 1))
            frame = Path(work) / f"frame-{index:03d}.png"
            image.save(frame)
            frames.append(image)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-framerate", str(FPS), "-i",
             Path(work) / "frame-%03d.png", "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "45",
             "-pix_fmt", "yuv420p", "-an", "-map_metadata", "-1", target],
            check=True,
        )  # fmt: skip
    frames[-1].save(target.with_suffix(".png"), optimize=True)
    _captions(target.with_suffix(".vtt"), text, SECONDS)


def main() -> None:
    for relative, text in SPOKEN.items():
        speak(CONTENT / relative, text)
    for relative, (drawing, text) in ANIMATED.items():
        animate(CONTENT / relative, drawing, text)
    for relative in (*SPOKEN, *ANIMATED):
        print(f"{relative}: {(CONTENT / relative).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
