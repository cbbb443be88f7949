"""SCAR (methods/scar.py, jbonato1/SCAR 280ceae src/Unlearning_methods.py SCAR): the shrinkage, the
normalised covariance, the class statistics, the Mahalanobis distance and the nearest-wrong-class
target, the distillation and its class-forgetting teacher, the balanced surrogate weights, on
hand-made tensors with values worked out by hand; one Adam step against its hand-derived update;
train/eval mode and the forward passes of a short run; the surrogate images and the refusal without
them; the YAML's presets; and one run through the command line on digits. The replay of the authors'
loop is in test_reference_steps.py."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from PIL import Image

import unlearn_bench.methods.scar as scar_module
from cli_helpers import fast_records
from conftest import CONF
from method_context import build_context
from reference_setup import Samples, context
from unlearn_bench.experiment.runner import run
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.methods.scar import (
    EPS,
    MISSING,
    SCAR,
    balanced_weights,
    class_statistics,
    correlation,
    distill_kl,
    drop_forgotten,
    load_surrogate,
    mahalanobis,
    own_statistics,
    shrink,
    wrong_class_targets,
)
from unlearn_bench.utils.errors import UnlearnBenchError, build

pytestmark = pytest.mark.usefixtures("one_thread")


def adam(lr: float = 5e-4):
    return functools.partial(torch.optim.Adam, lr=lr, weight_decay=0.0)


# --- the class statistics ---------------------------------------------------------------------------

def test_shrinkage_adds_the_diagonal_mean_and_the_mean_of_the_non_zero_off_diagonal_entries():
    cov = torch.tensor([[2.0, 1.0, 0.0], [1.0, 4.0, 0.5], [0.0, 0.5, 6.0]], dtype=torch.float64)
    # v₁ = (2 + 4 + 6) / 3 = 4; v₂ = (1 + 1 + 0.5 + 0.5) / 4 = 0.75 (the two zeros left out; 0.5 with them)
    expected = torch.tensor([[14.0, 3.25, 2.25], [3.25, 16.0, 2.75], [2.25, 2.75, 18.0]], dtype=torch.float64)
    assert torch.allclose(shrink(cov, 3.0, 3.0), expected, atol=1e-12)
    # γ₁ only on the diagonal, γ₂ only off it
    assert torch.allclose(shrink(cov, 1.0, 0.0), cov + 4.0 * torch.eye(3, dtype=torch.float64), atol=1e-12)


def test_the_normalised_covariance_is_the_correlation_matrix():
    cov = torch.tensor([[4.0, 2.0], [2.0, 9.0]])
    assert torch.allclose(correlation(cov), torch.tensor([[1.0, 1 / 3], [1 / 3, 1.0]]), atol=1e-7)


def test_class_statistics_of_tukey_embeddings_shrunk_twice_by_hand():
    # x^0.5 of [[1, 4], [4, 1], [9, 9]] = [[1, 2], [2, 1], [3, 3]]: mean (2, 2), unbiased cov [[1, ½], [½, 1]]
    emb = torch.tensor([[1.0, 4.0], [4.0, 1.0], [9.0, 9.0], [5.0, 5.0], [7.0, 7.0]], dtype=torch.float64)
    labels = torch.tensor([1, 1, 1, 0, 0])
    means, inverses = class_statistics(emb, labels, [1], 0.5, 3.0, 1.0)
    assert torch.allclose(means, torch.tensor([[2.0, 2.0]], dtype=torch.float64), atol=1e-12)
    # once (γ₁ 3, γ₂ 1): v₁ 1, v₂ ½ → [[4, 1], [1, 4]]; twice: v₁ 4, v₂ 1 → [[16, 2], [2, 16]]; ρ = 1/8
    rho = 1 / 8
    twice = torch.tensor([[1.0, -rho], [-rho, 1.0]], dtype=torch.float64) / (1 - rho**2)
    assert torch.allclose(inverses[0], twice, atol=1e-10)
    once = class_statistics(emb, labels, [1], 0.5, 3.0, 1.0, shrink_passes=1)[1][0]  # ρ = 1/4
    assert torch.allclose(once, torch.tensor([[1.0, -0.25], [-0.25, 1.0]], dtype=torch.float64) / (1 - 1 / 16),
                          atol=1e-10)
    # the classes in the order given; a class with one sample cannot give a covariance
    assert class_statistics(emb, labels, [0, 1], 0.5, 3.0, 1.0)[0].shape == (2, 2)
    with pytest.raises(UnlearnBenchError, match="class 2 has 0 retain sample"):
        class_statistics(emb, labels, [2], 0.5, 3.0, 3.0)


def test_the_mahalanobis_distance_of_normalised_tukey_embeddings_by_hand():
    rho = 1 / 8
    inverse = torch.tensor([[1.0, -rho], [-rho, 1.0]], dtype=torch.float64) / (1 - rho**2)
    means = torch.tensor([[2.0, 2.0], [1.0, 0.0]], dtype=torch.float64)
    inverses = torch.stack([inverse, torch.eye(2, dtype=torch.float64)])
    emb = torch.tensor([[9.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    d = mahalanobis(emb, means, inverses, 0.5)
    assert d.shape == (2, 2)  # samples × classes
    # sample 0: x = (3, 0) → (1, 0); μ₀ = (2, 2) → (1/√2, 1/√2); diff (a, b) = (1 − 1/√2, −1/√2)
    a, b = 1 - 1 / math.sqrt(2), -1 / math.sqrt(2)
    assert float(d[0, 0]) == pytest.approx((a * a + b * b - 2 * rho * a * b) / (1 - rho**2), abs=1e-12)
    assert float(d[0, 1]) == pytest.approx(0.0, abs=1e-12)  # (1, 0) is μ₁'s direction
    assert float(d[1, 1]) == pytest.approx(2.0, abs=1e-12)  # (0, 1) − (1, 0) under I: squared, no root


def test_the_target_is_the_nearest_class_or_the_second_nearest_when_the_nearest_is_its_own():
    dists = torch.tensor([[0.1, 0.5, 0.3], [0.9, 0.2, 0.4]])
    labels = torch.tensor([0, 0])
    kept = torch.tensor([1, 2, 3])  # class forgetting: class 0 has no distribution
    # the code: position 0 (class 1) "equals" label 0, so the second nearest, position 2 (class 3)
    assert wrong_class_targets(dists, labels, kept, "index").tolist() == [2, 1]
    assert wrong_class_targets(dists, labels, kept, "label").tolist() == [0, 1]
    every = torch.tensor([0, 1, 2])  # random forgetting: all classes, both rules agree
    for rule in ("index", "label"):
        assert wrong_class_targets(dists, torch.tensor([0, 2]), every, rule).tolist() == [2, 1]


# --- the distillation on surrogate images --------------------------------------------------------------

def test_the_distillation_is_e_eps_times_the_kl_from_the_teacher_averaged_over_the_batch():
    teacher = torch.tensor([[0.0, math.log(3.0)], [1.0, 1.0]])  # p = (¼, ¾) and (½, ½)
    student = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # q = (½, ½) twice
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert float(distill_kl(student, teacher)) == pytest.approx(math.exp(EPS) * kl / 2, abs=1e-7)
    assert float(distill_kl(teacher, teacher)) == pytest.approx(0.0, abs=1e-7)


def test_class_forgetting_drops_what_the_teacher_calls_the_forgotten_class_and_floors_its_logits():
    teacher = torch.tensor([[5.0, 1.0, 0.0], [0.5, 2.0, -1.0], [1.0, 0.0, 3.0]])
    student = torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])
    s, t = drop_forgotten(student, teacher, (0,))
    assert s.tolist() == [[2.0, 2.0, 2.0], [3.0, 3.0, 3.0]]
    assert t.tolist() == [[-1.0, 2.0, -1.0], [-1.0, 0.0, 3.0]]  # the kept batch's smallest logit, −1
    assert teacher[1, 0] == 0.5  # the teacher's own logits are left as they were


def test_the_surrogate_weights_balance_the_originals_predicted_classes():
    predicted = torch.tensor([0, 0, 0, 1, 2, 2, 2, 2])
    # counts 3, 1 (< 3: counted as 5), 4
    assert balanced_weights(predicted, 3).tolist() == pytest.approx([1 / 3] * 3 + [1 / 5] + [1 / 4] * 4)


# --- one Adam step against its hand-derived update ---------------------------------------------------------

def test_one_step_moves_each_weight_by_lr_against_the_sign_of_the_hand_written_loss_gradient():
    forget = Samples([[1.0, 0.5], [0.8, -0.2]], [0, 0])
    surrogate = Samples([[0.3, -0.7], [-1.1, 0.4]], [0, 0])
    ctx = context(task="class", forget_set=forget)
    method = SCAR(adam(5e-4), surrogate=surrogate, epochs=1, batch_size=2, surrogate_batches=1, extra_forward=False,
                  augment_statistics=False, augment_surrogate=False)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)

    ref = copy.deepcopy(ctx.original)
    teacher = copy.deepcopy(ctx.original).eval()
    ref.eval()
    with torch.no_grad():  # retain embeddings in eval mode; kept classes 1 and 2
        emb_r = torch.relu(ref.norm(ref.body(ctx.retain_set.x)))
    means, inverses = class_statistics(emb_r, ctx.retain_set.y, [1, 2], 0.5, 3.0, 3.0)
    ref.train()
    emb_f = torch.relu(ref.norm(ref.body(forget.x)))
    # written out: x = normalise(√e), μ = normalise(mean), d = (x − μ)ᵀ S (x − μ) for each class
    x = emb_f.sqrt() / emb_f.sqrt().norm(dim=1, keepdim=True)
    mu = means / means.norm(dim=1, keepdim=True)
    d = torch.stack([torch.stack([(x[i] - mu[k]) @ inverses[k] @ (x[i] - mu[k]) for k in range(2)])
                     for i in range(2)])
    nearest = d.detach().argmin(1)
    target = torch.where(nearest == 0, d.detach().argsort(1)[:, 1], nearest)  # position 0 "is" label 0
    loss_f = d[torch.arange(2), target].mean()
    with torch.no_grad():
        t = teacher(surrogate.x)
    keep = t.argmax(1) != 0
    t = t[keep].clone()
    t[:, 0] = t.min()
    s = ref(surrogate.x)[keep]
    p, log_q = F.softmax(t, 1), F.log_softmax(s, 1)
    loss_r = math.exp(EPS) * (p * (p.log() - log_q)).sum(1).mean() * 5.0
    ref.zero_grad()
    (loss_f + loss_r).backward()
    # Adam's first step: m̂ = g, v̂ = g², Δ = −lr·g / (|g| + 1e-8)
    for (name, p_new), (_, p_old) in zip(model.named_parameters(), ref.named_parameters(), strict=True):
        step = -5e-4 * p_old.grad / (p_old.grad.abs() + 1e-8)
        assert torch.allclose(p_new.detach(), p_old.detach() + step, atol=1e-7), name
    assert method.report["steps"] == 1
    assert method.report["epoch_losses"]["forget"][0] == pytest.approx(float(loss_f), abs=1e-6)
    assert method.report["epoch_losses"]["retain"][0] == pytest.approx(float(loss_r), abs=1e-6)
    # the head's bias carries the distillation alone: g = λ₂ e^ε mean over the kept batch of (q − p)
    q = F.softmax(s.detach(), 1)
    g_bias = 5.0 * math.exp(EPS) * (q - p).sum(0) / len(q)
    assert torch.allclose(ref.head.bias.grad, g_bias, atol=1e-6)


# --- a short run: modes, forward passes, steps ------------------------------------------------------------

class Recording(torch.optim.Adam):
    log: list = []
    model = None

    def step(self, closure=None):
        Recording.log.append(Recording.model.training)
        return super().step(closure)


def _short_run(**kwargs):
    forget = Samples([[1.0, 0.5], [0.8, -0.2], [1.2, 0.1], [0.9, 0.6]], [0, 0, 0, 0])
    surrogate = Samples([[0.3, -0.7], [-1.1, 0.4], [0.2, 0.9], [1.5, -0.3], [-0.4, -0.6], [0.7, 0.8]], [0] * 6)
    task = kwargs.pop("task", "class")
    retain = Samples([[-1.0, 0.3], [0.2, 1.1], [-0.4, -0.9], [0.5, 0.7], [-0.6, 0.2], [0.1, -1.3], [-1.5, 1.0],
                      [-2.0, -1.0]], [1, 2, 1, 2, 1, 2, 0, 0])  # random forgetting keeps every class
    ctx = context(task=task, forget_set=forget, **({"retain_set": retain} if task == "random" else {}))
    model = copy.deepcopy(ctx.original)
    Recording.log, Recording.model = [], model
    settings = {"augment_statistics": False, "augment_surrogate": False, "epochs": 1, "batch_size": 2,
                "surrogate_batches": 2, **kwargs}
    method = SCAR(functools.partial(Recording, lr=5e-4), surrogate=surrogate, **settings)
    out = method.unlearn(model, ctx.for_method(method))
    return method, out, ctx


def test_a_short_run_steps_in_train_mode_after_eval_mode_statistics_and_one_extra_forward_per_forget_batch():
    method, model, ctx = _short_run()
    # 2 forget batches (of 2) × 2 surrogate batches = 4 steps, each in train mode
    assert Recording.log == [True] * 4 and method.report["steps"] == 4
    # BatchNorm counts its train-mode batches: 2 per step (forget, surrogate) + 2 per forget batch for the
    # code's forward passes of the third surrogate batch before its break; the statistics pass and the
    # accuracy checks run in eval mode
    assert int(model.norm.num_batches_tracked) == 4 * 2 + 2 * 2
    assert not model.training
    assert method.report["kept_classes"] == [1, 2] and sum(method.report["targets"]) == 4
    assert ctx.calls[:3] == [(6, True, 2), (6, True, 2), (4, False, 2)]  # retain (statistics), surrogate, forget
    _, plain, _ = _short_run(extra_forward=False)
    assert int(plain.norm.num_batches_tracked) == 4 * 2


def test_each_forget_batchs_targets_are_fixed_at_the_first_step_that_sees_it(monkeypatch):
    calls = []
    real = scar_module.wrong_class_targets
    monkeypatch.setattr(scar_module, "wrong_class_targets", lambda *a: calls.append(1) or real(*a))
    method, _, _ = _short_run(epochs=2)
    assert method.report["steps"] == 8 and len(calls) == 2  # once per forget batch, in the first epoch only


def test_a_forget_accuracy_below_the_target_stops_the_run_only_from_the_third_epoch():
    method, _, _ = _short_run(epochs=4, stop_accuracy=1.1)  # any accuracy is below 110 %
    assert method.report["stopped"] == {"epoch": 2, "step": 9}  # 4 steps in each of epochs 0 and 1, then one
    assert method.report["steps"] == 9


def test_random_forgetting_weights_the_distances_by_each_classs_forget_accuracy():
    method, _, _ = _short_run(task="random", balance_surrogate=True, drop_forgotten=False,
                              forget_accuracy_threshold=0.8, stop_accuracy="reference")
    assert method.report["kept_classes"] == [0, 1, 2] and method.report["dropped_surrogate_samples"] == 0
    # the original's validation accuracy − 0.015 (val_set: 4 samples)
    assert 0 <= method.report["stop_target"] + 0.015 <= 1


# --- the surrogate images and the refusal without them -------------------------------------------------------

def test_without_surrogate_images_the_method_refuses_in_one_sentence(tmp_path):
    with pytest.raises(UnlearnBenchError) as err:
        SCAR(adam())
    assert str(err.value) == MISSING and "method.surrogate=" in MISSING and MISSING.count(". ") == 0
    with pytest.raises(UnlearnBenchError, match="is not a folder"):
        SCAR(adam(), surrogate=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnlearnBenchError, match="holds no images"):
        SCAR(adam(), surrogate=str(tmp_path / "empty"))


def test_the_run_refuses_before_training_without_a_surrogate(make_cfg):
    with pytest.raises(UnlearnBenchError) as err:
        run(make_cfg("method=scar", "dataset=digits"))
    assert str(err.value) == MISSING


def test_own_statistics_by_hand():
    images = torch.tensor([[[[0, 255]]], [[[0, 255]]]], dtype=torch.uint8)  # values 0, 1, 0, 1
    mean, std = own_statistics(images)
    assert mean == pytest.approx((0.5,)) and std == pytest.approx((math.sqrt(1 / 3),))  # unbiased over 4


def _folder(root, n=12, size=12):
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = root / f"class_{i // 5}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(sub / f"{i:02d}.png")
    return root


def test_a_folder_is_decoded_at_the_datasets_size_and_channels(tmp_path):
    ctx = build_context(tmp_path / "ctx")
    folder = _folder(tmp_path / "sur")
    data = load_surrogate(str(folder), ctx, augment=False, normalize="dataset", limit=7)
    assert len(data) == 7 and data[0][0].shape == ctx.forget_set[0][0].shape == (1, 8, 8)
    assert data.spec.mean == (0.305,) and data[0][1] == 0
    own = load_surrogate(str(folder), ctx, augment=True, normalize="own", limit=None)
    assert len(own) == 12 and own.augment
    assert own.spec.mean == pytest.approx(own_statistics(own.split.images)[0])
    noise = load_surrogate("gaussian_noise", ctx, augment=True, normalize="own", limit=5)
    assert noise.images.shape == (5, 1, 8, 8)
    assert torch.equal(noise.images, load_surrogate("gaussian_noise", ctx, False, "own", 5).images)  # seeded


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"optimizer": 0.1}, "method.optimizer must be an optimiser target"),
    ({"target_skip": "other"}, "method.target_skip must be one of index, label"),
    ({"normalize": "imagenet"}, "method.normalize must be one of own, dataset"),
    ({"stop_accuracy": "test"}, "method.stop_accuracy must be a fraction or 'reference'"),
    ({"balance_surrogate": True}, "set method.augment_surrogate=false"),
    ({"temperature": 0.0}, "method.temperature must be > 0"),
])
def test_bad_settings_are_one_sentence(kwargs, message):
    with pytest.raises(UnlearnBenchError, match=message):
        SCAR(**{"optimizer": adam(), "surrogate": "gaussian_noise", **kwargs})


def test_negative_features_refuse_a_fractional_delta():
    ctx = context(task="class")
    model = copy.deepcopy(ctx.original)
    model.get_classifier().register_forward_pre_hook(lambda _m, inputs: (inputs[0] - 10.0,))
    with pytest.raises(UnlearnBenchError, match="method.delta=0.5 takes a fractional power"):
        SCAR(adam(), surrogate=Samples([[0.0, 0.0]] * 2, [0, 0]), augment_statistics=False).unlearn(model, ctx)


# --- the YAML, and the command line ---------------------------------------------------------------------------

def test_the_yaml_builds_scar_with_the_authors_defaults_and_the_branch_of_each_task():
    built = {}
    for task in ("class", "random"):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=["method=scar", f"task={task}", "method.surrogate=gaussian_noise"])
        built[task] = build(without_provenance(cfg.method))
    method = built["class"]
    assert type(method) is SCAR and method.optimizer.func is torch.optim.Adam
    assert method.optimizer.keywords == {"lr": 5e-4, "weight_decay": 0.0}
    assert {k: getattr(method, k) for k in ("epochs", "batch_size", "surrogate_batches", "lambda_1", "lambda_2",
                                            "temperature", "delta", "gamma1", "gamma2", "shrink_passes",
                                            "target_skip", "extra_forward", "stop_margin", "stop_after_epoch")} == {
        "epochs": 30, "batch_size": 1024, "surrogate_batches": 6, "lambda_1": 1.0, "lambda_2": 5.0,
        "temperature": 1.0, "delta": 0.5, "gamma1": 3.0, "gamma2": 3.0, "shrink_passes": 2,
        "target_skip": "index", "extra_forward": True, "stop_margin": 0.015, "stop_after_epoch": 1}
    branch = ("augment_statistics", "augment_surrogate", "balance_surrogate", "drop_forgotten",
              "forget_accuracy_threshold", "stop_accuracy")
    assert [getattr(built["class"], k) for k in branch] == [True, True, False, True, None, 0.01]  # CR
    assert [getattr(built["random"], k) for k in branch] == [False, False, True, False, 0.8, "reference"]  # HR


def test_cli_class_forgetting_on_digits_with_a_surrogate_folder(tmp_path):
    folder = _folder(tmp_path / "surrogate", n=40)
    [record] = fast_records(tmp_path, "method=scar", f"method.surrogate={folder}", "method.epochs=2", "method.batch_size=64")
    assert record["method"] == "scar" and record["data_read"] == ["forget", "retain"]
    report = record["method_report"]
    assert report["surrogate_images"] == 40 and report["steps"] > 0
    assert report["kept_classes"] == [c for c in range(10) if c != 0]  # digits forgets class "0"
