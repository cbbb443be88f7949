"""What N buys: Kendall's τ by hand, and the ranking of a clearly better and a clearly worse method
kept at every n drawn from hand-made per-model data."""

from __future__ import annotations

import json

import numpy as np

from unlearn_bench.bench.challenge_n import kendall_tau, main


def test_kendall_tau_by_hand():
    assert kendall_tau(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert kendall_tau(["a", "b", "c"], ["c", "b", "a"]) == -1.0
    assert kendall_tau(["a", "c", "b"], ["a", "b", "c"]) == 1 / 3  # (a, b) and (a, c) agree, (b, c) does not


def _side(confidences):
    n = len(confidences)
    return {"confidences": np.asarray(confidences).tolist(), "retain_acc": [99.0] * n, "test_acc": [98.0] * n}


def _write(root, method, unlearned, retrained):
    record = {"dataset": "digits", "model": "cnn", "task": "random", "forget": "20 random samples", "seed": 0,
              "method": method, "lenses": {"populations": {"challenge": {"per_model": {
                  "unlearned": _side(unlearned), "retrained": _side(retrained)}}}}}
    (root / method).mkdir(parents=True)
    (root / method / "results.json").write_text(json.dumps(record))


def test_a_clear_ranking_holds_at_every_n(tmp_path):
    rng = np.random.default_rng(0)
    retrained = rng.normal(0.0, 1.0, size=(12, 5))
    _write(tmp_path, "close", rng.normal(0.0, 1.0, size=(12, 5)), retrained)   # as retraining
    _write(tmp_path, "far", rng.normal(30.0, 1.0, size=(12, 5)), retrained)    # told apart every time
    result = main([str(tmp_path), "--ns", "4", "8", "16", "--draws", "5", "--out", str(tmp_path / "out")])
    assert [(a["n"], a["kendall_tau"], a["top_kept"]) for a in result["agreement"]] == [(4, 1.0, 1.0), (8, 1.0, 1.0)]
    far = [r for r in result["scores"] if r["method"] == "far"]
    assert all(r["mean"] == 0.0 for r in far)  # every ε capped: F = 0
    assert "| digits / cnn / random / 20 random samples / 0 | 4 (12) | 1.00 | 100 % |" in \
        (tmp_path / "out" / "challenge_n.md").read_text()
