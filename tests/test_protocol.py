"""protocol=official reproduces the official code's loader orders, batch sizes, MIA, Bad Teacher loss
and UNSIR; protocol=ours keeps our corrections. Each order is checked against the official
construction (ConcatDataset((retain, forget)) of the official scripts) on a tiny dataset."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from torch.utils.data import ConcatDataset, random_split

from method_context import build_context
from unlearn_bench.data.forget import ForgetSplit
from unlearn_bench.experiment.protocol import loader_orders
from unlearn_bench.experiment.runner import run
from unlearn_bench.methods.bad_teacher import BadTeacher
from unlearn_bench.methods.loops import train_epochs
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.methods.unsir import UNSIR, learn_noise
from unlearn_bench.metrics.mia import mia_score
from unlearn_bench.utils.errors import UnlearnBenchError

TARGETS = np.array([2, 0, 1, 0, 2, 1, 1, 0, 2, 0])
FINE = np.array([5, 1, 3, 0, 4, 2, 3, 1, 5, 0])  # superclass = fine // 2


def split_of(task: str, forget_idx) -> ForgetSplit:
    forget = np.sort(np.asarray(forget_idx))
    retain = np.setdiff1d(np.arange(len(TARGETS)), forget)
    empty = np.array([], dtype=int)
    return ForgetSplit(task, "t", forget, retain, empty, empty, empty)


def official_classwise_concat(labels: np.ndarray, forget_label: int) -> list[int]:
    """The official scripts' construction: classwise lists in dataset order, the retained classes in
    label order, then the forget class; ConcatDataset((retain, forget)) read front to back."""
    classwise = {c: [] for c in range(labels.max() + 1)}
    for i, label in enumerate(labels):
        classwise[int(label)].append(i)
    retain = [i for c in classwise if c != forget_label for i in classwise[c]]
    forget = classwise[forget_label]
    dataset = ConcatDataset((retain, forget))
    return [dataset[k] for k in range(len(dataset))]


def test_official_class_order_is_the_official_concat():
    split = split_of("class", np.flatnonzero(TARGETS == 1))
    orders = loader_orders("official", split, TARGETS, None, seed=0)
    assert orders["train"].tolist() == official_classwise_concat(TARGETS, 1) == [1, 3, 7, 9, 0, 4, 8, 2, 5, 6]
    assert orders["forget"].tolist() == [2, 5, 6] and orders["name"] == "request"


def test_official_subclass_order_sorts_by_fine_label():
    split = split_of("subclass", np.flatnonzero(FINE == 3))
    orders = loader_orders("official", split, TARGETS, FINE, seed=0)
    assert orders["train"].tolist() == official_classwise_concat(FINE, 3)
    assert orders["forget"].tolist() == [2, 6]


@pytest.mark.parametrize("seed", [0, 3])
def test_official_random_order_is_random_splits(seed):
    forget, retain = random_split(list(range(len(TARGETS))), [3, 7], generator=torch.Generator().manual_seed(seed))
    split = split_of("random", list(forget))
    orders = loader_orders("official", split, TARGETS, None, seed=seed)
    concat = ConcatDataset((list(retain), list(forget)))
    assert orders["train"].tolist() == [concat[k] for k in range(len(concat))]
    assert orders["forget"].tolist() == list(forget)


def test_ours_sorts_the_whole_training_set_by_class_for_every_request():
    orders = loader_orders("ours", split_of("random", [0, 5]), TARGETS, None, seed=0)
    assert orders["train"].tolist() == [1, 3, 7, 9, 2, 5, 6, 0, 4, 8]
    assert orders["forget"].tolist() == [0, 5] and orders["name"] == "class_sorted"


@pytest.mark.parametrize("protocol,task,model,expected", [
    ("official", "random", "cnn", {"ssd": 128, "finetune": 128, "bad_teacher": 256}),
    ("official", "class", "cnn", {"ssd": 64, "finetune": 64, "bad_teacher": 256}),
    ("official", "subclass", "vit", {"ssd": 64, "finetune": 64, "bad_teacher": 128}),
    ("ours", "random", "vit", {"ssd": 64, "finetune": 64, "bad_teacher": 256}),
])
def test_batch_sizes_per_task(make_cfg, protocol, task, model, expected):
    for method, batch_size in expected.items():
        cfg = make_cfg(f"protocol={protocol}", f"task={task}", f"method={method}", f"model={model}",
                       "dataset=cifar20" if task == "subclass" else "dataset=digits")
        assert cfg.method.batch_size == batch_size, (method, cfg.method.batch_size)


def test_official_protocol_sets_mia_kl_and_unsir(make_cfg):
    official = make_cfg("protocol=official", "method=bad_teacher")
    assert official.protocol.mia_C == 2.0 and instantiate(without_provenance(official.method)).kl_reduction == "mean"
    assert instantiate(without_provenance(make_cfg("protocol=official", "method=unsir").method)).mode == "official"
    ours = make_cfg("method=unsir")
    assert ours.protocol.mia_C == 1.0 and instantiate(without_provenance(ours.method)).mode == "ours"


def multinomial_fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray, C: float) -> np.ndarray:
    """The official attack's fit, computed directly: softmax regression with two weight vectors,
    min C·Σ s_i·CE + ½(w0² + w1²), intercepts free; returns (w1 − w0, b1 − b0)."""
    def objective(theta):
        w, b = theta[:2], theta[2:]
        logits = x[:, None] * w[None, :] + b[None, :]
        log_p = logits - np.logaddexp(logits[:, 0], logits[:, 1])[:, None]
        return C * -(weights * log_p[np.arange(len(y)), y]).sum() + 0.5 * (w ** 2).sum()

    theta = minimize(objective, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    return np.array([theta[1] - theta[0], theta[3] - theta[2]])


def test_mia_C2_equals_the_official_multinomial_fit():
    members = np.array([0.05, 0.1, 0.2, 0.9, 0.3, 0.15])
    nonmembers = np.array([0.6, 1.1, 0.25, 1.4, 0.8])
    x = np.concatenate([members, nonmembers])
    y = np.concatenate([np.ones(6, int), np.zeros(5, int)])
    weights = len(y) / (2 * np.bincount(y))[y]  # class_weight="balanced"
    official = multinomial_fit(x, y, weights, C=1.0)
    binary = {C: LogisticRegression(class_weight="balanced", C=C, tol=1e-10).fit(x[:, None], y) for C in (1.0, 2.0)}
    fitted = {C: np.array([m.coef_[0, 0], m.intercept_[0]]) for C, m in binary.items()}
    np.testing.assert_allclose(fitted[2.0], official, rtol=1e-4)
    assert not np.allclose(fitted[1.0], official, rtol=1e-2)
    # the attack's verdicts follow the fit: a target between the two boundaries separates C = 1 from C = 2
    bounds = {C: -f[1] / f[0] for C, f in fitted.items()}
    target = np.array([(bounds[1.0] + bounds[2.0]) / 2])
    official_says = float((official[0] * target + official[1] > 0).mean() * 100)
    assert mia_score(members, nonmembers, target, C=2.0) == official_says
    assert mia_score(members, nonmembers, target, C=1.0) != official_says


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    torch.set_num_threads(1)
    return build_context(tmp_path_factory.mktemp("protocol"))


def test_bad_teacher_mean_reduction_is_batchmean_over_classes(ctx):
    kl = {}
    for reduction in ("batchmean", "mean"):
        method = BadTeacher(lr=0.0, batch_size=64, kl_reduction=reduction)  # lr 0: same model every batch
        method.unlearn(copy.deepcopy(ctx.original), ctx.for_method(method))
        kl[reduction] = method.report["epoch_kl"][0]
    assert kl["batchmean"] > 0
    assert kl["mean"] * ctx.num_classes == pytest.approx(kl["batchmean"], rel=1e-5)


def test_carried_gradients_join_the_first_step_only():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 1.0)
    model.weight.grad = torch.tensor([[10.0]])
    batches = [(torch.tensor([[1.0]]), torch.tensor([[0.0]]))] * 2

    def loss_fn(m, batch):
        return (m(batch[0]) - batch[1]).pow(2).sum()  # gradient 2·w at x = 1

    train_epochs(model, batches, torch.optim.SGD(model.parameters(), lr=0.1), 1, torch.device("cpu"),
                 loss_fn, progress=False, carry_grads=True)
    # step 1: w = 1 − 0.1·(10 + 2) = −0.2; step 2 (zeroed first): w = −0.2 − 0.1·(2·−0.2) = −0.16
    assert model.weight.item() == pytest.approx(-0.16)


def test_official_noise_learning_trains_bn_and_leaves_gradients(ctx):
    for official in (False, True):
        model = copy.deepcopy(ctx.original)
        bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        before = bn.running_mean.clone()
        learn_noise(model, 3, (4, 1, 8, 8), 2, 0.1, 0.1, torch.Generator().manual_seed(0),
                    torch.device("cpu"), progress=False, official=official)
        grads = [p.grad for p in model.parameters()]
        assert model.training == official
        assert (not torch.equal(bn.running_mean, before)) == official
        assert all(g is not None and g.abs().sum() > 0 for g in grads) if official else all(g is None for g in grads)


def test_unsir_official_mode_uses_one_noise_image_per_channel(ctx):
    ours, official = UNSIR(), UNSIR(mode="official")
    for method in (ours, official):
        method.unlearn(copy.deepcopy(ctx.original), ctx.for_method(method))
    channels = ctx.retain_set[0][0].shape[0]
    assert official.noise[0].shape == (channels, 1, 8, 8) and official.report["noise_samples"] == 80 * channels
    assert ours.noise[0].shape == (32, 1, 8, 8) and ours.report["noise_samples"] == 80 * 32
    assert official.report["mode"] == "official"


def test_unknown_protocol_name_stops_the_run_before_training(make_cfg):
    with pytest.raises(UnlearnBenchError, match="protocol.name must be one of ours, official, got 'paper'"):
        run(make_cfg("protocol.name=paper"))
