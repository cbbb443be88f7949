"""The report: hand-written results.json files with known numbers -> tables (Markdown, LaTeX, CSV)
and figures (PNG); W&B offline run folders -> the same table as the local results."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest

from unlearn_bench.report.__main__ import main as report_main
from unlearn_bench.report.__main__ import write_report
from unlearn_bench.report.collect import load_records, observations
from unlearn_bench.report.render import to_markdown
from unlearn_bench.report.tables import build_tables
from unlearn_bench.report.wandb_reader import read_offline

PNG_MAGIC = b"\x89PNG"


def record(method, seed, dr, df, mia, t=1.0, *, dataset="cifar100", model="resnet18", task="class",
           forget="rocket", gold=(72.0, 0.0, 1.0), scale="paper", models=None, report=None,
           n_forget=500) -> dict:
    """A minimal results record with the given paper columns (unlearned and gold)."""
    return {
        "method": method, "dataset": dataset, "model": model, "task": task, "forget": forget,
        "seed": seed,
        "paper_columns": {"unlearned": {"Dr": dr, "Df": df, "MIA": mia},
                          "gold": dict(zip(("Dr", "Df", "MIA"), gold, strict=True))},
        "timing": {"method_s": t, "measured_s": t},
        "method_report": report or {},
        "split": {"forget_train": n_forget},
        "config": {"seed": seed, "method": {"name": method}, "dataset": {"name": dataset},
                   "model": {"name": model}, "task": {"forget": forget},
                   "scale": {"name": scale, "models": models or {"resnet18": "resnet18", "vit": "vit"}}},
    }


def write(root: Path, name: str, rec: dict) -> Path:
    path = root / name / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return path


@pytest.fixture
def table2_runs(tmp_path) -> Path:
    """CIFAR-100 rocket, ResNet18, two seeds: finetune is the closest to retrain on Dr, SSD on Df/MIA."""
    runs = tmp_path / "multirun"
    rows = {
        "baseline": [(76.0, 80.0, 90.0), (76.0, 80.0, 90.0)],
        "retrain": [(72.0, 0.0, 1.0), (74.0, 0.0, 1.0)],
        "finetune": [(73.0, 10.0, 20.0), (73.0, 12.0, 22.0)],
        "ssd": [(70.0, 0.0, 2.0), (71.0, 0.0, 3.0)],
    }
    for method, seeds in rows.items():
        for seed, (dr, df, mia) in enumerate(seeds):
            write(runs, f"{method}{seed}", record(method, seed, dr, df, mia))
    return runs


def test_tables_have_the_right_numbers_and_bold(table2_runs, tmp_path):
    out = tmp_path / "report"
    assert report_main([str(table2_runs), "--out", str(out)]) == 0
    md = (out / "tables.md").read_text()
    assert "### Table 2: CIFAR-100 full-class forgetting (seeds 0, 1; n = 2)" in md
    # Dr: retrain 72/74, finetune 73/73 (distance 0–1), SSD 70/71 (distance 1.5–3.5), baseline 76:
    # finetune's distance interval [0, 1] does not lie below SSD's, so no winner
    assert ("| resnet18 | rocket | Dr | 2 | 76.00 [76.00, 76.00] (76.27) | 73.00 [72.00, 74.00] (72.83) | "
            "73.00 [73.00, 73.00] (64.05) | 70.50 [70.00, 71.00] (74.54) | tie (finetune, ssd) / amnesiac |") in md
    # Df: SSD 0 = retrain 0 exactly, separated from finetune's 10–12
    assert "| resnet18 | rocket | Df | 2 |" in md and "**0.00 [0.00, 0.00]** (0.00) | ssd /" in md
    assert "**2.50 [2.00, 3.00]** (2.20) | ssd / unsir |" in md  # MIA: SSD 2–3 against retrain's 1, finetune 20–22
    assert ("Paper's claims on these numbers — SSD forgets (Df nearer retrain's than the baseline's, separated): "
            "holds in 1/1; SSD keeps retain accuracy (Dr not separated below retrain's): holds in 0/1 (not for "
            "rocket); SSD's MIA among the closest to retrain: holds in 1/1.") in md
    tex = (out / "table_2.tex").read_text()
    assert r"\textbf{0.00 [0.00, 0.00]} (0.00)" in tex and r"\begin{tabular}" in tex
    rows = list(csv.DictReader((out / "tables.csv").open()))
    ssd_dr = next(r for r in rows if r["method"] == "ssd" and r["metric"] == "Dr")
    assert (float(ssd_dr["mean"]), float(ssd_dr["std"]), ssd_dr["n"]) == (70.5, pytest.approx(0.7071, abs=1e-4), "2")
    assert (float(ssd_dr["low"]), float(ssd_dr["high"])) == (70.0, 71.0)
    assert (float(ssd_dr["paper_mean"]), ssd_dr["closest"], ssd_dr["verdict"]) == (74.54, "0", "tie (finetune, ssd)")
    for png in ("fig2_time.png", "gap_scatter.png"):
        assert (out / png).read_bytes()[:4] == PNG_MAGIC


def test_datasets_outside_the_paper_keep_the_layout(tmp_path):
    models = {"resnet18": "cnn", "vit": "vit_tiny"}
    for seed in (0, 1):
        for method, dr in (("retrain", 95.0), ("ssd", 94.0)):
            write(tmp_path, f"{method}{seed}", record(method, seed, dr, 0.0, 0.0, dataset="digits", model="cnn",
                                                     forget="3", scale="cpu", models=models))
    tables = build_tables(observations(load_records([tmp_path])))
    assert [t.id for t in tables] == ["digits_class_cpu"]
    md = to_markdown(tables[0])
    assert "layout of Table 2; not in the paper" in md and "[scale=cpu]" in md
    assert "| cnn (for resnet18) | 3 | Dr | 2 | 95.00 [95.00, 95.00] (—) | **94.00 [94.00, 94.00]** (—) | ssd / — |" in md


def test_table1_random_names_and_ssd_time_with_cached_importances(tmp_path):
    """Random targets map to the paper's random_100; an SSD run that read []_D from the cache is
    charged the compute time of the run that computed it (the paper recomputes it every time)."""
    common = {"dataset": "cifar10", "task": "random", "forget": "100 random samples", "n_forget": 100}
    write(tmp_path, "r", record("retrain", 0, 91.0, 94.0, 74.0, t=300.0, **common))
    write(tmp_path, "f", record("fisher", 0, 12.0, 11.0, 46.0, t=3000.0, **common))
    computed = {"importance_key": "k", "importance_train_s": 80.0, "importance_cache_hit": False}
    cached = {"importance_key": "k", "importance_train_s": 0.5, "importance_cache_hit": True}
    write(tmp_path, "s0", record("ssd", 0, 89.0, 93.0, 72.0, t=100.0, report=computed, **common))
    write(tmp_path, "s1", record("ssd", 1, 89.0, 93.0, 72.0, t=20.5, report=cached, **common))
    tables = {t.id: t for t in build_tables(observations(load_records([tmp_path])))}
    assert set(tables) == {"1", "6"}
    t_row = next(r for r in tables["1"].rows if r.metric == "t")
    assert t_row.forget == "random_100" and t_row.cells["ssd"].mean == pytest.approx(100.0)
    assert t_row.cells["ssd"].paper.mean == 121 and t_row.cells["ssd"].cached  # s1's []_D time came from s0
    assert t_row.closest == [] and t_row.verdict.tied == ("ssd", "retrain")  # n = 1 for retrain: no winner
    assert tables["1"].title.startswith("Table 1:")
    assert "fisher" not in tables["6"].methods


def test_duplicates_and_search_trials_are_left_out(table2_runs, tmp_path):
    copy = table2_runs / "wandb" / "offline-run-1" / "files" / "results.json"
    copy.parent.mkdir(parents=True)
    copy.write_text((table2_runs / "ssd0" / "results.json").read_text())
    trial = record("ssd", 0, 1.0, 1.0, 1.0)
    trial["config"]["search"] = {"method": "ssd"}
    write(table2_runs, "trial", trial)
    assert len(load_records([table2_runs])) == 8
    assert len(load_records([table2_runs], include_searches=True)) == 9


@pytest.mark.slow
def test_wandb_offline_runs_give_the_same_table(make_cfg, tmp_path, monkeypatch):
    """Two runs logged to W&B offline: their run folders alone rebuild the local results' table."""
    from unlearn_bench.experiment.runner import run

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for method in ("baseline", "ssd"):
        run(make_cfg("scale=smoke", "logger=wandb", f"method={method}", f"paths.output_dir={tmp_path}/runs/{method}"))
    local = [p for p in (tmp_path / "runs").rglob("results.json") if "wandb" not in p.parts]
    assert len(local) == 2
    copies = list((tmp_path / "runs").glob("*/wandb/offline-run-*/files/results.json"))
    assert len(copies) == 2 and not any(p.is_symlink() for p in copies)  # survives moving the run
    wandb_records = read_offline([tmp_path / "runs"])
    assert len(wandb_records) == 2
    local_tables = build_tables(observations(load_records(local)))
    assert [to_markdown(t) for t in build_tables(observations(wandb_records))] == [to_markdown(t) for t in local_tables]
    written = write_report(wandb_records, tmp_path / "report")
    assert written["markdown"].exists() and os.path.getsize(written["gap_scatter"]) > 0


def test_table4_pools_the_five_people_into_the_papers_mean_row(tmp_path):
    for i, forget in enumerate(("1", "10", "20", "30", "40")):
        for method in ("retrain", "ssd"):
            write(tmp_path, f"{method}{forget}", record(method, 0, 98.0 + i % 2, 0.0, 0.0, dataset="pins", forget=forget))
    (table,) = build_tables(observations(load_records([tmp_path])))
    assert table.id == "4" and {r.forget for r in table.rows} == {"ids_1_10_20_30_40_mean"}
    assert table.title == ("Table 4: PinsFaceRecognition, forgetting one person (mean over ids 1, 10, 20, 30, 40) "
                           "(seeds 0; n = 1)")
    dr = next(r for r in table.rows if r.metric == "Dr")
    assert dr.cells["ssd"].mean == 98.4 and dr.cells["ssd"].n == 5 and dr.cells["ssd"].paper.mean == 98.42


def test_titles_come_from_the_runs_present(tmp_path):
    """One faces id is not "mean over ids 1, 10, 20, 30, 40" (and gets no paper values); a Fisher
    grid on CIFAR-10 class forgetting is not the paper's Table 1."""
    for method in ("retrain", "ssd"):
        for seed in (0, 1, 2):
            write(tmp_path / "pins", f"{method}{seed}", record(method, seed, 98.0, 0.0, 0.0, dataset="pins", forget="1"))
    (table,) = build_tables(observations(load_records([tmp_path / "pins"])))
    assert table.title == "Table 4: PinsFaceRecognition, forgetting one person (id 1) (seeds 0, 1, 2; n = 3)"
    assert {r.forget for r in table.rows} == {"1"} and table.rows[0].cells["ssd"].paper is None
    for method in ("retrain", "fisher", "ssd"):
        write(tmp_path / "c10", method, record(method, 0, 90.0, 0.0, 0.0, dataset="cifar10", forget="cat"))
    tables = {t.id: t for t in build_tables(observations(load_records([tmp_path / "c10"])))}
    assert not tables["1"].title.startswith("Table 1")
    assert "layout of Table 1; settings: cifar10 class cat" in tables["1"].title
    assert tables["cifar10_class"].title.startswith("cifar10: class forgetting (layout of Table 2; not in the paper)")


def test_paper_standin_puts_the_cifar_setting_beside_other_datasets(tmp_path):
    for method, dr in (("retrain", 95.0), ("ssd", 94.0)):
        write(tmp_path, method, record(method, 0, dr, 0.0, 0.0, dataset="digits", forget="3"))
    (table,) = build_tables(observations(load_records([tmp_path])), standin=True)
    assert "paper column: Table 2, cifar100 rocket" in table.title
    dr = next(r for r in table.rows if r.metric == "Dr")
    assert dr.cells["ssd"].paper.mean == 74.54 and dr.forget == "3" and dr.paper_closest == ["amnesiac"]


def test_settings_of_one_method_get_their_own_columns_and_sizes_their_own_tables(tmp_path):
    """SSD at two α in one table: two labelled columns; runs on other data sizes: another table."""
    for alpha in (10.0, 21.6):
        rec = record("ssd", 0, 90.0 + alpha / 10, 0.0, 0.0, dataset="digits", forget="3")
        rec["config"]["method"]["alpha"] = alpha
        write(tmp_path, f"ssd{alpha}", rec)
    small = record("ssd", 0, 50.0, 0.0, 0.0, dataset="digits", forget="3")
    small["config"]["dataset"]["train_subset"] = 300
    small["config"]["method"]["alpha"] = 10.0
    write(tmp_path, "small", small)
    write(tmp_path, "retrain", record("retrain", 0, 93.0, 0.0, 0.0, dataset="digits", forget="3"))
    tables = build_tables(observations(load_records([tmp_path])))
    assert len(tables) == 2
    big = next(t for t in tables if len(t.methods) == 3)
    assert big.methods == ["retrain", "ssd (alpha=10)", "ssd (alpha=21.6)"]
    assert next(r for r in big.rows if r.metric == "Dr").verdict.tied == ("ssd (alpha=21.6)", "ssd (alpha=10)")


def test_layouts_outside_the_paper_show_every_method_and_the_data_it_read(tmp_path):
    models = {"resnet18": "cnn", "vit": "vit_tiny"}
    used = {"retrain": ["retain"], "fisher": ["retain"], "jit": ["forget"], "scrub": ["forget", "retain"]}
    for method, data in used.items():
        rec = record(method, 0, 90.0, 0.0, 0.0, dataset="digits", model="cnn", forget="3", scale="cpu",
                     models=models)
        write(tmp_path, method, {**rec, "data_used": data})
    tables = {t.id: t for t in build_tables(observations(load_records([tmp_path])))}
    digits = tables["digits_class_cpu"]
    assert set(digits.methods) == set(used)  # Fisher too: Table 1 is not the only place it shows
    assert "1_cpu" in tables
    assert "Data read: retrain: retain; fisher: retain; scrub: forget + retain; jit: forget." in to_markdown(digits)


def test_the_report_skips_unusable_results_files_with_a_warning_naming_each(table2_runs, tmp_path, caplog):
    bad = {
        "latin1": b"{\"method\": \"caf\xe9\"}",
        "truncated": b"{\"method\": ",
        "list": b"[1, 2, 3]",
        "foreign": json.dumps({"accuracy": 0.9, "model": "x"}).encode(),
        "wrong_types": json.dumps({**record("ssd", 0, 1, 2, 3), "paper_columns": {"unlearned": "x"}}).encode(),
    }
    paths = {}
    for name, data in bad.items():
        paths[name] = table2_runs / f"bad_{name}" / "results.json"
        paths[name].parent.mkdir()
        paths[name].write_bytes(data)
    (table2_runs / "bad_dir" / "results.json").mkdir(parents=True)
    out = tmp_path / "report"
    assert report_main([str(table2_runs), "--out", str(out)]) == 0
    assert len(load_records([table2_runs])) == 8
    for name, path in paths.items():
        assert f"Skipping {path}: " in caplog.text, name
    assert "Skipping" in caplog.text and "tables.md" in {p.name for p in out.iterdir()}


def test_methods_that_read_the_retain_set_are_marked_and_protocols_kept_apart(tmp_path):
    for method, used in (("retrain", ["retain"]), ("finetune", ["retain"]), ("ssd", ["forget", "train_importance"])):
        rec = record(method, 0, 70.0, 0.0, 1.0)
        rec["data_used"] = rec["data_read"] = used
        write(tmp_path, method, rec)
        official = {**rec, "config": {**rec["config"], "protocol": {"name": "official"}}}
        write(tmp_path, f"{method}_official", official)
    tables = build_tables(observations(load_records([tmp_path])))
    assert sorted(t.id for t in tables) == ["2", "2_paper_protocol_official"]
    for table in tables:
        assert table.retain_users == {"retrain", "finetune"}
        header = to_markdown(table).splitlines()[2]
        assert "| retrain ‡ | finetune ‡ | ssd |" in header


def _every_kind_of_run(root: Path) -> None:
    """One record per paper table (Table 1 comes with Fisher on CIFAR-10), and a sequential one."""
    from test_report_sequence import sequence_record

    settings = {"2": ("cifar100", "class", "rocket"), "3": ("cifar20", "class", "vehicle2"), "4": ("pins", "class", "1"),
                "5": ("cifar20", "subclass", "rocket"), "6": ("cifar10", "random", "100 random samples")}
    for dataset, task, forget in settings.values():
        for method in ("retrain", "ssd", "fisher"):
            write(root, f"{dataset}-{task}-{method}",
                  record(method, 0, 70.0, 1.0, 2.0, dataset=dataset, task=task, forget=forget, n_forget=100))
    write(root, "sequence", sequence_record("ssd", 0, [1.0, 2.0]))


def test_the_report_rebuilds_every_table_from_wandb_offline_folders(tmp_path):
    """The results.json each W&B run keeps (files/) gives the same report as the run folders."""
    local, wandb_root = tmp_path / "local", tmp_path / "wandb_runs"
    _every_kind_of_run(local)
    for i, path in enumerate(sorted(local.rglob("results.json"), key=lambda p: p.stat().st_mtime_ns)):  # same order
        copy = wandb_root / str(i) / "wandb" / f"offline-run-2026_{i}" / "files" / "results.json"
        copy.parent.mkdir(parents=True)
        copy.write_text(path.read_text())
    assert report_main([str(local), "--out", str(tmp_path / "from_local")]) == 0
    assert report_main([str(wandb_root), "--out", str(tmp_path / "from_wandb")]) == 0
    assert "Sequential forgetting" in (tmp_path / "from_wandb" / "tables.md").read_text()
    for name in ("tables.md", "tables.csv", *(f"table_{n}.tex" for n in "123456")):
        assert (tmp_path / "from_wandb" / name).read_text() == (tmp_path / "from_local" / name).read_text()


def test_an_online_project_is_read_through_the_wandb_api(tmp_path, monkeypatch):
    """read_project against a stand-in for wandb.Api (the real one needs a login and the network):
    every run's results.json is fetched; a run without one is skipped."""
    import wandb

    from unlearn_bench.report.wandb_reader import read_project

    saved = {"a": record("ssd", 0, 70.0, 1.0, 2.0), "b": record("retrain", 0, 71.0, 0.0, 1.0), "c": None}

    class File:
        def __init__(self, run_id):
            self.run_id = run_id

        def download(self, root, replace):
            if saved[self.run_id] is None:
                raise ValueError("no such file")
            path = Path(root) / "results.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(saved[self.run_id]))
            return open(path)

    class Run:
        def __init__(self, run_id):
            self.id = run_id

        def file(self, name):
            assert name == "results.json"
            return File(self.id)

    class Api:
        def runs(self, path, filters):
            assert path == "me/unlearn-bench"
            return [Run(run_id) for run_id in saved]

    monkeypatch.setattr(wandb, "Api", Api)
    assert sorted(r["method"] for r in read_project("me/unlearn-bench")) == ["retrain", "ssd"]


def test_an_infinite_value_is_left_out_of_its_cell_with_a_warning(tmp_path, caplog):
    # results written before ZRF moved to log space hold −Infinity for a collapsed model
    for seed, zrf in enumerate((-math.inf, 0.75, 0.25)):
        rec = record("finetune", seed, 73.0, 10.0, 20.0)
        write(tmp_path, f"finetune{seed}", {**rec, "lens_columns": {"unlearned": {"ZRF": zrf}}})
    out = tmp_path / "report"
    assert report_main([str(tmp_path), "--out", str(out)]) == 0
    table = next(t for t in build_tables(observations(load_records([tmp_path]))) if t.id == "2")
    zrf = next(r for r in table.rows if r.metric == "ZRF").cells["finetune"]
    assert (zrf.mean, zrf.n, zrf.values) == (0.5, 2, (0.75, 0.25))
    assert "ZRF of finetune (seed 0, forget rocket) is -inf: left out of its cell" in caplog.text
