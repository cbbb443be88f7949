"""The in-process memo of the reference models' evaluation: reused only where nothing differs."""

from __future__ import annotations

import numpy as np

import unlearn_bench.experiment.scoring as scoring
from unlearn_bench.experiment.runner import run
from unlearn_bench.metrics.reference_memo import (
    REFERENCE_MEMO,
    ReferenceMemo,
    fingerprint,
    role_memo,
)


def counter():
    calls = []

    def compute(value):
        def run():
            calls.append(value)
            return value
        return run

    return calls, compute


def test_reference_roles_are_computed_once_per_key_and_context():
    memo = ReferenceMemo()
    calls, compute = counter()
    remember = role_memo({"original": "k-orig", "gold": "k-gold"}, "ctx", memo)
    assert remember("original", "outputs", compute(1)) == 1
    assert remember("original", "outputs", compute(2)) == 1
    assert remember("gold", "outputs", compute(3)) == 3
    assert remember("gold", "relearn", compute(4)) == 4
    assert calls == [1, 3, 4]
    assert memo.hits == 1


def test_the_unlearned_model_and_unkeyed_models_are_never_remembered():
    memo = ReferenceMemo()
    calls, compute = counter()
    remember = role_memo({"original": None, "gold": "k-gold"}, "ctx", memo)
    for value in (1, 2):
        remember("unlearned", "outputs", compute(value))
        remember("original", "outputs", compute(value))
    assert calls == [1, 1, 2, 2]
    assert len(memo) == 0


def test_another_context_or_model_key_recomputes():
    memo = ReferenceMemo()
    calls, compute = counter()
    role_memo({"gold": "k"}, "ctx-a", memo)("gold", "outputs", compute(1))
    role_memo({"gold": "k"}, "ctx-b", memo)("gold", "outputs", compute(2))
    role_memo({"gold": "k2"}, "ctx-a", memo)("gold", "outputs", compute(3))
    assert calls == [1, 2, 3]


def test_the_memo_drops_the_least_recently_used_entry():
    memo = ReferenceMemo(capacity=2)
    calls, compute = counter()
    memo.get_or_compute("a", compute("a"))
    memo.get_or_compute("b", compute("b"))
    memo.get_or_compute("a", compute("a2"))  # a is now the most recent
    memo.get_or_compute("c", compute("c"))  # drops b
    memo.get_or_compute("b", compute("b2"))
    assert calls == ["a", "b", "c", "b2"]
    assert len(memo) == 2


def test_fingerprints_tell_index_arrays_apart():
    a, b = np.array([1, 2, 3]), np.array([1, 2, 4])
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.astype(np.int32))
    assert fingerprint({"x": 1, "y": 2}) == fingerprint({"y": 2, "x": 1})


def test_a_second_run_reuses_the_reference_models_results_and_records_the_same(make_cfg, monkeypatch, one_thread):
    passes = []
    real = scoring.model_outputs

    def counted(model, *args, **kwargs):
        passes.append(model)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(scoring, "model_outputs", counted)
    first = run(make_cfg("method=finetune", "method.epochs=1"))
    assert len(passes) == 3  # unlearned, original, gold
    second = run(make_cfg("method=baseline"))
    assert len(passes) == 4  # only the unlearned model again
    assert REFERENCE_MEMO.hits >= 3  # original and gold outputs, gold relearn time
    REFERENCE_MEMO.clear()
    fresh = run(make_cfg("method=baseline"))
    assert len(passes) == 7
    for role in ("original", "gold"):
        assert second["metrics"][role] == fresh["metrics"][role] == first["metrics"][role]
        assert second["lens_columns"][role] == fresh["lens_columns"][role]
    assert second["lenses"]["relearn"]["gold"] == fresh["lenses"]["relearn"]["gold"]


def test_another_forget_request_does_not_reuse_the_original_models_results(make_cfg, monkeypatch, one_thread):
    passes = []
    real = scoring.model_outputs
    monkeypatch.setattr(scoring, "model_outputs",
                        lambda model, *a, **k: passes.append(model) or real(model, *a, **k))
    run(make_cfg("method=baseline", "task.forget=1"))
    run(make_cfg("method=baseline", "task.forget=2"))
    assert len(passes) == 6  # same original model, other evaluated splits
