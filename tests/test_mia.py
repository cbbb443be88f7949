"""The paper's MIA and the accuracy metrics on constructed inputs."""

import math

import numpy as np
import pytest
import torch

from unlearn_bench.metrics.mia import entropy, mia_score
from unlearn_bench.metrics.objective import distance_to_gold
from unlearn_bench.metrics.split_metrics import (
    accuracy,
    chance_level_warning,
    metrics_from_outputs,
    paper_columns,
    tuning_columns,
)


def test_entropy_of_uniform_and_one_hot():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0, 0.0]])
    assert entropy(logits).tolist() == pytest.approx([math.log(4), 0.0], abs=1e-12)


def test_mia_separable_entropies():
    members = np.array([0.01, 0.02, 0.03, 0.04])  # confident: low entropy
    nonmembers = np.array([1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7])
    # the attacker learns "low entropy = member": 2 of the 4 targets look like members
    assert mia_score(members, nonmembers, np.array([0.02, 0.03, 1.4, 1.6])) == 50.0
    assert mia_score(members, nonmembers, np.array([0.0, 0.01])) == 100.0
    assert mia_score(members, nonmembers, np.array([2.0])) == 0.0


def test_mia_of_empty_target_is_nan():
    assert math.isnan(mia_score(np.array([0.1]), np.array([1.0]), np.array([])))


def test_accuracy_is_sample_weighted():
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 0, 0])) == pytest.approx(200 / 3)
    assert math.isnan(accuracy(torch.empty(0, 2), torch.empty(0, dtype=torch.long)))


def _outputs(correct: int, total: int, confident: bool):
    logits = torch.zeros(total, 2)
    logits[:, 0] = 10.0 if confident else 0.1
    labels = torch.tensor([0] * correct + [1] * (total - correct))
    return logits, labels


def _paper_splits() -> dict:
    return {
        "retain_train": _outputs(4, 4, confident=True),
        "forget_train": _outputs(1, 2, confident=True),
        "retain_test": _outputs(3, 4, confident=False),
        "forget_test": _outputs(0, 2, confident=False),
    }


def test_metrics_from_outputs_combines_splits():
    outputs = _paper_splits()
    m = metrics_from_outputs(outputs)
    assert m["retain_train_acc"] == 100.0
    assert m["forget_train_acc"] == 50.0
    assert m["retain_test_acc"] == 75.0
    assert m["forget_test_acc"] == 0.0
    assert m["test_acc"] == 50.0  # 3 of 6 test samples, not the mean of 75 and 0
    assert m["mia"] == 100.0  # forget samples are as confident as the members
    assert paper_columns(m, "class") == {"Dr": 75.0, "Df": 0.0, "MIA": 100.0}
    assert paper_columns(m, "random") == {"Dr": 50.0, "Df": 50.0, "MIA": 100.0}


def test_chance_level_is_up_to_one_point_two_times_chance():
    assert chance_level_warning(12.0, 10) == (
        "the unlearned model's test accuracy is 12.00 %, chance level with 10 classes (10.00 %): "
        "the method destroyed the model rather than unlearning the request.")
    assert chance_level_warning(12.01, 10) is None
    assert chance_level_warning(1.2, 100).startswith("the unlearned model's test accuracy is 1.20 %")
    assert chance_level_warning(math.nan, 10) is None and chance_level_warning(None, 10) is None


def test_distance_to_gold_is_mean_absolute_gap():
    assert distance_to_gold({"Dr": 70, "Df": 10, "MIA": 5}, {"Dr": 72, "Df": 0, "MIA": 2}) == pytest.approx(5.0)
    assert distance_to_gold({"Dr": 70, "Df": float("nan"), "MIA": 5}, {"Dr": 72, "Df": 0, "MIA": 2}) == 2.5


def test_search_columns_come_from_the_validation_split():
    outputs = {
        **_paper_splits(),
        "val_retain": _outputs(1, 4, confident=False),
        "val_forget": _outputs(2, 2, confident=False),
    }
    m = metrics_from_outputs(outputs)
    assert (m["val_retain_acc"], m["val_forget_acc"], m["val_mia"]) == (25.0, 100.0, 100.0)
    assert tuning_columns(m, "class") == {"Dr": 25.0, "Df": 100.0, "MIA": 100.0}
    assert tuning_columns(m, "random") == {"Dr": 25.0, "Df": 50.0, "MIA": 100.0}  # Df: the forget set itself
    assert paper_columns(m, "class") == {"Dr": 75.0, "Df": 0.0, "MIA": 100.0}  # the tables: test side
