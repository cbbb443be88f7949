"""The report as one HTML page that opens from disk (no server, no network): every table with the
paper's values beside ours, sortable by a click on a column header, the lines under each table, and
the figures inline as PNG data URIs.

Each method cell carries its tables.csv line as data attributes (data-mean, data-paper-mean, ...);
a `#sort=<section id>/<column>[/desc]` fragment clicks that header on load (what a click leaves in
the address bar), so a sorted view can be linked to."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from unlearn_bench.report.render import (
    LEGEND,
    _closest,
    _data_used,
    _header,
    _labels,
    _num,
    _ours,
    csv_row,
)
from unlearn_bench.report.sequence import SEQUENCE_NOTE, SequenceTable
from unlearn_bench.report.tables import Cell, Row, Table

# the figures the page shows, by the report's name for them -> (title, caption)
FIGURES = {
    "fig2_time": ("Figure 2: time per method",
                  "Mean method time (log scale); SSD's []_D pass hatched; error bars one standard deviation "
                  "over seeds."),
    "gap_scatter": ("Forget gap against retain gap to the gold model",
                    "The origin is the gold model: points per run, crosses the mean per method, error bars one "
                    "standard deviation over seeds."),
    "degradation": ("Sequential forget requests: degradation",
                    "Dr, Df and MIA after each request, mean and 95 % bootstrap interval over seeds; gold = "
                    "retrained without every request so far."),
}

STYLE = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #dde2ea; --head: #eef1f6; --best: #e3f2e6; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1600px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; }
.lead, .legend { color: var(--muted); max-width: 120ch; }
.legend { font-size: 13px; }
nav ol { columns: 2; font-size: 14px; margin: 8px 0 0; }
nav a, nav a:visited { color: #0b5c8e; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 20px 0;
          padding: 16px 20px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; white-space: nowrap; }
th.label, td.label { text-align: left; }
thead th { background: var(--head); position: sticky; top: 0; }
thead button { background: none; border: 0; color: inherit; cursor: pointer; font: inherit;
               font-weight: 600; padding: 0; }
thead button:hover { text-decoration: underline; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #fff7e0; }
td.closest { background: var(--best); font-weight: 700; }
.paper { color: var(--muted); font-weight: 400; }
td.empty { color: var(--muted); }
p.note { color: var(--muted); font-size: 13px; margin: 10px 0 0; max-width: 130ch; }
figure { margin: 0; }
figure img { display: block; height: auto; max-width: min(100%, 1100px); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
"""

# Sorts a table's rows by the clicked column (numbers as numbers, blanks last; a second click
# reverses), and applies a #sort= fragment on load by clicking the same header.
SCRIPT = r"""
(function () {
  "use strict";
  var LEADING_NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i;

  function sortValue(cell) {
    var text = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (text === "" || text === "\u2014") return null;
    var number = LEADING_NUMBER.exec(text);
    return number ? parseFloat(number[0]) : text;
  }

  function compare(a, b) {
    if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
    return typeof a === "number" ? a - b : a.localeCompare(b, undefined, {numeric: true});
  }

  function sortRows(table, column, descending) {
    var body = table.tBodies[0];
    var keyed = Array.prototype.map.call(body.rows, function (row, index) {
      return {row: row, index: index, value: sortValue(row.cells[column])};
    });
    keyed.sort(function (a, b) {
      if (a.value === null || b.value === null) {
        return (a.value === null) - (b.value === null) || a.index - b.index;
      }
      var order = compare(a.value, b.value);
      return (descending ? -order : order) || a.index - b.index;
    });
    keyed.forEach(function (item) { body.appendChild(item.row); });
  }

  function rememberSort(section, key, descending) {
    var hash = "#sort=" + encodeURIComponent(section.id) + "/" + encodeURIComponent(key) + (descending ? "/desc" : "");
    try {
      history.replaceState(null, "", hash);
    } catch (refused) {
      // some browsers refuse history changes on file:// pages; the sort itself is done
    }
  }

  function onHeaderClick(event) {
    var header = event.currentTarget.parentNode;
    var table = header.closest("table");
    var descending = header.getAttribute("aria-sort") === "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.setAttribute("aria-sort", "none");
    });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    sortRows(table, header.cellIndex, descending);
    rememberSort(header.closest("section"), event.currentTarget.getAttribute("data-key"), descending);
  }

  function applySortFragment() {
    var match = /^#sort=([^/]+)\/([^/]+)(\/desc)?$/.exec(location.hash);
    var section = match && document.getElementById(decodeURIComponent(match[1]));
    if (!section) return;
    var key = decodeURIComponent(match[2]);
    Array.prototype.forEach.call(section.querySelectorAll("thead button"), function (button) {
      if (button.getAttribute("data-key") !== key) return;
      button.click();
      if (match[3]) button.click();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable thead button"), function (button) {
    button.addEventListener("click", onHeaderClick);
  });
  applySortFragment();
})();
"""


def write_html(path: Path, heading: str, notes: list[str], tables: list[Table],
               sequence_tables: list[SequenceTable], figures: dict[str, Path]) -> Path:
    """The report page at `path`; `figures` maps a figure's name (FIGURES) to its PNG."""
    path.write_text(report_page(heading, notes, tables, sequence_tables, figures), encoding="utf-8")
    return path


def report_page(heading: str, notes: list[str], tables: list[Table], sequence_tables: list[SequenceTable],
                figures: dict[str, Path]) -> str:
    sections = [(_anchor(t), t.title, _table_section(t)) for t in tables]
    sections += [(f"sequence-{i}", s.title, _sequence_section(f"sequence-{i}", s))
                 for i, s in enumerate(sequence_tables, start=1)]
    sections += [(f"figure-{name}", _figure_title(name), _figure_section(name, png)) for name, png in figures.items()]
    contents = "".join(f'<li><a href="#{_esc(anchor)}">{_esc(title)}</a></li>' for anchor, title, _ in sections)
    lead = "".join(f'<p class="lead">{_esc(note)}</p>' for note in notes)
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(heading)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{STYLE}</style></head><body><main>"
            f'<header><h1>{_esc(heading)}</h1>{lead}<p class="legend">{_esc(LEGEND)} '
            "Click a column header to sort its table; click again to reverse.</p>"
            f"<nav><ol>{contents}</ol></nav></header>"
            + "".join(body for _, _, body in sections)
            + f"</main><script>{SCRIPT}</script></body></html>\n")


def _anchor(table: Table) -> str:
    return f"table-{table.id}"


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _attrs(**values: str) -> str:
    """` name="value"` pairs, underscores in a name spelled as hyphens (data_paper_mean -> data-paper-mean)."""
    return "".join(f' {name.replace("_", "-")}="{_esc(value)}"' for name, value in values.items())


def _header_row(keys: list[str], labels: list[str], label_keys: set[str]) -> str:
    cells = [f'<th scope="col" aria-sort="none"{_attrs(**_label_class(key in label_keys))}>'
             f'<button type="button"{_attrs(data_key=key)}>{_esc(label)}</button></th>'
             for key, label in zip(keys, labels, strict=True)]
    return "<thead><tr>" + "".join(cells) + "</tr></thead>"


def _label_class(is_label: bool) -> dict[str, str]:
    """Label columns align left; the numbers align right."""
    return {"class": "label"} if is_label else {}


def _notes(lines: list[str]) -> str:
    return "".join(f'<p class="note">{_esc(line)}</p>' for line in lines if line)


def _section(anchor: str, title: str, table_markup: str, notes: list[str]) -> str:
    return (f'<section id="{_esc(anchor)}"><h2>{_esc(title)}</h2>'
            f'<div class="scroll"><table class="sortable">{table_markup}</table></div>{_notes(notes)}</section>')


def _label_keys(table: Table) -> list[str]:
    return ["model", *(["setting"] if table.setting_column else []), "forget", "metric", "n"]


def _table_section(table: Table) -> str:
    label_keys = _label_keys(table)
    keys = [*label_keys, *table.methods, "closest"]
    head = _header_row(keys, _header(table), {*label_keys, "closest"})
    body = "".join(_table_row(table, row, label_keys) for row in table.rows)
    notes = [table.claims, table.outcomes, table.dampening, *_data_used(table)]
    return _section(_anchor(table), table.title, f"{head}<tbody>{body}</tbody>", notes)


def _table_row(table: Table, row: Row, label_keys: list[str]) -> str:
    labels = [f'<td class="label"{_attrs(data_key=key)}>{_esc(text)}</td>'
              for key, text in zip(label_keys, _labels(table, row), strict=True)]
    cells = [_method_cell(table, row, method) for method in table.methods]
    closest = f'<td class="label"{_attrs(data_key="closest")}>{_esc(_closest(row))}</td>'
    return "<tr>" + "".join([*labels, *cells, closest]) + "</tr>"


def _method_cell(table: Table, row: Row, method: str) -> str:
    cell = row.cells.get(method)
    if cell is None:
        return f'<td class="empty"{_attrs(data_key=method, data_sort="")}>—</td>'
    fields = {f"data_{name}": value for name, value in csv_row(table, row, method, cell).items()}
    ours = _esc(_ours(cell, row.metric))
    paper = _num(cell.paper.mean, row.metric) if cell.paper else "—"
    marks = {"class": "closest"} if cell.bold else {}
    attrs = _attrs(**marks, data_key=method, data_sort=fields["data_mean"],
                   title=_cell_tooltip(method, cell, row.metric), **fields)
    return f'<td{attrs}><span class="ours">{ours}</span> <span class="paper">({_esc(paper)})</span></td>'


def _cell_tooltip(method: str, cell: Cell, metric: str) -> str:
    text = f"{method}, {metric}: mean {_num(cell.mean, metric)} ± {_num(cell.std, metric)} (sd over n = {cell.n})"
    if cell.n >= 2:
        text += f", 95 % bootstrap interval [{_num(cell.low, metric)}, {_num(cell.high, metric)}]"
    if cell.paper:
        text += f"; paper {_num(cell.paper.mean, metric)} ± {_num(cell.paper.std, metric)}"
    return text


def _sequence_section(anchor: str, table: SequenceTable) -> str:
    head = _header_row(table.header, table.header, _sequence_labels(table.header))
    body = "".join(_sequence_row(table.header, row) for row in table.rows)
    return _section(anchor, table.title, f"{head}<tbody>{body}</tbody>", [SEQUENCE_NOTE])


def _sequence_labels(header: list[str]) -> set[str]:
    """The request number and the verdict; the methods' columns between them hold numbers."""
    return {header[0], header[-1]}


def _sequence_row(header: list[str], row: list[str]) -> str:
    labels = _sequence_labels(header)
    cells = [f"<td{_attrs(**_label_class(key in labels), data_key=key)}>{_esc(text)}</td>"
             for key, text in zip(header, row, strict=True)]
    return "<tr>" + "".join(cells) + "</tr>"


def _figure_title(name: str) -> str:
    return FIGURES.get(name, (name, ""))[0]


def _figure_section(name: str, png: Path) -> str:
    title, caption = FIGURES.get(name, (name, ""))
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (f'<section id="figure-{_esc(name)}"><h2>{_esc(title)}</h2><figure>'
            f'<img src="data:image/png;base64,{data}" alt="{_esc(title)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure></section>")
