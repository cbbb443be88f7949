"""Collect results.json records from folders (runs, sweeps, W&B offline run folders) and flatten
each into an Observation: one method run's Dr, Df, MIA and time, in the paper's names."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from unlearn_bench.experiment.record import RESULTS_PATTERN, is_results_file
from unlearn_bench.metrics.split_metrics import DESTROYED, DIVERGED
from unlearn_bench.report.paper import paper_forget_name

log = logging.getLogger(__name__)

# config keys that do not change what a run measures (where it wrote, how it logged)
_NOT_IDENTITY = ("paths", "logger")


@dataclass(frozen=True)
class Observation:
    """One run, in table terms. `values` holds Dr, Df, MIA (%) and t (s, the method's time)."""

    dataset: str
    task: str
    model: str
    paper_model: str
    forget: str
    method: str
    seed: int
    values: dict[str, float]
    scale: str = "paper"  # conf/scale/ of the run: tables never mix scales
    gap: dict[str, float] = field(default_factory=dict)  # unlearned − gold of Dr, Df, MIA
    importance_d_s: float | None = None  # SSD: seconds of the []_D pass (computed, not loaded)
    label: str = ""  # the column name when one table holds several settings of a method
    data_used: tuple[str, ...] = ()  # what the method read: forget, retain, train_importance
    forget_given: str = ""  # task.forget as given on the command line (e.g. a person's id)
    cached_t: bool = False  # t holds a time read from a cache (measured in another run)
    uses_retain: bool = False  # the method read the retain set (results' data_read, else data_used)
    params_changed_pct: float | None = None  # the SSD family: share of the network it changed (%)
    outcomes: tuple[str, ...] = ()  # "diverged", "destroyed": the run's numbers are not unlearning

    @property
    def column(self) -> str:
        return self.label or self.method


def find_results(paths: Iterable[str | Path]) -> list[Path]:
    """Every results.json under the given folders (or the files themselves), W&B run folders included."""
    found = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob(RESULTS_PATTERN) if is_results_file(p)))
        else:
            log.warning("No such file or folder: %s", path)
    return found


def load_records(paths: Iterable[str | Path], include_searches: bool = False,
                 keep_duplicates: bool = False) -> list[dict]:
    """The records of `paths`, one per distinct run (the newest file wins), hyperparameter-search
    trials left out unless include_searches (their SSD rows would mix many α, λ)."""
    dated = []
    for path in find_results(paths):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            mtime = path.stat().st_mtime
        except (OSError, ValueError) as err:  # unreadable, not UTF-8, not JSON
            log.warning("Skipping %s: unreadable (%s).", path, err)
            continue
        problem = schema_problem(record)
        if problem is not None:
            log.warning("Skipping %s: not an unlearn-bench results record (%s).", path, problem)
            continue
        dated.append((mtime, record))
    records = [r for _, r in sorted(dated, key=lambda pair: pair[0])]
    return records if keep_duplicates else dedupe(records, include_searches)


_REQUIRED = {"method": str, "dataset": str, "model": str, "task": str, "seed": int, "paper_columns": dict}
_OPTIONAL = {"config": dict, "timing": dict, "method_report": dict, "split": dict}


def schema_problem(record) -> str | None:
    """Why `record` cannot be read as a results record (None when it can)."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    if record.get("mode") == "evaluate":
        return "an evaluate-only record (python -m unlearn_bench.evaluate), not a method's run"
    for key, kind in _REQUIRED.items():
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            return f"{key} is missing or not a {kind.__name__}"
    for key, kind in _OPTIONAL.items():
        if key in record and not isinstance(record[key], kind):
            return f"{key} is not a {kind.__name__}"
    if "forget" not in record:
        return "forget is missing"
    try:
        _observation(record, {})
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return f"unexpected content ({type(err).__name__}: {err})"
    return None


def dedupe(records: Iterable[dict], include_searches: bool = False) -> list[dict]:
    """One record per run identity (its config minus paths and loggers); later records win."""
    by_identity: dict[str, dict] = {}
    for record in records:
        if not include_searches and is_search_trial(record):
            continue
        by_identity[run_identity(record)] = record
    return list(by_identity.values())


def run_identity(record: dict) -> str:
    config = {k: v for k, v in record.get("config", {}).items() if k not in _NOT_IDENTITY}
    trainer = dict(config.get("trainer") or {})
    trainer.pop("enable_progress_bar", None)
    config["trainer"] = trainer
    key = {"config": config, **{k: record.get(k) for k in ("method", "dataset", "model", "task", "forget", "seed")}}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def paper_model_of(record: dict) -> str:
    """The paper's model our model stood in for (scale.models maps paper model -> ours)."""
    models = (record.get("config", {}).get("scale") or {}).get("models") or {}
    for paper_model, ours in models.items():
        if ours == record["model"]:
            return paper_model
    return record["model"]


def is_search_trial(record: dict) -> bool:
    return "search" in record.get("config", {})


def observations(records: list[dict], timing_records: list[dict] | None = None) -> list[Observation]:
    """Flatten records. SSD's time counts its []_D pass even when the pass was read from the cache
    (the paper recomputes it each run): the compute time comes from the run that computed it, looked
    up in `timing_records` too (e.g. search trials, which the tables leave out)."""
    runs = [*(timing_records or []), *records]
    steps = [{"method": r["method"], **step} for r in runs for step in r.get("sequence", [])]  # sequential requests
    computed = {r["method_report"]["importance_key"]: r["method_report"]["importance_train_s"]
                for r in [*runs, *steps] if _is_ssd(r) and not r["method_report"].get("importance_cache_hit")}
    setups = _variants(records, lambda r: (r["dataset"], r["task"], _scale(r)), _setup_fields)
    labels = _variants(records, lambda r: (r["dataset"], r["task"], _scale(r), setups[id(r)], r["model"],
                                           algorithm(r)),
                       lambda r: _flat(r.get("config", {}).get("method") or {}, "method."))
    obs = []
    for r in records:
        o = _observation(r, computed)
        scale = f"{o.scale}; {setups[id(r)]}" if setups[id(r)] else o.scale
        label = f"{o.method} ({labels[id(r)]})" if labels[id(r)] else ""
        obs.append(replace(o, scale=scale, label=label))
    return obs


def _scale(record: dict) -> str:
    return str((record.get("config", {}).get("scale") or {}).get("name", "paper"))


def _setup_fields(record: dict) -> dict:
    """The sizes a command line may change within one scale (they must not mix in one table)."""
    config = record.get("config", {})
    dataset, training = config.get("dataset") or {}, config.get("training") or {}
    return {"dataset.train_subset": dataset.get("train_subset"), "dataset.test_subset": dataset.get("test_subset"),
            "training.epochs": training.get("epochs")}


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _variants(records: list[dict], group, fields) -> dict[int, str]:
    """Per record (by id): 'key=value ...' of the fields that differ within its group, '' if none."""
    groups: dict = {}
    for r in records:
        groups.setdefault(group(r), []).append(r)
    labels = {}
    for members in groups.values():
        values = [fields(r) for r in members]
        keys = sorted({k for v in values for k in v if len({json.dumps(x.get(k), default=str) for x in values}) > 1})
        for r, v in zip(members, values, strict=True):
            labels[id(r)] = " ".join(f"{k.removeprefix('method.')}={_short(v.get(k))}" for k in keys)
    return labels


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


SSD_FAMILY = ("ssd", "assd", "lfssd", "lf_assd")
# a row of SSD's family is named by what ran (its report's importances and α rule), not by the name it ran
# under: until 2026-12 method=ssd ran label-free importances with ASSD's rule on digits, Fashion-MNIST and
# user data, which is lf_assd
SSD_ALGORITHMS = {("fisher", "fixed"): "ssd", ("fisher", "assd"): "assd", ("label_free", "fixed"): "lfssd",
                  ("label_free", "assd"): "lf_assd"}


def algorithm(record: dict) -> str:
    """The row name of a record: its method's, or for SSD's family the algorithm its importances and α rule
    make (a combination without a name of its own says both)."""
    method = record["method"]
    report = record.get("method_report") or {}
    if method not in SSD_FAMILY or "estimator" not in report or "alpha_rule" not in report:
        return method
    importances = "label_free" if str(report["estimator"]).startswith("output_norm") else "fisher"
    return SSD_ALGORITHMS.get((importances, report["alpha_rule"]),
                              f"{method} ({importances.replace('_', '-')} importances, {report['alpha_rule']} α)")


def _is_ssd(record: dict) -> bool:
    """SSD and its variants: their time counts the []_D pass, computed or read from the store."""
    return record["method"] in SSD_FAMILY and "importance_train_s" in (record.get("method_report") or {})


def observation(record: dict) -> Observation:
    """One record in table terms, on its own (SSD's []_D time read from a cache stays as recorded)."""
    return _observation(record, {})


def _observation(record: dict, computed: dict[str, float]) -> Observation:
    cols = record["paper_columns"]
    values = {k: _num(cols["unlearned"].get(k)) for k in ("Dr", "Df", "MIA")}
    gap = {k: _num(cols["unlearned"].get(k)) - _num(cols["gold"].get(k)) for k in ("Dr", "Df", "MIA")}
    timing = record.get("timing") or {}
    t = _num(timing.get("method_s"))
    report = record.get("method_report") or {}
    cached_t = bool(report.get("gold_cache_hit"))  # retrain reads the gold model's training time
    importance_d = None
    if _is_ssd(record):
        report = record["method_report"]
        importance_d = report.get("importance_train_compute_s")  # if the store records it
        if importance_d is None:
            importance_d = report["importance_train_s"] if not report.get("importance_cache_hit") \
                else computed.get(report.get("importance_key"), report["importance_train_s"])
            cached_t = bool(report.get("importance_cache_hit"))
        t = t - report["importance_train_s"] + importance_d
    values["t"] = t
    values.update({k: _num(v) for k, v in ((record.get("lens_columns") or {}).get("unlearned") or {}).items()})
    n_forget = (record.get("split") or {}).get("forget_train")
    return Observation(
        dataset=record["dataset"], task=record["task"], model=record["model"],
        paper_model=paper_model_of(record),
        forget=paper_forget_name(record["task"], str(record["forget"]), n_forget),
        method=algorithm(record), seed=int(record["seed"]), values=values, gap=gap,
        scale=_scale_and_protocol(record),
        uses_retain="retain" in record.get("data_read", record.get("data_used", [])),
        importance_d_s=importance_d, cached_t=cached_t,
        forget_given=str(((record.get("config") or {}).get("task") or {}).get("forget", record["forget"])),
        data_used=tuple(record.get("data_used") or ()),
        params_changed_pct=report.get("params_changed_pct"),
        outcomes=_outcomes(record.get("warnings") or []),
    )


def _outcomes(warnings: list[str]) -> tuple[str, ...]:
    found = (("diverged", DIVERGED), ("destroyed", DESTROYED))
    return tuple(name for name, phrase in found if any(phrase in w for w in warnings))


def _scale_and_protocol(record: dict) -> str:
    """The scale a table keeps apart; protocol=official runs form tables of their own too."""
    config = record.get("config", {})
    scale = str((config.get("scale") or {}).get("name", "paper"))
    protocol = (config.get("protocol") or {}).get("name", "ours")
    return scale if protocol == "ours" else f"{scale} protocol={protocol}"


def _num(value) -> float:
    return float("nan") if value is None else float(value)
