"""The defining step of each later method (SCRUB, SalUn, l1-sparse, NegGrad+, Random Label, JiT) on
hand-made tensors and tiny models, with exact expected values."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import Dataset

from cli_helpers import fast_records
from method_context import build_context
from unlearn_bench.methods.jit import JiT, jit_loss, lipschitz_loss, perturb
from unlearn_bench.methods.l1_sparse import L1Sparse, l1_norm, l1_schedule
from unlearn_bench.methods.loops import Relabelled, dataset_labels
from unlearn_bench.methods.neggrad_plus import NegGradPlus, neggrad_plus_loss
from unlearn_bench.methods.random_label import RandomLabel
from unlearn_bench.methods.saliency import GradientMask, forget_gradient_saliency, top_fraction_mask
from unlearn_bench.methods.salun import SalUn
from unlearn_bench.methods.scrub import SCRUB, decayed_lr, distill_kl, max_step_loss
from unlearn_bench.utils.errors import UnlearnBenchError

pytestmark = pytest.mark.usefixtures("one_thread")


def linear(weight, bias=None) -> nn.Linear:
    weight = torch.tensor(weight, dtype=torch.float32)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


# --- SalUn ---------------------------------------------------------------------------------------

def test_salun_mask_keeps_exactly_the_top_k_salient_entries():
    scores = {"a": torch.tensor([[0.1, 0.9], [0.5, 0.3]]), "b": torch.tensor([0.7, 0.2])}
    masks = top_fraction_mask(scores, 0.5)  # 6 entries, k = 3: 0.9, 0.7, 0.5
    assert masks["a"].tolist() == [[False, True], [True, False]]
    assert masks["b"].tolist() == [True, False]
    assert sum(int(m.sum()) for m in top_fraction_mask(scores, 0.34).values()) == 2  # int(0.34 · 6)


def test_salun_saliency_is_the_absolute_forget_gradient():
    # W = 0, b = 0: softmax is uniform, so dCE/dlogits = p - onehot = [-0.5, 0.5] for y = 0
    model = linear([[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    batch = [(torch.tensor([[1.0, 2.0]]), torch.tensor([0]))]
    saliency = forget_gradient_saliency(model, batch, torch.device("cpu"))
    assert torch.equal(saliency["weight"], torch.tensor([[0.5, 1.0], [0.5, 1.0]]))
    assert torch.equal(saliency["bias"], torch.tensor([0.5, 0.5]))


def test_salun_gradient_mask_moves_only_salient_weights_even_with_momentum_and_decay():
    model = linear([[1.0, -2.0], [3.0, 0.5]], [0.1, -0.1])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    masks = {"weight": torch.tensor([[True, False], [False, True]]), "bias": torch.tensor([False, False])}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    mask = GradientMask(model, masks, optimizer)
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(torch.tensor([[1.0, 1.0]])), torch.tensor([1]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        mask()
    for name, p in model.named_parameters():
        assert torch.equal(p[~masks[name]], before[name][~masks[name]])
        assert torch.all(p[masks[name]] != before[name][masks[name]])
    mask.remove()


# --- SCRUB ---------------------------------------------------------------------------------------

def test_scrub_kl_is_teacher_to_student_scaled_by_t_squared():
    teacher = torch.tensor([[0.0, 0.0]])  # uniform
    student = torch.tensor([[math.log(3.0), 0.0]])  # p = (0.75, 0.25)
    expected = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert distill_kl(student, teacher, 1.0).item() == pytest.approx(expected, rel=1e-6)
    # at T = 2 the same distributions come from doubled logits; the loss is scaled by T² = 4
    assert distill_kl(2 * student, teacher, 2.0).item() == pytest.approx(4 * expected, rel=1e-6)


def test_scrub_max_step_raises_the_forget_kl():
    teacher = linear([[1.0, 0.0], [0.0, 1.0]])
    student = linear([[1.1, 0.0], [0.0, 0.9]])  # after any earlier step the student differs
    x = torch.tensor([[1.0, 2.0], [2.0, -1.0]])
    before = distill_kl(student(x), teacher(x), 4.0).item()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    loss = max_step_loss(teacher, 4.0)(student, [x, torch.tensor([0, 1])])
    assert loss.item() == pytest.approx(-before)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert distill_kl(student(x), teacher(x), 4.0).item() > before


def test_scrub_max_step_from_the_teacher_itself_has_zero_gradient():
    teacher = linear([[1.0, 0.5], [-0.5, 1.0]])
    student = copy.deepcopy(teacher)
    loss = max_step_loss(teacher, 4.0)(student, [torch.tensor([[1.0, 2.0]]), torch.tensor([0])])
    loss.backward()
    assert torch.allclose(student.weight.grad, torch.zeros(2, 2), atol=1e-7)


def test_scrub_learning_rate_schedule():
    lrs = [decayed_lr(1.0, epoch, [3, 5, 9], 0.1) for epoch in (1, 3, 4, 6, 10)]
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.01, 0.001])


def test_scrub_rewind_picks_the_epoch_closest_to_the_validation_error(tmp_path):
    ctx = build_context(tmp_path, task="random")
    method = SCRUB(epochs=4, max_steps=3, lr=0.05)
    method.unlearn(copy.deepcopy(ctx.original), ctx)
    report = method.report
    assert report["rewind"] and len(report["rewind_forget_errors"]) == 4
    gaps = np.abs(np.asarray(report["rewind_forget_errors"]) - report["rewind_reference_error"])
    assert report["rewind_epoch"] == int(np.argmin(gaps)) + 1
    class_method = SCRUB(epochs=1)
    class_method.unlearn(copy.deepcopy(ctx.original), replace(ctx, split=replace(ctx.split, task="class")))
    assert not class_method.report["rewind"] and "rewind_epoch" not in class_method.report


# --- l1-sparse -----------------------------------------------------------------------------------

def test_l1_schedule_decays_linearly_to_zero():
    assert l1_schedule(1.0, 4) == [1.0, 0.75, 0.5, 0.25]
    assert l1_schedule(5e-4, 10)[0] == 5e-4 and l1_schedule(5e-4, 10)[-1] == pytest.approx(5e-5)


def test_l1_penalty_gradient_is_weight_times_sign():
    model = linear([[2.0, -3.0]], [0.5])
    assert l1_norm(model).item() == 5.5
    (0.25 * l1_norm(model)).backward()
    assert model.weight.grad.tolist() == [[0.25, -0.25]] and model.bias.grad.tolist() == [0.25]


# --- NegGrad+ ------------------------------------------------------------------------------------

def test_neggrad_plus_loss_combines_descent_on_retain_and_ascent_on_forget():
    retain_logits, retain_y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])  # CE = ln 2
    forget_logits, forget_y = torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([0])  # CE = ln 4/3
    loss = neggrad_plus_loss(retain_logits, retain_y, forget_logits, forget_y, alpha=0.75)
    assert loss.item() == pytest.approx(0.75 * math.log(2) - 0.25 * math.log(4 / 3), rel=1e-6)


def test_neggrad_plus_step_raises_the_forget_loss_and_lowers_the_retain_loss():
    model = linear([[1.0, 0.0], [0.0, 1.0]])
    xr, yr = torch.tensor([[0.0, 1.0]]), torch.tensor([1])
    xf, yf = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    ce = nn.functional.cross_entropy
    before_r, before_f = ce(model(xr), yr).item(), ce(model(xf), yf).item()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    neggrad_plus_loss(model(xr), yr, model(xf), yf, alpha=0.5).backward()
    optimizer.step()
    assert ce(model(xf), yf).item() > before_f and ce(model(xr), yr).item() < before_r


# --- Random Label --------------------------------------------------------------------------------

def relabelled_per_epoch(ctx, method) -> list[np.ndarray]:
    seen = []
    original_loader = ctx.loader

    def spy(dataset, shuffle=False, batch_size=None):
        if isinstance(dataset, Relabelled):
            seen.append(np.asarray(dataset.labels))
        return original_loader(dataset, shuffle=shuffle, batch_size=batch_size)

    spied = copy.copy(ctx)
    spied.loader = spy
    method.unlearn(copy.deepcopy(ctx.original), spied)
    return seen


def test_random_label_other_relabels_every_forget_sample_to_another_class_each_epoch(tmp_path):
    ctx = build_context(tmp_path)
    seen = relabelled_per_epoch(ctx, RandomLabel(epochs=3, labels="other"))
    true = dataset_labels(ctx.forget_set)
    assert len(seen) == 3
    assert all(len(labels) == len(true) and not np.any(labels == true) for labels in seen)
    assert not np.array_equal(seen[0], seen[1])  # drawn afresh each epoch


def test_random_label_uniform_draws_from_all_classes_as_the_authors(tmp_path):
    ctx = build_context(tmp_path)
    method = RandomLabel(epochs=3)
    seen = relabelled_per_epoch(ctx, method)
    true = dataset_labels(ctx.forget_set)
    kept = [int(np.sum(labels == true)) for labels in seen]
    # class 3 of digits: about 1 in 10 of the ~60 forget samples keeps its class each epoch
    assert method.report["labels_kept_true_per_epoch"] == kept and all(0 < k < len(true) // 3 for k in kept)
    assert set(np.concatenate(seen).tolist()) == set(range(10))


# --- JiT -----------------------------------------------------------------------------------------

class Forbidden(Dataset):
    """A dataset that fails on any use: JiT must not touch it."""

    def __len__(self):
        raise AssertionError("JiT read retain or training data")

    def __getitem__(self, i):
        raise AssertionError("JiT read retain or training data")


def test_jit_lipschitz_loss_on_a_hand_made_case():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    x2 = torch.tensor([[3.0, 4.0], [1.0, 2.0]])  # input distances 5 and 1
    out, out2 = torch.tensor([[0.0], [0.0]]), torch.tensor([[10.0], [-3.0]])  # output distances 10 and 3
    assert lipschitz_loss(out, out2, x, x2).item() == pytest.approx(10 / 5 + 3 / 1)


def test_jit_loss_of_a_scaled_identity_is_its_scale_times_the_batch():
    model = linear([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    x = torch.tensor([[0.1, 0.5, 0.9], [0.2, 0.3, 0.4]])
    loss = jit_loss(model, x, sigma=0.1, n_samples=5, generator=torch.Generator().manual_seed(0))
    assert loss.item() == pytest.approx(2 * len(x), rel=1e-5)


def test_jit_perturbation_stays_in_the_batch_range():
    x = torch.tensor([[0.0, 0.5], [1.0, 0.25]])
    noisy = perturb(x, sigma=10.0, generator=torch.Generator().manual_seed(0))
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0 and not torch.equal(noisy, x)


def test_jit_in_eval_mode_keeps_the_batchnorm_statistics_and_train_mode_moves_them(tmp_path):
    ctx = build_context(tmp_path)
    buffers = lambda model: {n: b.clone() for n, b in model.named_buffers() if "running" in n}  # noqa: E731
    before = buffers(ctx.original)
    assert before, "the test model has BatchNorm"
    moved = buffers(JiT(n_samples=2).unlearn(copy.deepcopy(ctx.original), ctx.for_method(JiT())))
    kept = buffers(JiT(n_samples=2, model_mode="eval").unlearn(copy.deepcopy(ctx.original), ctx.for_method(JiT())))
    assert all(torch.equal(kept[n], before[n]) for n in before)
    assert any(not torch.equal(moved[n], before[n]) for n in before)
    with pytest.raises(UnlearnBenchError, match="model_mode must be one of train, eval"):
        JiT(model_mode="frozen")


def test_jit_touches_no_retain_data(tmp_path):
    ctx = build_context(tmp_path)
    blind = replace(ctx, retain_set=Forbidden(), train_set=Forbidden(), retain_train_set=Forbidden(),
                    val_set=Forbidden(), retain_targets=None)
    model = JiT().unlearn(copy.deepcopy(ctx.original), blind)
    assert JiT.data_used == ("forget",)
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), ctx.original.parameters(), strict=True))


# --- every later method: forward passes in trainer.precision ------------------------------------

LATER = {
    "scrub": lambda: SCRUB(epochs=1, max_steps=1),
    "salun": lambda: SalUn(epochs=1),
    "random_label": lambda: RandomLabel(epochs=1),
    "l1_sparse": lambda: L1Sparse(epochs=1),
    "neggrad_plus": lambda: NegGradPlus(epochs=1),
    "jit": lambda: JiT(n_samples=2),
}


CLASSES_USED = {"scrub": SCRUB.data_used, "salun": SalUn.data_used, "random_label": RandomLabel.data_used,
                "l1_sparse": L1Sparse.data_used, "neggrad_plus": NegGradPlus.data_used, "jit": JiT.data_used}


@pytest.mark.parametrize("name", LATER)
def test_forward_passes_run_in_the_trainer_precision(name, tmp_path):
    ctx = build_context(tmp_path)
    bf16 = replace(ctx, trainer_cfg=OmegaConf.merge(ctx.trainer_cfg, {"precision": "bf16-mixed"}))
    model = copy.deepcopy(ctx.original)
    dtypes = set()
    model.get_classifier().register_forward_hook(lambda module, args, out: dtypes.add(out.dtype))
    LATER[name]().unlearn(model, bf16)
    assert dtypes == {torch.bfloat16}


# --- end to end through the command line --------------------------------------------------------

def test_cli_multirun_of_the_later_methods_on_digits(tmp_path):
    records = fast_records(tmp_path, f"method={','.join(LATER)}", multirun=True)
    assert sorted(r["method"] for r in records) == sorted(LATER)
    for record in records:
        assert record["data_used"] == list(CLASSES_USED[record["method"]])
        assert record["timing"]["method_s"] > 0 and record["method_report"]
        assert record["metrics"]["unlearned"]["forget_train_acc"] is not None
