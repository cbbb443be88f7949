"""Tables -> Markdown, LaTeX and CSV text."""

from __future__ import annotations

import csv
import io
import math

from unlearn_bench.report.tables import Cell, Row, Table

LEGEND = ("Cells: ours, mean [95 % bootstrap interval over the n seeds; none for n = 1], with the paper's mean in "
          "brackets (— where the paper has none). Closest to retrain (for t: the fastest): the method "
          "whose interval of |mean − retrain's mean| lies wholly below the runner-up's (bold), else "
          "\"tie\" with the methods whose intervals overlap; the baseline (doing nothing) competes, except "
          "on t; n < 2 never separates. Dr, Df, MIA, LiRA (U-LiRA AUC) in %; ZRF: 1 for a model that "
          "answers like a random network, below 0 possible (unbounded under the official reduction); JSf / "
          "JSr: Jensen–Shannon divergence to the gold model on forget / retain data (nats × 1000), RL: "
          "relearn steps; t in seconds, † read from a cache (measured in an earlier run, possibly under "
          "another load). ‡ after a method's name: it reads the retain set Dr (the paper's SSD does not).")
CSV_FIELDS = ("table", "model", "paper_model", "dataset", "task", "forget", "metric", "method",
              "mean", "std", "low", "high", "n", "cached", "paper_mean", "paper_std", "closest", "verdict",
              "paper_closest")


def _num(value: float, metric: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    if metric == "ZRF":
        return f"{value:.4f}"
    return f"{value:.1f}" if metric in ("t", "RL") else f"{value:.2f}"


def _ours(cell: Cell, metric: str) -> str:
    text = _num(cell.mean, metric)
    if cell.n >= 2:
        text += f" [{_num(cell.low, metric)}, {_num(cell.high, metric)}]"
    return text + ("†" if cell.cached else "")


def _model(row: Row) -> str:
    return row.model if row.model == row.paper_model else f"{row.model} (for {row.paper_model})"


def _setting(row: Row) -> str:
    return f"{row.dataset} {row.task}"


def _n(row: Row) -> str:
    ns = sorted({c.n for c in row.cells.values()})
    return "—" if not ns else str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"


def _labels(table: Table, row: Row) -> list[str]:
    return [_model(row), *([_setting(row)] if table.setting_column else []), row.forget, row.metric, _n(row)]


def _header(table: Table) -> list[str]:
    return ["model", *(["setting"] if table.setting_column else []), "forget", "metric", "n",
            *(f"{m} ‡" if m in table.retain_users else m for m in table.methods), "closest: ours / paper"]


def _closest(row: Row) -> str:
    return f"{row.verdict.text()} / {', '.join(row.paper_closest) or '—'}"


def _md_cell(cell: Cell | None, metric: str) -> str:
    if cell is None:
        return "—"
    ours = _ours(cell, metric)
    paper = _num(cell.paper.mean, metric) if cell.paper else "—"
    return f"{f'**{ours}**' if cell.bold else ours} ({paper})"


def to_markdown(table: Table) -> str:
    header = _header(table)
    lines = [f"### {table.title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for row in table.rows:
        cells = [_md_cell(row.cells.get(m), row.metric) for m in table.methods]
        lines.append("| " + " | ".join([*_labels(table, row), *cells, _closest(row)]) + " |")
    claims = [table.claims, ""] if table.claims else []
    dampening = [table.dampening, ""] if table.dampening else []
    outcomes = [table.outcomes, ""] if table.outcomes else []
    return "\n".join([*lines, "", *claims, *outcomes, *dampening, LEGEND, *_data_used(table), ""])


def _data_used(table: Table) -> list[str]:
    """One line naming the data each method read (methods that declare none, like baseline, left out)."""
    used = [f"{m}: {' + '.join(table.data_used[m])}" for m in table.methods if table.data_used.get(m)]
    return ["", "Data read: " + "; ".join(used) + "."] if used else []


def _tex_escape(text: str) -> str:
    for plain, tex in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                       ("±", r"$\pm$"), ("†", r"$^\dagger$"), ("‡", r"$^\ddagger$"), ("—", "--"), ("–", "--"), ("·", r"$\cdot$")):
        text = text.replace(plain, tex)
    return text


def _tex_cell(cell: Cell | None, metric: str) -> str:
    if cell is None:
        return "--"
    ours = _tex_escape(_ours(cell, metric))
    ours = rf"\textbf{{{ours}}}" if cell.bold else ours
    paper = _num(cell.paper.mean, metric) if cell.paper else "--"
    return rf"{ours} ({paper})"


def to_latex(table: Table) -> str:
    header = _header(table)
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{_tex_escape(table.title)}. {_tex_escape(table.claims)} {_tex_escape(table.outcomes)} "
             rf"{_tex_escape(table.dampening)} "
             rf"{_tex_escape(LEGEND)}}}",
             rf"\label{{tab:{_tex_escape(table.id)}}}",
             r"\begin{tabular}{" + "l" * (len(header) - len(table.methods) - 1) + "r" * len(table.methods) + "l}",
             r"\toprule", " & ".join(_tex_escape(h) for h in header) + r" \\", r"\midrule"]
    for row in table.rows:
        cells = [_tex_cell(row.cells.get(m), row.metric) for m in table.methods]
        labels = [_tex_escape(x) for x in _labels(table, row)] + cells + [_tex_escape(_closest(row))]
        lines.append(" & ".join(labels) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def to_csv(tables: list[Table]) -> str:
    """Long format, one line per (table, row, method): the paper CSV's columns plus ours."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for table in tables:
        for row in table.rows:
            for method, cell in row.cells.items():
                writer.writerow(csv_row(table, row, method, cell))
    return out.getvalue()


def csv_row(table: Table, row: Row, method: str, cell: Cell) -> dict[str, str]:
    """One cell's line of tables.csv, each value as the CSV spells it."""
    return {
        "table": table.id, "model": row.model, "paper_model": row.paper_model,
        "dataset": row.dataset, "task": row.task, "forget": row.forget, "metric": row.metric,
        "method": method, "mean": f"{cell.mean:.4f}", "std": f"{cell.std:.4f}",
        "low": f"{cell.low:.4f}", "high": f"{cell.high:.4f}", "n": str(cell.n), "cached": str(int(cell.cached)),
        "paper_mean": "" if cell.paper is None else str(cell.paper.mean),
        "paper_std": "" if cell.paper is None else str(cell.paper.std),
        "closest": str(int(cell.bold)), "verdict": row.verdict.text(),
        "paper_closest": str(int(method in row.paper_closest)),
    }
