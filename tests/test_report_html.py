"""The HTML report: one self-contained file with its charts, parsed and opened in Chromium.

The Chromium test is skipped only when no Chromium is installed and LLM_COUNCIL_REQUIRE_CHROMIUM
is unset (CI sets it and installs chromium, so there it fails instead of skipping).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from llm_council.audition.report import build_report
from llm_council.audition.report_render import render_html
from llm_council.audition.store import AuditionStore
from tests.test_report import REGISTRY, fixed_sessions, make_store

CHARTS = {
    "chart-share-balanced": "share",
    "chart-share-quick": "share",
    "chart-duplicates": "duplicates",
    "chart-borda": "borda",
}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class _Page(HTMLParser):
    """Collects the charts, and anything that would need the network or run code."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, str] = {}
        self.external: list[str] = []
        self.shapes: dict[str, int] = {}
        self.titles: list[str] = []
        self._chart: str | None = None
        self._in_title = False
        self._in_style = False
        self.styles = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self._chart = a.get("id")
            self.charts[a.get("id") or "?"] = a.get("data-chart") or ""
        elif self._chart and tag in ("rect", "path", "line"):
            self.shapes[self._chart] = self.shapes.get(self._chart, 0) + 1
        if tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use"):
            self.external.append(tag)
        for key, value in a.items():
            if key in ("src", "href", "xlink:href", "srcset") or key.startswith("on"):
                self.external.append(f"{tag}[{key}={value}]")
        self._in_title = tag == "title" and self._chart is not None
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "svg":
            self._chart = None
        self._in_title = self._in_style = False

    def handle_data(self, data):
        if self._in_title:
            self.titles.append(data)
        if self._in_style:
            self.styles += data


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    store = make_store(tmp / "r.db", fixed_sessions())
    path = tmp / "report.html"
    path.write_text(render_html(build_report(store, REGISTRY)), encoding="utf-8")
    return path


def _parse(text: str) -> _Page:
    parsed = _Page()
    parsed.feed(text)
    parsed.close()
    return parsed


def test_html_is_one_self_contained_file_with_every_chart(page):
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    parsed = _parse(text)
    assert parsed.charts == CHARTS
    assert parsed.external == []  # no scripts, stylesheets, images, fonts or handlers
    assert "url(" not in parsed.styles and "@import" not in parsed.styles
    assert "@font-face" not in parsed.styles
    for chart in CHARTS:
        assert parsed.shapes.get(chart, 0) >= 3, chart
    # The bars carry their numbers: balanced "any" is 2 of 5 sessions, Kimi 1 of 2 on 11-21.
    assert "balanced any: 40% of 5 sessions" in parsed.titles
    assert "quick: no session with a Pareto seat" in parsed.titles
    assert "2026-11-21 moonshotai/kimi-k2.6: 1" in parsed.titles
    assert "balanced Pareto: 0.62 (n=4)" in parsed.titles
    assert any(t.startswith("95% interval 0.14–0.76") for t in parsed.titles)  # named balanced


def test_empty_report_still_has_its_charts(tmp_path):
    report = build_report(AuditionStore(f"sqlite:///{tmp_path / 'e.db'}"), REGISTRY)
    parsed = _parse(render_html(report))
    assert set(parsed.charts.values()) == {"share", "duplicates", "borda"}
    assert parsed.external == []


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("LLM_COUNCIL_REQUIRE_CHROMIUM"):
            pytest.fail("LLM_COUNCIL_REQUIRE_CHROMIUM is set but chromium is not installed")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return path


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def _distinct_pixels(png: bytes) -> int:
    """How many distinct byte values the decoded scanlines hold (1-2 for a blank page)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        if png[pos + 4 : pos + 8] == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))


def test_report_renders_in_headless_chromium(chromium, page, tmp_path):
    shot = tmp_path / "shot.png"
    done = _chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        page.as_uri(),
    )
    assert shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    assert shot.stat().st_size > 10_000
    assert _distinct_pixels(shot.read_bytes()) > 16  # drawn charts, not a single colour
    dom = _chromium(chromium, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    parsed = _parse(dom.stdout.decode(errors="replace"))
    assert parsed.charts == CHARTS
    for chart in CHARTS:
        assert parsed.shapes.get(chart, 0) >= 3, chart
