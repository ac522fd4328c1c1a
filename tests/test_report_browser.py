"""The HTML report opened in headless Chromium: it renders offline at 1280 and 390 px wide
(screenshots of both), a 390 px page (a phone) never scrolls sideways, its labels fit inside
their charts with real font metrics at both widths, and the drawn bars keep the report's
proportions.

Skipped only when no Chromium is installed and LLM_COUNCIL_REQUIRE_CHROMIUM is unset (CI
sets it and installs chromium, so there it fails instead of skipping).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from llm_council.audition.report import build_report
from llm_council.audition.report_html import render_html
from tests.test_report import KIMI, MINI, REGISTRY, fixed_sessions, make_store
from tests.test_report_html import CHARTS

LONG = "someprovider/an-unusually-long-model-identifier-with-many-parts-v12.3-preview-0520"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# Measures the page as drawn: every <text> and bar of every chart by its bounding box. Added
# to a copy of the page by this test only; the report itself never carries a script.
MEASURE = """<script>
window.addEventListener("load", () => {
  const out = {};
  for (const svg of document.querySelectorAll("svg[data-chart]")) {
    const box = svg.getBoundingClientRect();
    const rel = (r) => ({x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height});
    out[svg.id] = {
      w: box.width, h: box.height,
      texts: [...svg.querySelectorAll("text")].map(t => ({s: t.textContent, ...rel(t.getBoundingClientRect())})),
      bars: [...svg.querySelectorAll("rect")].filter(r => r.querySelector("title"))
        .map(r => ({t: r.querySelector("title").textContent, c: r.getAttribute("class"), ...rel(r.getBoundingClientRect())})),
    };
  }
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("LLM_COUNCIL_REQUIRE_CHROMIUM"):
            pytest.fail("LLM_COUNCIL_REQUIRE_CHROMIUM is set but chromium is not installed")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The report of the fixed store plus one session whose Pareto seat has a very long id."""
    sessions = fixed_sessions()
    extra = sessions[-1].model_copy(deep=True)
    extra.session_id = "long-1"
    extra.created_at += timedelta(hours=1)
    extra.seats[2].resolved_model = LONG
    extra.calls[0] = extra.calls[0].model_copy(update={"resolved_model": LONG})
    router = extra.calls[0].router
    assert router is not None
    candidates = (router.candidates[0].model_copy(update={"model": LONG}), *router.candidates[1:])
    extra.calls[0] = extra.calls[0].model_copy(
        update={"router": router.model_copy(update={"candidates": candidates})}
    )
    tmp = tmp_path_factory.mktemp("browser")
    store = make_store(tmp / "r.db", [*sessions, extra])
    path = tmp / "report.html"
    path.write_text(render_html(build_report(store, REGISTRY)), encoding="utf-8")
    return path


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def _distinct_bytes(png: bytes) -> int:
    """How many distinct byte values the decoded scanlines hold (1-2 for a blank page)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        if png[pos + 4 : pos + 8] == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


@pytest.mark.parametrize("width", [1280, 390])
def test_report_screenshots_at_desktop_and_phone_width(chromium, page, tmp_path, width):
    shot = tmp_path / f"report-{width}.png"
    done = _chromium(
        chromium, tmp_path / "profile", f"--screenshot={shot}", f"--window-size={width},2400",
        page.as_uri(),
    )  # fmt: skip
    assert shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    png = shot.read_bytes()
    assert _png_size(png) == (width, 2400)
    assert len(png) > 10_000
    assert _distinct_bytes(png) > 16  # drawn charts, not a single colour


# The report in a 390 px frame (headless windows are at least 500 px wide; a frame is as
# narrow as we like), measured from the page around it: how wide the report's document
# became, and where each chart, its texts and each table ended up.
NARROW = 390
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="frame" style="width:%dpx;height:20000px;border:0" srcdoc="%s"></iframe>
<script>
window.addEventListener("load", () => {
  const frame = document.getElementById("frame");
  const doc = frame.contentDocument;
  const rect = (e) => { const r = e.getBoundingClientRect(); return {l: r.left, r: r.right, w: r.width}; };
  const out = {
    scroll: doc.documentElement.scrollWidth, client: doc.documentElement.clientWidth,
    charts: {}, tables: [...doc.querySelectorAll("table")].map(rect),
  };
  for (const svg of doc.querySelectorAll("svg[data-chart]")) {
    const box = svg.getBoundingClientRect();
    out.charts[svg.id] = {...rect(svg), texts: [...svg.querySelectorAll("text")].map((t) => {
      const r = t.getBoundingClientRect();
      return {s: t.textContent, l: r.left - box.left, r: r.right - box.left};
    })};
  }
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body></html>"""


def _dump_measured(binary: str, tmp: Path, probe: Path) -> dict:
    dom = _chromium(
        binary, tmp / "profile", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()
    ).stdout.decode(errors="replace")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def narrow(chromium, page, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("narrow")
    probe = tmp / "narrow.html"
    report = page.read_text(encoding="utf-8")
    probe.write_text(FRAME % (NARROW, html.escape(report, quote=True)), encoding="utf-8")
    return _dump_measured(chromium, tmp, probe)


def test_a_phone_width_page_never_scrolls_sideways(narrow):
    assert narrow["client"] == NARROW
    assert narrow["scroll"] <= NARROW  # nothing wider than the screen
    assert set(narrow["charts"]) == set(CHARTS)
    for chart_id, chart in narrow["charts"].items():
        assert chart["l"] >= 0 and chart["r"] <= NARROW + 0.5, (chart_id, chart)
        assert chart["w"] > 200, (chart_id, chart)  # scaled to the screen, not collapsed
        for text in chart["texts"]:  # scaled with its chart: still inside it
            if text["s"].strip():
                assert text["l"] >= -0.5 and text["r"] <= chart["w"] + 0.5, (chart_id, text)
    assert narrow["tables"] and all(t["r"] <= NARROW + 0.5 for t in narrow["tables"])


@pytest.fixture(scope="module")
def measured(chromium, page, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("measure")
    probe = tmp / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"))
    return _dump_measured(chromium, tmp, probe)


def test_every_label_fits_inside_its_chart(measured):
    assert set(measured) == set(CHARTS)
    for chart_id, chart in measured.items():
        assert chart["w"] > 100 and chart["h"] > 50, chart_id
        for text in chart["texts"]:
            if not text["s"].strip():
                continue
            assert text["x"] >= -0.5 and text["x"] + text["w"] <= chart["w"] + 0.5, (
                chart_id,
                text,
            )
            assert text["y"] >= -0.5 and text["y"] + text["h"] <= chart["h"] + 0.5, (
                chart_id,
                text,
            )
    # The long id is drawn whole, as the shortlist label and in the share legend.
    assert LONG in {t["s"] for t in measured["chart-shortlist-balanced"]["texts"]}
    assert any(t["s"].startswith(LONG) for t in measured["chart-share-balanced"]["texts"])


def test_drawn_bars_keep_the_report_proportions(measured):
    bars = measured["chart-shortlist-balanced"]["bars"]

    def width(model: str, kind: str) -> float:
        return next(b["w"] for b in bars if b["c"] == kind and f" {model}: " in b["t"])

    # With the long-id session: Kimi listed on 4 calls (selected 2), Mini on 5 (selected 1).
    assert width(MINI, "seen") / width(KIMI, "seen") == pytest.approx(5 / 4, rel=0.02)
    assert width(KIMI, "selected") / width(KIMI, "seen") == pytest.approx(2 / 4, rel=0.02)
    duplicates = {b["t"]: b["h"] for b in measured["chart-duplicates"]["bars"]}
    any_rate = next(h for t, h in duplicates.items() if t.startswith("balanced any:"))
    exact = next(h for t, h in duplicates.items() if t.startswith("balanced exact:"))
    # 6 balanced sessions with a Pareto seat: any 2 (A, C), exact 1 (A).
    assert any_rate / exact == pytest.approx(2.0, rel=0.02)


def test_report_prints_to_a_few_pages(chromium, page, tmp_path):
    """Printed (``@media print``): the whole report on a handful of pages of one paper size,
    not one page per chart and not a page cut off at the right."""
    pdf = tmp_path / "report.pdf"
    done = _chromium(
        chromium, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
        page.as_uri(),
    )  # fmt: skip
    assert pdf.is_file(), done.stderr.decode(errors="replace")[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = re.findall(rb"/Type\s*/Page[^s]", data)
    assert 2 <= len(pages) <= 12, len(pages)
    assert len(set(re.findall(rb"/MediaBox\s*\[[^\]]*\]", data))) == 1
