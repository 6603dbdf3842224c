"""Short WebM recordings for the demo: made with ffmpeg when it is installed, else the bundled
sample (3 s of a test pattern, VP8, 26 KB)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SAMPLE = Path(__file__).with_name("sample.webm")
PATTERNS = ("testsrc", "testsrc2", "smptebars", "rgbtestsrc")


def recordings(folder: Path, *, variants: int = 4) -> list[bytes]:
    """A few distinct WebM files (different patterns and lengths), or the one bundled sample."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return [SAMPLE.read_bytes()]
    made = []
    for index in range(variants):
        path = folder / f"demo-{index}.webm"
        pattern = PATTERNS[index % len(PATTERNS)]
        source = f"{pattern}=duration={2 + index}:size=320x180:rate=10"
        result = subprocess.run(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
             "-c:v", "libvpx", "-pix_fmt", "yuv420p", "-b:v", "150k", "-an", str(path)],
            capture_output=True,
        )  # fmt: skip
        if result.returncode != 0:  # an ffmpeg without libvpx: fall back to the sample
            return [SAMPLE.read_bytes()]
        made.append(path.read_bytes())
    return made
