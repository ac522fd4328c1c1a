"""The HTML report opened in headless Chromium: it renders, offline, with every chart."""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib

import pytest

from llm_council.audition.report import build_report
from llm_council.audition.report_render import render_html
from llm_council.audition.store import AuditionStore
from llm_council.registry import load_registry
from tests.test_report import fixed_sessions

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("LLM_COUNCIL_REQUIRE_CHROMIUM"):
            pytest.fail("Chromium is required (LLM_COUNCIL_REQUIRE_CHROMIUM) but not installed")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


@pytest.fixture
def report_page(tmp_path):
    registry = load_registry()
    store = AuditionStore(f"sqlite:///{tmp_path / 'r.db'}")
    for result in fixed_sessions():
        store.write_session(result, registry)
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(store, registry)), encoding="utf-8")
    return page


def _run(chromium: str, tmp_path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def _png_pixels_vary(data: bytes) -> bool:
    """True when the PNG's decoded scanlines are not all one repeated byte pattern."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return len(set(raw[1000:200000])) > 8


def test_report_renders_in_headless_chromium(chromium, report_page, tmp_path):
    shot = tmp_path / "shot.png"
    done = _run(
        chromium, tmp_path, f"--screenshot={shot}", "--window-size=1200,2400", report_page.as_uri()
    )
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    assert shot.stat().st_size > 10_000
    assert _png_pixels_vary(shot.read_bytes())
    dom = _run(chromium, tmp_path, "--dump-dom", report_page.as_uri()).stdout.decode()
    for chart in ("chart-share-balanced", "chart-share-quick", "chart-duplicates", "chart-borda"):
        assert f'id="{chart}"' in dom
    assert "<rect" in dom and "Recommendations" in dom
