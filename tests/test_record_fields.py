"""One scoring path: a single request, a sequence of requests and an evaluate-only run write records with the
same fields (experiment/record.RECORD_FIELDS, and each kind's own), scored alike."""

from __future__ import annotations

import pytest

from unlearn_bench.experiment.evaluate_only import evaluate_saved
from unlearn_bench.experiment.record import KIND_FIELDS, RECORD_FIELDS
from unlearn_bench.experiment.runner import run
from unlearn_bench.experiment.scoring import VERDICT_FIELDS

TINY = ("dataset.train_subset=300", "dataset.test_subset=100", "training.epochs=2", "training.milestones=[]",
        "lenses.relearn.max_steps=5")
WRITTEN = {"artifacts"}  # experiment/rescue.save_run notes the files it saved beside the record


@pytest.fixture
def records(make_cfg, tmp_path, one_thread):
    single = run(make_cfg("method=finetune", "method.epochs=1", *TINY))
    saved = tmp_path / "out" / single["artifacts"]["unlearned_model"]
    evaluated = evaluate_saved(make_cfg(f"+model_file={saved}", "method=finetune", *TINY))
    sequence = run(make_cfg("method=finetune", "method.epochs=1", "task.requests=2", *TINY))
    return {"single": single, "sequence": sequence, "evaluate": evaluated}


def test_every_kind_of_run_writes_the_same_fields(records):
    for kind, record in records.items():
        assert set(record) == {*RECORD_FIELDS, *KIND_FIELDS[kind], *WRITTEN}, kind
    assert records["evaluate"]["method"] == "finetune" and records["evaluate"]["timing"]["method_s"] is None
    assert records["sequence"]["data_read"] == records["single"]["data_read"] == ["retain"]
    assert records["sequence"]["protocol"] == records["single"]["protocol"]


def test_each_request_of_a_sequence_is_scored_like_a_single_request(records):
    single, steps = records["single"], records["sequence"]["sequence"]
    assert len(steps) == 2
    for step in steps:
        assert set(VERDICT_FIELDS) <= set(step)
        assert set(step["lenses"]) == set(single["lenses"]) == {"js_to_gold", "zrf", "zrf_reduction", "relearn",
                                                                "relearn_config"}
        assert step["tuning_objective"] is not None and step["lens_columns"].keys() == single["lens_columns"].keys()
    # the first request is the single run's request: same split, same models, the same method from the same seed
    assert steps[0]["metrics"] == single["metrics"]
    assert steps[0]["lenses"] == single["lenses"]


def test_evaluate_only_scores_the_saved_model_as_its_run_did(records):
    single, evaluated = records["single"], records["evaluate"]
    for key in ("metrics", "paper_columns", "gap_to_gold", "distance_to_gold", "tuning_objective", "lens_columns"):
        assert evaluated[key] == single[key], key
    assert evaluated["lenses"]["js_to_gold"] == single["lenses"]["js_to_gold"]
