"""The HTML report: one self-contained file whose charts draw the report's numbers.

Parsed here without a browser: every chart exists, needs nothing from the network, and its
bars have heights (or widths) proportional to the figures in the report, with the labels
that name them. ``test_report_browser`` opens the same page in Chromium.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from llm_council.audition.report import build_report
from llm_council.audition.report_html import render_html
from llm_council.audition.store import AuditionStore
from tests.test_report import GROK, KIMI, MINI, REGISTRY, SONNET45, fixed_sessions, make_store

CHARTS = {
    "chart-share-balanced": "share",
    "chart-share-quick": "share",
    "chart-duplicates": "duplicates",
    "chart-borda": "borda",
    "chart-paired": "paired",
    "chart-agreement": "agreement",
    "chart-position": "position",
    "chart-shortlist-balanced": "shortlist",
    "chart-shortlist-quick": "shortlist",
    "chart-shortlist-overall": "shortlist",
}


@dataclass
class Shape:
    tag: str
    attrs: dict[str, str]
    title: str = ""

    def num(self, name: str) -> float:
        return float(self.attrs[name])


@dataclass
class Chart:
    kind: str
    attrs: dict[str, str]
    shapes: list[Shape] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def bars(self, title_part: str = "") -> list[Shape]:
        return [s for s in self.shapes if s.tag == "rect" and s.title and title_part in s.title]

    def bar(self, title: str) -> Shape:
        found = [s for s in self.shapes if s.tag == "rect" and s.title == title]
        assert len(found) == 1, (title, [s.title for s in self.bars()])
        return found[0]


class Page(HTMLParser):
    """The charts with their shapes, titles and labels; and anything needing the network."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, Chart] = {}
        self.external: list[str] = []
        self.styles = ""
        self._chart: Chart | None = None
        self._shape: Shape | None = None
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self._chart = self.charts.setdefault(
                a.get("id", "?"), Chart(a.get("data-chart", ""), a)
            )
        elif self._chart is not None and tag in ("rect", "path", "line"):
            self._shape = Shape(tag, a)
            self._chart.shapes.append(self._shape)
        if tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use"):
            self.external.append(tag)
        for key, value in a.items():
            if key in ("src", "href", "xlink:href", "srcset") or key.startswith("on"):
                self.external.append(f"{tag}[{key}={value}]")
        self._in = tag

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._shape = None

    def handle_endtag(self, tag):
        if tag == "svg":
            self._chart = None
        if tag in ("rect", "path", "line"):
            self._shape = None
        self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.styles += data
        elif self._in == "title" and self._shape is not None:
            self._shape.title += data
        elif self._in == "text" and self._chart is not None:
            self._chart.texts.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    store = make_store(tmp_path_factory.mktemp("html") / "r.db", fixed_sessions())
    return build_report(store, REGISTRY)


@pytest.fixture(scope="module")
def page(report) -> Page:
    return parse(render_html(report))


def test_one_self_contained_file_with_every_chart(report, page):
    text = render_html(report)
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert {k: c.kind for k, c in page.charts.items()} == CHARTS
    assert page.external == []  # no scripts, stylesheets, images, fonts or handlers
    assert "url(" not in page.styles and "@import" not in page.styles
    assert "@font-face" not in page.styles


def test_duplicate_bars_are_proportional_to_the_rates(page):
    chart = page.charts["chart-duplicates"]
    # balanced: any 40%, exact / family / drift 20% each, of 5 sessions with a Pareto seat.
    heights = {
        kind: chart.bar(f"balanced {kind}: {rate} of 5 sessions").num("height")
        for kind, rate in (("any", "40%"), ("exact", "20%"), ("family", "20%"), ("drift", "20%"))
    }
    assert heights["any"] == pytest.approx(2 * heights["exact"], abs=0.15)
    assert heights["exact"] == heights["family"] == heights["drift"] > 0
    # Bars stand on the same baseline: y + height is equal for all.
    bottoms = {round(b.num("y") + b.num("height"), 1) for b in chart.bars("balanced")}
    assert len(bottoms) == 1
    # quick has no Pareto seat: "n/a", not a zero-height bar; the tier labels are drawn.
    assert not chart.bars("quick") and "n/a" in chart.texts
    assert {"balanced", "quick", "any", "exact", "family", "drift"} <= set(chart.texts)
    assert "40%" in chart.texts  # the value printed above the bar


def test_borda_bars_and_whiskers_match_the_means_and_intervals(page):
    chart = page.charts["chart-borda"]
    pareto = chart.bar("balanced Pareto: 0.62 (n=4)").num("height")  # mean .625
    named = chart.bar("balanced named: 0.45 (n=10)").num("height")
    assert pareto / named == pytest.approx(0.625 / 0.45, rel=0.01)
    quick_named = chart.bar("quick named: 0.50 (n=2)").num("height")
    assert quick_named / named == pytest.approx(0.5 / 0.45, rel=0.01)
    # The full scale is the y axis "1.0": 0.625 of it for the Pareto bar.
    scale = pareto / 0.625
    whisker = next(s for s in chart.shapes if s.tag == "path" and "0.14–0.76" in s.title)
    ys = [float(v) for v in whisker.attrs["d"].replace("M", " ").replace("V", " ").split()[:3]]
    assert ys[1] - ys[2] == pytest.approx(scale * (0.7632 - 0.1368), abs=0.3)  # CI length
    assert {"0", "1.0", "Pareto", "named"} <= set(chart.texts)


def test_share_bars_stack_to_the_day_and_split_by_count(page):
    chart = page.charts["chart-share-balanced"]
    # 11-21: Sonnet 4.5 once and Kimi once: two equal halves of one full-height column.
    kimi = chart.bar(f"2026-11-21 {KIMI}: 1")
    sonnet = chart.bar(f"2026-11-21 {SONNET45}: 1")
    full = chart.bar(f"2026-11-20 {MINI}: 1").num("height")  # one model: the whole column
    assert kimi.num("height") == sonnet.num("height") == pytest.approx(full / 2, abs=0.1)
    assert kimi.num("x") == sonnet.num("x")  # stacked in one column
    # Legend labels name every model with its share; the days are on the x axis.
    assert {f"{KIMI} 50%", f"{SONNET45} 25%", f"{MINI} 25%"} <= set(chart.texts)
    assert {"11-20", "11-21", "11-22"} <= set(chart.texts)


def test_shortlist_bars_are_proportional_to_listings(page):
    chart = page.charts["chart-shortlist-balanced"]

    def widths(model: str, seen: int, selected: int) -> tuple[float, float]:
        title = f"balanced {model}: listed on {seen}, selected on {selected}"
        bars = [s for s in chart.bars() if s.title == title]
        by_class = {b.attrs["class"]: b.num("width") for b in bars}
        return by_class["seen"], by_class["selected"]

    kimi, mini = widths(KIMI, 4, 2), widths(MINI, 4, 1)
    grok, sonnet = widths(GROK, 3, 1), widths(SONNET45, 1, 1)
    assert kimi[0] == mini[0] > 0  # both listed on 4 calls: the longest bars
    assert grok[0] == pytest.approx(kimi[0] * 3 / 4, abs=0.1)
    assert sonnet[0] == sonnet[1] == pytest.approx(kimi[0] / 4, abs=0.1)
    assert kimi[1] == pytest.approx(kimi[0] / 2, abs=0.1) and mini[1] == pytest.approx(
        kimi[0] / 4, abs=0.1
    )
    for label in (KIMI, MINI, GROK, SONNET45, "4 / 2", "4 / 1", "3 / 1", "1 / 1"):
        assert label in chart.texts
    # The labels sit left of the bars with room for the longest one (7px a character).
    x0 = min(b.num("x") for b in chart.bars())
    assert x0 >= 7 * max(len(m) for m in (KIMI, MINI, GROK, SONNET45))
    # quick has no router metadata: an explicit "no data" with 0 calls, and no bars.
    quick = page.charts["chart-shortlist-quick"]
    assert not quick.bars() and any("no data: 0 Pareto calls" in t for t in quick.texts)


def test_fallbacks_are_stated_with_their_denominator(report):
    text = render_html(report)
    assert "Fallbacks: 3 of 5 Pareto calls with router metadata (60%)" in text
    assert f"<tr><td>{MINI}</td><td>2</td></tr>" in text
    assert "Fallbacks: no data (0 Pareto calls carried router metadata)." in text  # quick


def test_empty_report_still_has_its_charts_and_says_so(tmp_path):
    report = build_report(AuditionStore(f"sqlite:///{tmp_path / 'e.db'}"), REGISTRY)
    page = parse(render_html(report))
    assert {c.kind for c in page.charts.values()} == {
        "share", "duplicates", "borda", "paired", "agreement", "position", "shortlist"
    }  # fmt: skip
    assert page.external == []
    assert any("no sessions yet" in t for t in page.charts["chart-duplicates"].texts)
    assert any("no data: 0 Pareto calls" in t for t in page.charts["chart-shortlist-overall"].texts)
    assert all(not c.bars() for c in page.charts.values())


# -- small screens, print, empty charts, the legend ------------------------------------------


def test_the_page_scales_to_a_phone_and_prints_cleanly(report, page):
    text = render_html(report)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    # Every chart keeps its proportions when the page narrows: a viewBox, and CSS that caps
    # its width at the page's and lets the height follow.
    for chart_id, chart in page.charts.items():
        box = chart.attrs["viewbox"].split()  # HTMLParser lowercases attribute names
        assert box[2:] == [chart.attrs["width"], chart.attrs["height"]], chart_id
    styles = page.styles
    assert "svg{display:block;max-width:100%;height:auto" in styles
    assert "overflow-wrap:anywhere" in styles  # a table cell never widens the page
    assert "@media (max-width:600px)" in styles
    printed = styles[styles.index("@media print") :]
    assert "break-inside:avoid" in printed and "break-after:avoid" in printed
    # Model ids in the figures may break after their '/', and nowhere else by choice.
    assert f"{KIMI.replace('/', '/<wbr>')} 50%" in text


def test_charts_without_any_data_say_so_in_words(tmp_path):
    quick_only = [s for s in fixed_sessions() if s.tier == "quick"]  # no Pareto seat at all
    report = build_report(make_store(tmp_path / "q.db", quick_only), REGISTRY)
    page = parse(render_html(report))
    duplicates = page.charts["chart-duplicates"]
    assert not duplicates.bars() and duplicates.texts.count("n/a") == 4
    assert "no data: no session in this window had a Pareto seat" in duplicates.texts
    # The quick tier's named seats were ranked: the Borda chart has a bar, so no such line.
    assert page.charts["chart-borda"].bars() and not any(
        t.startswith("no data:") for t in page.charts["chart-borda"].texts
    )
    paired = page.charts["chart-paired"]
    assert "no data: no session with a Borda score on both sides" in paired.texts
    assert not [s for s in paired.shapes if s.attrs.get("class") == "point"]
    share = page.charts["chart-share-quick"]
    assert "no Pareto seat resolved in this window" in share.texts


def test_a_legend_past_twelve_models_names_the_rest_in_a_tooltip(report):
    balanced = report.tiers["balanced"]
    extra = [
        balanced.resolved_models[0].model_copy(update={"model": f"vendor{n}/model-{n}"})
        for n in range(12)
    ]
    crowded = report.model_copy(
        update={
            "tiers": {
                **report.tiers,
                "balanced": balanced.model_copy(
                    update={"resolved_models": [*balanced.resolved_models, *extra]}
                ),
            }
        }
    )
    text = render_html(crowded)
    chart = parse(text).charts["chart-share-balanced"]
    assert "+3 more" in chart.texts  # 15 models, 12 shown
    tooltip = re.search(r">\+3 more<title>([^<]*)</title>", text)
    assert tooltip and tooltip.group(1).split(", ") == [
        f"vendor{n}/model-{n} 50%" for n in range(9, 12)
    ]
