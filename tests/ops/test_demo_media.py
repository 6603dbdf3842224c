"""The demo's recordings: real WebM from ffmpeg when it is installed, the bundled sample otherwise."""

from __future__ import annotations

from pathlib import Path

from ops.demo import media
from tests.conftest import require_program

EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # every Matroska/WebM file starts with it


def test_without_ffmpeg_the_bundled_sample_is_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no ffmpeg on the PATH
    [sample] = media.recordings(tmp_path)
    assert sample == media.SAMPLE.read_bytes()
    assert sample.startswith(EBML_MAGIC) and b"webm" in sample[:64]
    assert len(sample) < 100 * 1024


def test_with_ffmpeg_each_variant_is_a_distinct_webm(tmp_path: Path) -> None:
    require_program("ffmpeg", "apt-get install ffmpeg")
    made = media.recordings(tmp_path)
    assert len(made) == 4 and len(set(made)) == 4
    assert all(webm.startswith(EBML_MAGIC) and b"webm" in webm[:64] for webm in made)
