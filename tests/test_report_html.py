"""The report's HTML page (--html) in a real browser, Debian's chromium headless: the cells it renders
after its script ran are tables.csv's, as the tables show them; a #sort= fragment sorts a table
through its header's click handler; nothing comes from the network; a screenshot is not blank.

Three chromium launches in all (a second or two each): the page's DOM, its DOM sorted, a screenshot."""

from __future__ import annotations

import base64
import csv
import os
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from test_report import PNG_MAGIC, _every_kind_of_run, record, write
from unlearn_bench.metrics.split_metrics import DIVERGED
from unlearn_bench.report.__main__ import main as report_main
from unlearn_bench.report.render import CSV_FIELDS

CHROMIUM_MISSING = ("chromium is not installed, and the HTML report's browser tests need it: "
                    "apt-get install chromium (or: make browser)")
SORTED_TABLE = "table-digits_class_cpu"
ODD_NAME = "<i>3</i> & 'co'"  # a forget target that is markup unless escaped
DECIMALS = {"ZRF": 4, "t": 1, "RL": 1}  # as the tables show a metric; 2 for the others
# the lines tables.md prints under tables (claims, outcomes, dampening, data read, the sequences' legend)
NOTES_UNDER_TABLES = ("Paper's claims on these numbers", "Diverged", "Parameters changed by the SSD family",
                      "Data read", "Cells: distance to the gold model")


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(CHROMIUM_MISSING, pytrace=False)
    return path


def run_chromium(url: str, profile: Path, *flags: str) -> str:
    """Headless chromium on `url` (own profile folder, no sandbox: CI runs as root); its stdout."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", *flags, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=profile.parent)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


DATA_USED = {"retrain": ["retain"], "finetune": ["retain"], "ssd": ["forget", "train_importance"]}


def _digits_runs(root: Path) -> None:
    """Two seeds per method on digits (cpu scale): intervals, a bold cell, the lines on dampening, a
    diverged run and the data read; SSD's Df 9 and MIA 10 sort differently as numbers and as text."""
    models = {"resnet18": "cnn", "vit": "vit_tiny"}
    rows = {"baseline": [(76.0, 80.0, 90.0), (76.0, 80.0, 90.0)],
            "retrain": [(72.0, 0.0, 1.0), (74.0, 0.0, 1.0)],
            "finetune": [(73.0, 10.0, 20.0), (73.0, 12.0, 22.0)],
            "ssd": [(70.0, 8.0, 9.0), (71.0, 10.0, 11.0)]}
    for method, seeds in rows.items():
        for seed, (dr, df, mia) in enumerate(seeds):
            rec = record(method, seed, dr, df, mia, dataset="digits", model="cnn", forget="3", scale="cpu",
                         models=models, report={"params_changed_pct": 0.5} if method == "ssd" else None)
            rec["data_used"] = DATA_USED.get(method, [])
            if method == "finetune" and seed == 1:
                rec["warnings"] = [f"the unlearned model has non-finite weights: {DIVERGED}"]
            write(root, f"{method}{seed}", rec)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report folder (--html) of every kind of run test_report.py makes, two-seed digits runs and
    one run whose names are markup."""
    root = tmp_path_factory.mktemp("report_html")
    _every_kind_of_run(root / "runs" / "every")
    _digits_runs(root / "runs" / "digits")
    for method in ("retrain", "ssd"):
        write(root / "runs" / "odd", method, record(method, 0, 90.0, 1.0, 2.0, dataset="odd<b>set",
                                                    forget=ODD_NAME))
    assert report_main([str(root / "runs"), "--out", str(root / "report"), "--html"]) == 0
    return root / "report"


@pytest.fixture(scope="module")
def page(report) -> RenderedPage:
    """The page's DOM after its script ran."""
    return RenderedPage.of(run_chromium((report / "report.html").as_uri(), report.parent / "profile", "--dump-dom"))


@pytest.fixture(scope="module")
def sorted_page(report) -> RenderedPage:
    """The DOM of the page opened with a fragment that sorts the digits table by SSD, descending."""
    url = f"{(report / 'report.html').as_uri()}#sort={SORTED_TABLE}/ssd/desc"
    return RenderedPage.of(run_chromium(url, report.parent / "profile", "--dump-dom"))


class RenderedPage(HTMLParser):
    """A dumped DOM: per section its title, header (data-key -> aria-sort), rows (data-key -> cell:
    attributes, text and text per span class) and notes; the tags seen; the images' sources."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.tags: Counter = Counter()
        self.images: list[str] = []
        self._section = self._header_cell = self._cell = self._span = self._text = None
        self._in_head = False

    @classmethod
    def of(cls, dom: str) -> RenderedPage:
        parsed = cls()
        parsed.feed(dom)
        parsed.close()
        return parsed

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] += 1
        if tag == "section":
            self._section = {"title": "", "header": {}, "rows": [], "notes": []}
            self.sections[attrs["id"]] = self._section
        elif tag == "h2":
            self._text = "title"
        elif tag == "thead":
            self._in_head = True
        elif tag == "th":
            self._header_cell = attrs
        elif tag == "button" and self._header_cell is not None:
            self._section["header"][attrs["data-key"]] = self._header_cell["aria-sort"]
        elif tag == "tr" and not self._in_head:
            self._section["rows"].append({})
        elif tag == "td":
            self._cell = {"attrs": attrs, "text": "", "spans": defaultdict(str)}
            self._section["rows"][-1][attrs["data-key"]] = self._cell
        elif tag == "span" and self._cell is not None:
            self._span = attrs.get("class")
        elif tag == "p" and attrs.get("class") == "note":
            self._section["notes"].append("")
            self._text = "note"
        elif tag == "img":
            self.images.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_head = False
        elif tag == "th":
            self._header_cell = None
        elif tag == "td":
            self._cell = None
        elif tag == "span":
            self._span = None
        elif tag in ("h2", "p"):
            self._text = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
            if self._span:
                self._cell["spans"][self._span] += data
        if self._text == "title":
            self._section["title"] += data
        elif self._text == "note":
            self._section["notes"][-1] += data

    def method_cells(self) -> list[dict]:
        return [cell for s in self.sections.values() for row in s["rows"] for cell in row.values()
                if "data-mean" in cell["attrs"]]


def csv_fields(cell: dict) -> tuple:
    return tuple(cell["attrs"][f"data-{name.replace('_', '-')}"] for name in CSV_FIELDS)


def as_shown(csv_value: str, metric: str) -> str:
    return f"{float(csv_value):.{DECIMALS.get(metric, 2)}f}"


OURS = re.compile(r"(?P<mean>-?\d+\.\d+)(?: \[(?P<low>-?\d+\.\d+), (?P<high>-?\d+\.\d+)\])?(?P<cached>†)?")


def test_a_missing_chromium_fails_naming_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        chromium()


def test_the_rendered_cells_are_tables_csv_as_the_tables_show_it(report, page):
    rows = list(csv.DictReader((report / "tables.csv").open(encoding="utf-8")))
    cells = page.method_cells()
    assert sorted(csv_fields(c) for c in cells) == sorted(tuple(r[f] for f in CSV_FIELDS) for r in rows)
    assert len(cells) == len(rows) > 50
    for cell in cells:
        line = dict(zip(CSV_FIELDS, csv_fields(cell), strict=True))
        metric = line["metric"]
        shown = OURS.fullmatch(cell["spans"]["ours"])
        assert shown, cell["spans"]["ours"]
        assert shown["mean"] == as_shown(line["mean"], metric)
        interval = (as_shown(line["low"], metric), as_shown(line["high"], metric)) if int(line["n"]) >= 2 else (None, None)
        assert (shown["low"], shown["high"]) == interval
        assert bool(shown["cached"]) == (line["cached"] == "1")
        paper = as_shown(line["paper_mean"], metric) if line["paper_mean"] else "—"
        assert cell["spans"]["paper"] == f"({paper})"
        assert ("closest" in cell["attrs"].get("class", "").split()) == (line["closest"] == "1")
    assert any(c["attrs"]["data-paper-mean"] for c in cells) and any(c["attrs"]["data-closest"] == "1" for c in cells)
    assert any(OURS.fullmatch(c["spans"]["ours"])["low"] for c in cells)  # intervals are shown


def test_each_row_names_the_setting_of_its_cells(page):
    for section in page.sections.values():
        for row in section["rows"]:
            for cell in (c for c in row.values() if "data-mean" in c["attrs"]):
                assert row["metric"]["text"] == cell["attrs"]["data-metric"]
                assert row["forget"]["text"] == cell["attrs"]["data-forget"]
                assert row["model"]["text"].startswith(cell["attrs"]["data-model"])
                assert row["closest"]["text"].startswith(cell["attrs"]["data-verdict"])


def test_every_table_note_and_figure_of_the_report_is_on_the_page(report, page):
    md = (report / "tables.md").read_text(encoding="utf-8")
    titles = {s["title"] for s in page.sections.values()}
    assert {line.removeprefix("### ") for line in md.splitlines() if line.startswith("### ")} <= titles
    assert {f"table-{r['table']}" for r in csv.DictReader((report / "tables.csv").open())} <= set(page.sections)
    notes = {note for s in page.sections.values() for note in s["notes"]}
    under_tables = [line for line in md.splitlines() if line.startswith(NOTES_UNDER_TABLES)]
    assert all(any(line.startswith(start) for line in under_tables) for start in NOTES_UNDER_TABLES)
    assert set(under_tables) <= notes
    pngs = {(report / f"{name}.png").read_bytes() for name in ("fig2_time", "gap_scatter", "degradation")}
    prefix = "data:image/png;base64,"
    assert all(src.startswith(prefix) for src in page.images)
    assert {base64.b64decode(src.removeprefix(prefix)) for src in page.images} == pngs


def test_names_are_text_not_markup(page):
    odd = next(s for s in page.sections.values() if s["title"].startswith("odd<b>set: class forgetting"))
    assert {row["forget"]["text"] for row in odd["rows"]} == {ODD_NAME}
    assert page.tags["i"] == 0 and page.tags["b"] == 0


def test_a_sort_fragment_sorts_its_table_by_clicking_the_header(page, sorted_page):
    """#sort=<table>/ssd/desc clicks SSD's header twice (ascending, then descending): the rows follow
    SSD's means as numbers (as text, 9.0 would come before 70.5), and no other table moves."""
    before, after = page.sections[SORTED_TABLE], sorted_page.sections[SORTED_TABLE]
    assert [row["metric"]["text"] for row in before["rows"]] == ["Dr", "Df", "MIA"]
    assert [row["metric"]["text"] for row in after["rows"]] == ["Dr", "MIA", "Df"]
    assert [float(row["ssd"]["attrs"]["data-sort"]) for row in after["rows"]] == [70.5, 10.0, 9.0]
    assert sorted(map(_row_text, after["rows"])) == sorted(map(_row_text, before["rows"]))
    assert after["header"]["ssd"] == "descending"
    assert set(after["header"].values()) == {"none", "descending"} and set(before["header"].values()) == {"none"}
    assert {k: s for k, s in sorted_page.sections.items() if k != SORTED_TABLE} == \
        {k: s for k, s in page.sections.items() if k != SORTED_TABLE}


def _row_text(row: dict) -> tuple:
    return tuple(sorted((key, cell["text"]) for key, cell in row.items()))


RESOURCE = re.compile(r"""\b(?:src|href|srcset|action|formaction|poster|data|xlink:href)\s*=\s*["']?\s*(?:https?:)?//""",
                      re.IGNORECASE)


def test_the_page_loads_nothing_from_the_network(report, page):
    text = (report / "report.html").read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert not RESOURCE.search(text)
    assert not re.search(r"<script[^>]*\bsrc\s*=|<link\b|@import|url\(", text, re.IGNORECASE)
    assert page.tags["script"] == 1 and page.tags["link"] == 0 and page.tags["iframe"] == 0


def test_a_screenshot_of_the_page_is_not_blank(report):
    import matplotlib.image

    shot = report.parent / "report_html.png"
    run_chromium((report / "report.html").as_uri(), report.parent / "profile", f"--screenshot={shot}",
                 "--window-size=1400,1000")
    assert shot.read_bytes()[:4] == PNG_MAGIC and shot.stat().st_size > 20_000
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1000, 1400)
    assert len({tuple(p) for p in pixels[::7, ::7].reshape(-1, pixels.shape[2]).round(2)}) > 30  # text, not a blank
    if os.environ.get("UNLEARN_BENCH_SCREENSHOT_DIR"):
        target = Path(os.environ["UNLEARN_BENCH_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)
