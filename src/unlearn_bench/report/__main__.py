"""python -m unlearn_bench.report [DIRS...] [--out DIR] [--wandb ENTITY/PROJECT]
       python -m unlearn_bench.report best-params --storage sqlite:///multirun/optuna/<study>.db

Collects every results.json under DIRS (default: outputs/ and multirun/; W&B offline run folders
included) and writes the paper's tables (Markdown, LaTeX, CSV) and figures (PNG) to --out; with
--html also report.html, one page holding all of them that opens from disk."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from unlearn_bench.report.collect import is_search_trial, load_records, observations
from unlearn_bench.report.figures import gap_figure, ssd_importance_share, time_figure
from unlearn_bench.report.html import FIGURES, write_html
from unlearn_bench.report.render import to_csv, to_latex, to_markdown
from unlearn_bench.report.sequence import (
    degradation_figure,
    degradation_markdown,
    degradation_tables,
    is_sequence,
)
from unlearn_bench.report.tables import Table, build_tables, time_tables

log = logging.getLogger("unlearn_bench.report")
DEFAULT_DIRS = ("outputs", "multirun")


def write_report(records: list[dict], out: Path, standin: bool = False,
                 timing_records: list[dict] | None = None, html: bool = False) -> dict[str, Path]:
    """Tables and figures of `records` under `out` (and with `html` the page holding them all);
    returns what was written, by name.
    `timing_records` (e.g. search trials) only supply []_D compute times for SSD's time."""
    out.mkdir(parents=True, exist_ok=True)
    sequences = [r for r in records if is_sequence(r)]
    records = [r for r in records if not is_sequence(r)]
    obs = observations(records, timing_records)
    tables = build_tables(obs, standin) + time_tables(obs)
    written = {"markdown": out / "tables.md", "csv": out / "tables.csv"}
    written["markdown"].write_text(_markdown(tables, obs, len(records)) + degradation_markdown(sequences))
    written["csv"].write_text(to_csv(tables))
    for table in tables:
        written[f"latex_{table.id}"] = out / f"table_{table.id}.tex"
        written[f"latex_{table.id}"].write_text(to_latex(table))
    for name, plot in (("fig2_time", time_figure), ("gap_scatter", gap_figure)):
        path = plot(obs, out / f"{name}.png")
        if path is not None:
            written[name] = path
    if degradation_figure(sequences, out / "degradation.png") is not None:
        written["degradation"] = out / "degradation.png"
    if html:
        figures = {name: written[name] for name in FIGURES if name in written}
        written["html"] = write_html(out / "report.html", _heading(len(records)), _summary(obs), tables,
                                     degradation_tables(sequences), figures)
    return written


def _heading(n_records: int) -> str:
    return f"Regenerated tables ({n_records} runs)"


def _summary(obs) -> list[str]:
    """The lines above the tables."""
    share = ssd_importance_share(obs)
    if share is None:
        return []
    return [f"SSD spends {100 * share:.0f}% of its time on the training-set importances []_D "
            "(computed once per original model and stored)."]


def _markdown(tables: list[Table], obs, n_records: int) -> str:
    parts = [f"# {_heading(n_records)}", ""]
    for line in _summary(obs):
        parts += [line, ""]
    return "\n".join(parts + [to_markdown(t) for t in tables])


def _tables_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m unlearn_bench.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="*", help="folders (or results.json files); default: outputs/ multirun/")
    parser.add_argument("--out", default="report", help="output folder (default: report/)")
    parser.add_argument("--wandb", metavar="ENTITY/PROJECT", help="also read an online W&B project")
    parser.add_argument("--paper-standin", action="store_true",
                        help="beside datasets the paper lacks (digits, fashion_mnist), show the paper's "
                             "CIFAR setting of the same task (default: an empty paper column)")
    parser.add_argument("--include-searches", action="store_true",
                        help="keep hyperparameter-search trials (left out by default)")
    parser.add_argument("--html", action="store_true",
                        help="also write report.html: every table (sortable), note and figure on one page "
                             "that opens from disk")
    args = parser.parse_args(argv)
    dirs = args.dirs or [d for d in DEFAULT_DIRS if Path(d).exists()]
    every = load_records(dirs, include_searches=True)
    records = every if args.include_searches else [r for r in every if not is_search_trial(r)]
    timing = load_records(dirs, include_searches=True, keep_duplicates=True)  # []_D compute times of any run
    if args.wandb:
        from unlearn_bench.report.wandb_reader import read_project

        records += read_project(args.wandb, include_searches=args.include_searches)
    if not records:
        print(f"error: no results.json found under {', '.join(map(str, dirs)) or 'outputs/ or multirun/'}",
              file=sys.stderr)
        return 2
    written = write_report(records, Path(args.out), args.paper_standin, timing_records=timing, html=args.html)
    print(f"{len(records)} runs -> " + ", ".join(str(p) for p in written.values()))
    return 0


def _best_params_main(argv: list[str]) -> int:
    from unlearn_bench.search.tuned_config import best_trial, write_tuned_config

    parser = argparse.ArgumentParser(prog="python -m unlearn_bench.report best-params",
                                     description="Write an Optuna study's best parameters as a config.")
    parser.add_argument("--storage", required=True, help="e.g. sqlite:///multirun/optuna/ssd-digits-cnn-class.db")
    parser.add_argument("--study", help="study name (default: the storage's only study)")
    parser.add_argument("--method", help="method the parameters belong to (default: the study name's first part)")
    parser.add_argument("--config-dir", default=str(Path(os.environ.get("UNLEARN_BENCH_ROOT", ".")) / "conf"),
                        help="config folder to write into (default: $UNLEARN_BENCH_ROOT/conf, searched by every run)")
    args = parser.parse_args(argv)
    try:
        best = best_trial(args.storage, args.study)
    except (ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    path = write_tuned_config(best, args.config_dir, args.method)
    print(f"{best.study}: best {best.params}, distance_to_gold {best.value:.3f} "
          f"({best.n_complete} complete trials) -> {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["best-params"]:
        return _best_params_main(argv[1:])
    return _tables_main(argv[1:] if argv[:1] == ["tables"] else argv)


if __name__ == "__main__":
    sys.exit(main())
