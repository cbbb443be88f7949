"""One reference check per built-in method: its defining step on the hand-made model and data of
reference_setup.py, against a replay of the authors' code written out here (train/eval mode per
phase, batch composition, loss terms and reductions, accumulation, masks, schedules). The
repository, commit and file each replay follows are in the method's YAML (`provenance`).
Where an authors' paper and code disagree, the replay follows the code."""

from __future__ import annotations

import copy
import functools
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset

from reference_setup import (
    CLASSES,
    FORGET_X,
    RETAIN_Y,
    Samples,
    Tiny,
    assert_same_state,
    batches,
    context,
    forget_set,
    retain_set,
    state,
)
from unlearn_bench.importance import ImportanceStore
from unlearn_bench.methods.amnesiac import Amnesiac
from unlearn_bench.methods.bad_teacher import BadTeacher
from unlearn_bench.methods.baseline import Baseline
from unlearn_bench.methods.boundary import BoundaryExpanding, BoundaryShrink
from unlearn_bench.methods.fcs import FCS
from unlearn_bench.methods.finetune import Finetune
from unlearn_bench.methods.fisher import noise_distribution
from unlearn_bench.methods.influence import InfluenceUnlearning
from unlearn_bench.methods.jit import JiT
from unlearn_bench.methods.l1_sparse import L1Sparse
from unlearn_bench.methods.last_layers import CFk, EUk
from unlearn_bench.methods.loops import random_wrong_labels
from unlearn_bench.methods.msg import MaskedSmallGradients
from unlearn_bench.methods.neggrad import NegGrad
from unlearn_bench.methods.neggrad_plus import NegGradPlus
from unlearn_bench.methods.random_label import RandomLabel
from unlearn_bench.methods.retrain import Retrain
from unlearn_bench.methods.salun import SalUn
from unlearn_bench.methods.scar import SCAR, balanced_weights
from unlearn_bench.methods.schedules import LinearUpDown
from unlearn_bench.methods.scrub import SCRUB
from unlearn_bench.methods.sfron import SFROn
from unlearn_bench.methods.ssd import SSD
from unlearn_bench.methods.unsir import UNSIR, learn_noise

pytestmark = pytest.mark.usefixtures("one_thread")


def sgd(model, lr, momentum=0.0, weight_decay=0.0):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def step(optimizer, loss):
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def kl_distill(student_logits, teacher_logits, temperature):
    """SCRUB's DistillKL: KL(softmax(t/T) ‖ softmax(s/T)) summed, × T² / batch."""
    p_s = F.log_softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(p_s, p_t, reduction="sum") * temperature**2 / student_logits.shape[0]


# --- the paper's eight (if-loops/selective-synaptic-dampening) -----------------------------------

def test_baseline_returns_the_original_untouched():
    ctx = context()
    model = copy.deepcopy(ctx.original)
    assert Baseline().unlearn(model, ctx) is model
    assert_same_state(model, ctx.original, atol=0)


def test_retrain_head_resets_only_the_classifier_and_fine_tunes_it_at_lr_0_01(monkeypatch):
    """Official `retrain`: reset the modules with reset_parameters among the top-level children (on
    their ResNet18 and ViT that is the head alone), then fit on Dr with lr 0.01."""
    seen = {}

    def fake_fit(net, train_set, val_set, recipe, trainer_cfg, seed, name):
        seen.update(state=state(net), train=train_set, val=val_set, recipe=recipe)
        return {"best_val_acc": 0.0}

    monkeypatch.setattr("unlearn_bench.methods.retrain.fit_classifier", fake_fit)
    ctx = context(recipe=type("Recipe", (), {"with_lr": staticmethod(lambda lr: ("recipe at lr", lr))})())
    Retrain(reset="head").unlearn(copy.deepcopy(ctx.original), ctx)
    before = state(ctx.original)
    for key, value in seen["state"].items():
        if key.startswith("head."):
            assert not torch.equal(value, before[key]), key
        else:
            assert torch.equal(value, before[key]), key
    assert seen["train"] is ctx.retain_train_set and seen["val"] is ctx.val_set
    assert seen["recipe"] == ("recipe at lr", 0.01)


def test_finetune_is_train_mode_sgd_on_the_retain_set():
    """Official `finetune` → fit_one_cycle(5, lr=0.02): SGD momentum 0.9, wd 5e-4, train mode, mean CE."""
    ctx = context()
    model = Finetune(epochs=2, batch_size=4).unlearn(copy.deepcopy(ctx.original), ctx)
    ref = copy.deepcopy(ctx.original).train()
    optimizer = sgd(ref, 0.02, 0.9, 5e-4)
    for _ in range(2):
        for x, y in batches(retain_set(), 4):
            step(optimizer, F.cross_entropy(ref(x), y))
    assert_same_state(model, ref)
    assert ctx.calls == [(6, True, 4)]


def test_bad_teacher_distils_the_incompetent_teacher_on_forget_and_the_original_on_retain():
    """Official `blindspot`: 30 % of Dr + all of Df, student in train mode, teachers in eval mode,
    KL(student/T ‖ tag·bad + (1 − tag)·good), Adam 1e-4, one epoch; kl_reduction batchmean here
    (official `mean` also divides by the class count: protocol=official)."""
    ctx = context()
    model = BadTeacher(batch_size=8).unlearn(copy.deepcopy(ctx.original), ctx)
    torch.manual_seed(ctx.seed)
    bad = Tiny().eval()
    good = copy.deepcopy(ctx.original).eval()
    keep = np.sort(np.random.default_rng(ctx.seed).choice(6, size=int(0.3 * 6), replace=False))
    x = torch.cat([forget_set().x, retain_set().x[keep]])
    is_forget = torch.tensor([1.0] * 3 + [0.0] * len(keep))[:, None]
    ref = copy.deepcopy(ctx.original).train()
    optimizer = torch.optim.Adam(ref.parameters(), lr=1e-4)
    with torch.no_grad():
        target = is_forget * F.softmax(bad(x), 1) + (1 - is_forget) * F.softmax(good(x), 1)
    step(optimizer, F.kl_div(F.log_softmax(ref(x), 1), target, reduction="batchmean"))
    assert_same_state(model, ref)
    assert ctx.calls == [(3 + len(keep), True, 8)]


def test_amnesiac_trains_on_dr_with_df_relabelled_to_other_classes():
    """Official `amnesiac`: each forget sample gets a random class other than its own, mixed with Dr,
    Adam 1e-4, 3 epochs, batch 128, train mode."""
    ctx = context()
    model = Amnesiac().unlearn(copy.deepcopy(ctx.original), ctx)
    wrong = random_wrong_labels(np.zeros(3, dtype=int), CLASSES, np.random.default_rng(ctx.seed))
    assert np.all(wrong != 0)
    x = torch.cat([forget_set().x, retain_set().x])
    y = torch.cat([torch.as_tensor(wrong), retain_set().y])
    ref = copy.deepcopy(ctx.original).train()
    optimizer = torch.optim.Adam(ref.parameters(), lr=1e-4)
    for _ in range(3):
        step(optimizer, F.cross_entropy(ref(x), y))
    assert_same_state(model, ref)
    assert ctx.calls == [(9, True, 128)]


@pytest.mark.parametrize("mode", ["ours", "official"])
def test_unsir_noise_maximises_the_forget_class_loss_with_an_l2_penalty(mode):
    """Official UNSIR_noise_train: Adam lr 0.1 on the noise, loss −CE(f(noise), class) +
    0.1·mean‖noise‖²; the official code leaves the model in train mode and the noise loss's
    gradients on it (mode=official); mode=ours learns it in eval mode and leaves no gradient."""
    model = context().original
    official = mode == "official"
    noise, _ = learn_noise(model, 0, (4, 2), 3, 0.1, 0.1, torch.Generator().manual_seed(5), torch.device("cpu"),
                           progress=False, official=official)
    ref = copy.deepcopy(context().original).train(official)
    x = torch.randn((4, 2), generator=torch.Generator().manual_seed(5)).requires_grad_()
    optimizer = torch.optim.Adam([x], lr=0.1)
    for _ in range(3):
        loss = -F.cross_entropy(ref(x), torch.zeros(4, dtype=torch.long)) + 0.1 * x.pow(2).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.allclose(noise, x.detach(), atol=1e-6)
    assert_same_state(model, ref)  # eval: BatchNorm statistics kept; official: the same drift
    assert (model.head.weight.grad is not None) == official


def test_unsir_impairs_on_repeated_noise_and_the_first_samples_of_each_class_then_repairs():
    ctx = context()
    UNSIR(noise_batch_size=2, noise_repeats=3, samples_per_class=2).unlearn(copy.deepcopy(ctx.original), ctx)
    # impair: 2 noise images × 3 repeats + the first 2 retain samples of classes 1 and 2; repair: those 4
    assert ctx.calls == [(2 * 3 + 2 * 2, True, 32), (2 * 2, True, 128)]


def test_fisher_noise_follows_the_official_variance_recipe():
    """Official FisherForgetting/get_mean_var: var = α·min(1/(F + 1e-8), 1e3), capped at 1e2 on the
    output layer, averaged over dim 1, the forget class's row set to mean 0 / var 1e-4, ×10 for the
    output layer (class forgetting) and for 1-D tensors."""
    theta = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    fisher = torch.tensor([[1.0, 3.0], [0.5, 0.0]])
    mu, var = noise_distribution(theta, fisher, alpha=2.0, is_output=True, forget_classes=[0])
    # 1/(F + 1e-8) ≈ [[1, 1/3], [2, 1e8 → 1e3 → 1e2]], × α = 2, row means [4/3, 102]
    assert mu.tolist() == [[0.0, 0.0], [3.0, 4.0]]
    assert torch.allclose(var, torch.tensor([[1e-3, 1e-3], [1020.0, 1020.0]]), rtol=1e-6)
    bias_mu, bias_var = noise_distribution(torch.tensor([5.0]), torch.tensor([4.0]), 2.0, False, [])
    assert bias_mu.tolist() == [5.0] and bias_var.item() == pytest.approx(2.0 / 4.0 * 10, rel=1e-6)


def test_ssd_dampens_with_the_official_batch_importances(tmp_path):
    """Official ParameterPerturber: importances = mean over batches of (∇ mean-CE of the batch)² in
    eval mode, for D and Df; θ ← min(λ·[]_D/[]_Df, 1)·θ where []_Df > α·[]_D; buffers untouched."""
    train = ConcatDataset([retain_set(), forget_set()])
    ctx = context(train_set=train, importance_store=ImportanceStore(tmp_path))
    model = SSD(alpha=1.5, lambda_=0.8, batch_size=3).unlearn(copy.deepcopy(ctx.original), ctx)

    def importance(dataset):
        ref_model = copy.deepcopy(ctx.original).eval()
        total = {n: torch.zeros_like(p) for n, p in ref_model.named_parameters()}
        parts = batches(dataset, 3)
        for x, y in parts:
            ref_model.zero_grad()
            F.cross_entropy(ref_model(x), y).backward()
            for n, p in ref_model.named_parameters():
                total[n] += p.grad**2
        return {n: t / len(parts) for n, t in total.items()}

    d, f = importance(train), importance(forget_set())
    ref = copy.deepcopy(ctx.original)
    with torch.no_grad():
        for n, p in ref.named_parameters():
            selected = f[n] > 1.5 * d[n]
            p[selected] *= (0.8 * d[n] / f[n]).clamp(max=1.0)[selected]
    assert_same_state(model, ref)
    assert 0 < model_changed(model, ctx.original) < sum(p.numel() for p in ref.parameters())


def model_changed(a, b) -> int:
    return sum(int((p != q).sum()) for p, q in zip(a.parameters(), b.parameters(), strict=True))


# --- the later methods --------------------------------------------------------------------------

def test_scrub_alternates_max_steps_on_df_and_min_steps_on_dr():
    """meghdadk/SCRUB train_distill: student in train mode, teacher in eval mode; max-steps (first
    msteps epochs) minimise −KL_T; min-steps minimise γ·CE + α·KL_T; SGD momentum 0.9, wd 5e-4; the
    lr schedule lr·0.1^(#decay epochs below the epoch)."""
    ctx = context()
    method = SCRUB(epochs=2, max_steps=1, forget_batch_size=3, retain_batch_size=3, lr_decay_epochs=[1])
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    teacher = copy.deepcopy(ctx.original).eval()
    ref = copy.deepcopy(ctx.original).train()
    optimizer = sgd(ref, 5e-4, 0.9, 5e-4)
    for epoch in (1, 2):
        for group in optimizer.param_groups:
            group["lr"] = 5e-4 * 0.1 ** int(epoch > 1)
        if epoch <= 1:
            for x, _ in batches(forget_set(), 3):
                with torch.no_grad():
                    t = teacher(x)
                step(optimizer, -kl_distill(ref(x), t, 4.0))
        for x, y in batches(retain_set(), 3):
            with torch.no_grad():
                t = teacher(x)
            s = ref(x)
            step(optimizer, 0.99 * F.cross_entropy(s, y) + 0.001 * kl_distill(s, t, 4.0))
    assert_same_state(model, ref)


@pytest.mark.parametrize("reference,samples", [("forget_classes", 2), ("validation", 4)])
def test_scrub_r_compares_against_validation_samples_of_the_forget_classes(reference, samples):
    """MIA_experiments.ipynb `scrub`: the rewind's reference error is measured on the validation
    samples whose class occurs in the forget set (class 0: 2 of the 4)."""
    ctx = context(task="random")
    method = SCRUB(epochs=2, max_steps=1, forget_batch_size=3, retain_batch_size=3, rewind_reference=reference)
    method.unlearn(copy.deepcopy(ctx.original), ctx)
    assert method.report["rewind_reference_samples"] == samples
    assert len(method.report["rewind_forget_errors"]) == 2


def test_neggrad_plus_is_the_notebooks_eval_mode_loop_with_the_l2_pull():
    """small_scale_unlearning.ipynb run_neggrad_epoch: model.eval(); zip(retain, cycle(forget)) (the
    cycle replays the first pass's forget batches); loss α·(CE_r + wd/2·‖θ − θ₀‖²) − (1 − α)·CE_f;
    SGD without momentum; a new cycle each epoch."""
    ctx = context()
    method = NegGradPlus(epochs=2, retain_batch_size=2, forget_batch_size=2)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    ref = copy.deepcopy(ctx.original).eval()
    start = {n: p.detach().clone() for n, p in ref.named_parameters()}
    optimizer = sgd(ref, 0.01)
    for _ in range(2):
        for (xr, yr), (xf, yf) in zip(batches(retain_set(), 2), itertools.cycle(batches(forget_set(), 2))):
            pull = 0.1 / 2 * sum((p - start[n]).pow(2).sum() for n, p in ref.named_parameters())
            loss = 0.95 * (F.cross_entropy(ref(xr), yr) + pull) - 0.05 * F.cross_entropy(ref(xf), yf)
            step(optimizer, loss)
    assert_same_state(model, ref)  # BatchNorm's running statistics never move in eval mode
    assert torch.equal(model.norm.running_mean, ctx.original.norm.running_mean)
    assert ctx.calls == [(6, True, 2), (3, True, 2)]


def test_l1_sparse_adds_a_linearly_decaying_l1_penalty_to_finetuning():
    """Unlearn-Sparse unlearn/FT.py (FT_l1): loss CE + α·(1 − t/E)·‖θ‖₁ over every parameter,
    train mode, SGD momentum 0.9, wd 5e-4."""
    ctx = context()
    model = L1Sparse(alpha=0.05, epochs=2, batch_size=3).unlearn(copy.deepcopy(ctx.original), ctx)
    ref = copy.deepcopy(ctx.original).train()
    optimizer = sgd(ref, 0.01, 0.9, 5e-4)
    for epoch in range(2):
        weight = 0.05 * (1 - epoch / 2)
        for x, y in batches(retain_set(), 3):
            l1 = torch.cat([p.view(-1) for p in ref.parameters()]).abs().sum()
            step(optimizer, F.cross_entropy(ref(x), y) + weight * l1)
    assert_same_state(model, ref)


def random_label_replay(ctx, lr, mask=None):
    """RL.py, CIFAR-10 branch: per epoch, Df with labels drawn uniformly from all classes, then Dr;
    train mode; SGD momentum 0.9, wd 5e-4; with a mask, gradients masked, masked-out weights restored
    and their momentum cleared after each step."""
    ref = copy.deepcopy(ctx.original).train()
    theta0 = {n: p.detach().clone() for n, p in ref.named_parameters()}
    optimizer = sgd(ref, lr, 0.9, 5e-4)
    rng = np.random.default_rng(ctx.seed)
    for _ in range(2):
        drawn = torch.as_tensor(rng.integers(0, CLASSES, size=3))
        for x, y in [(forget_set().x, drawn), (retain_set().x, retain_set().y)]:
            optimizer.zero_grad()
            F.cross_entropy(ref(x), y).backward()
            if mask is not None:
                for n, p in ref.named_parameters():
                    p.grad *= mask[n]
            optimizer.step()
            if mask is not None:
                with torch.no_grad():
                    for n, p in ref.named_parameters():
                        p.copy_(torch.where(mask[n], p, theta0[n]))
                        optimizer.state[p]["momentum_buffer"].mul_(mask[n])
    return ref


def test_random_label_relabels_df_uniformly_then_trains_on_dr():
    ctx = context()
    method = RandomLabel(epochs=2)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    assert_same_state(model, random_label_replay(ctx, 0.01))
    assert method.report["schedule"] == "separate"
    assert RandomLabel().schedule_for(100) == "mixed" and RandomLabel().schedule_for(20) == "separate"


def test_salun_masks_the_top_half_of_the_forget_saliency_and_keeps_the_rest_at_the_original():
    """generate_mask.py: |Σ_batches ∇ CE(D_f)| at the original weights, eval mode, the top half over
    all entries (here the top 30 %: this tiny model's saliency has ties at 50 %); then RL at lr 0.013
    moving only the masked weights (RL.py, Feb 2026)."""
    ctx = context()
    method = SalUn(epochs=2, mask_fraction=0.3)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    probe = copy.deepcopy(ctx.original).eval()
    F.cross_entropy(probe(forget_set().x), forget_set().y).backward()
    saliency = {n: p.grad.abs() for n, p in probe.named_parameters()}
    flat = torch.cat([s.flatten() for s in saliency.values()])
    k = int(0.3 * len(flat))
    ranked = flat.sort(descending=True).values
    assert ranked[k] < ranked[k - 1]  # no tie at the threshold
    mask = {n: s >= ranked[k - 1] for n, s in saliency.items()}
    assert_same_state(model, random_label_replay(ctx, 0.013, mask))
    frozen = [n for n, m in mask.items() if not m.all()]
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p[~mask[n]], dict(ctx.original.named_parameters())[n][~mask[n]])


def jit_replay(ctx, forget, accumulate: bool, sigma: float = 0.5, n: int = 3):
    """lipschitz.py modify_weight: train mode; per batch f(x) once, N perturbed copies
    clamp(x + σ·ε, min x, max x) through the model without gradient, loss = mean over the N of
    Σ_i ‖f(x_i) − f(x'_i)‖ / ‖x_i − x'_i‖; gradients zeroed once before the pass (accumulate)."""
    ref = copy.deepcopy(ctx.original).train()
    optimizer = sgd(ref, 3e-4)
    generator = torch.Generator().manual_seed(ctx.seed)
    optimizer.zero_grad()
    for x, _ in batches(forget, 2):
        out = ref(x)
        loss = 0.0
        for _ in range(n):
            x2 = torch.clamp(x + torch.randn(x.shape, generator=generator) * sigma, min=x.min(), max=x.max())
            with torch.no_grad():
                out2 = ref(x2)
            loss = loss + (torch.linalg.vector_norm(out - out2, dim=1) / torch.linalg.vector_norm(x - x2, dim=1)).sum()
        if not accumulate:
            optimizer.zero_grad()
        (loss / n).backward()
        optimizer.step()
    return ref


@pytest.mark.parametrize("accumulate", [True, False])
def test_jit_sums_the_gradients_of_the_batches_seen_so_far(accumulate):
    forget = Samples([[1.0, 0.5], [0.8, -0.2], [1.2, 0.1], [0.6, 0.9]], [0, 0, 0, 0])
    ctx = context(forget_set=forget)
    model = JiT(n_samples=3, batch_size=2, accumulate_gradients=accumulate).unlearn(copy.deepcopy(ctx.original), ctx)
    assert_same_state(model, jit_replay(ctx, forget, accumulate))
    assert ctx.calls == [(4, False, 2)]
    other = jit_replay(ctx, forget, not accumulate)
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(model.parameters(), other.parameters(), strict=True))


def test_jit_sub_class_sigma_is_the_authors_vgg16_value():
    assert JiT().sigma == {"class": 0.5, "subclass": 0.01, "random": 0.01}


# --- methods on the GradientMethod template ------------------------------------------------------

def augmented_forget_set() -> Samples:
    """Stands in for the forget samples with training augmentation (the pipeline's forget_train_set)."""
    return Samples([[1.1, 0.4], [0.7, -0.3], [1.3, 0.2]], [0, 0, 0])


def test_neggrad_ascends_the_forget_loss_on_augmented_batches_in_train_mode():
    """Unlearn-Sparse unlearn/GA.py via impl.py: model.train(), loss −CE (mean) on the forget loader
    (train transform), SGD momentum 0.9, wd 5e-4, nothing of the retain set."""
    ctx = context(forget_train_set=augmented_forget_set())
    method = NegGrad(functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9, weight_decay=5e-4), epochs=2,
                     batch_size=3)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    ref = copy.deepcopy(ctx.original).train()
    optimizer = sgd(ref, 0.05, 0.9, 5e-4)
    for _ in range(2):
        for x, y in batches(augmented_forget_set(), 3):
            step(optimizer, -F.cross_entropy(ref(x), y))
    assert_same_state(model, ref)


def goel_replay(ctx, trained: list[str], epochs: int, reinit: bool = False, clip: float = 10.0):
    """Evaluating-Inexact-Unlearning src/methods.py + src/learn.py: requires_grad only on the last
    layers (EU-k: their Conv/Linear weights Kaiming normal, bias 0, drawn from the head backwards),
    model.train() on the whole model, SGD(lr 0.1, momentum 0.9, wd 5e-5) over the trainable
    parameters, CosineAnnealingWarmRestarts(1, 2, 0.005) stepped per epoch, norm clipped (the authors: 10;
    a smaller bound here, so that the clipping acts on this model's gradients)."""
    torch.manual_seed(ctx.seed)
    ref = copy.deepcopy(ctx.original)
    ref.requires_grad_(False)
    modules = dict(ref.named_modules())
    for name in trained:
        modules[name].requires_grad_(True)
        if reinit and isinstance(modules[name], torch.nn.Linear):
            torch.nn.init.kaiming_normal_(modules[name].weight)
            torch.nn.init.zeros_(modules[name].bias)
    params = [p for p in ref.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=1, T_mult=2, eta_min=0.005)
    ref.train()
    for _ in range(epochs):
        for x, y in batches(retain_set(), 2):
            optimizer.zero_grad()
            F.cross_entropy(ref(x), y).backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), clip)
            optimizer.step()
        schedule.step()
    return ref


def goel_method(cls, k: int, epochs: int, clip: float = 10.0):
    return cls(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-5), k=k, epochs=epochs,
               batch_size=2, clip_grad_norm=clip,
               scheduler=functools.partial(torch.optim.lr_scheduler.CosineAnnealingWarmRestarts, T_0=1, T_mult=2,
                                           eta_min=0.005))


def test_cf_k_trains_the_last_k_layers_on_the_retain_set_with_frozen_batchnorm_in_train_mode():
    ctx = context()
    method = goel_method(CFk, k=1, epochs=3, clip=0.2)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    assert_same_state(model, goel_replay(ctx, ["head"], 3, clip=0.2))
    assert method.report["layers"] == ["head"]
    assert torch.equal(model.body.weight, ctx.original.body.weight)  # frozen
    assert not torch.equal(model.norm.running_mean, ctx.original.norm.running_mean)  # updated in train mode


def test_eu_k_reinitialises_the_last_k_layers_then_trains_them():
    ctx = context()
    method = goel_method(EUk, k=2, epochs=2)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    assert method.report["layers"] == ["head", "norm", "body"]
    assert_same_state(model, goel_replay(ctx, ["head", "norm", "body"], 2, reinit=True))


class NormalisedForget(Samples):
    """The forget samples with the normalisation Boundary Shrink's pixel-space step undoes (mean = std = 0.5)."""

    spec = type("Spec", (), {"mean": (0.5, 0.5), "std": (0.5, 0.5)})()

    def __init__(self):
        super().__init__(forget_set().x.tolist(), [0, 0, 0])


def test_boundary_shrink_moves_forget_samples_to_their_fgsm_neighbours_class():
    """Boundary-Unlearning-Code boundary_unlearning.py (boundary_shrink) + adv_generator.py (FGSM): the
    frozen original in eval mode attacks each batch (one signed step in [0, 1] pixel space, clamped,
    rounded to 1/255), its prediction on the neighbour is the label, CE on the clean batch; train
    mode; SGD momentum 0.9, no weight decay."""
    forget = NormalisedForget()
    ctx = context(forget_set=forget)
    modes = set()  # (trained?, train mode?) of every forward pass through the BatchNorm
    hook = ctx.original.norm.register_forward_pre_hook(lambda m, args: modes.add((m.weight.requires_grad, m.training)))
    method = BoundaryShrink(functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9), eps=0.5, epochs=2,
                            batch_size=3)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    hook.remove()
    model.norm._forward_pre_hooks.clear()  # the copy the method trained took the hook along
    assert modes == {(False, False), (True, True)}  # the attacker frozen in eval mode, the model in train mode
    attacker = copy.deepcopy(ctx.original).eval().requires_grad_(False)
    ref = copy.deepcopy(ctx.original).train()
    optimizer = sgd(ref, 0.05, 0.9)
    moved = 0
    for _ in range(2):
        for x, y in batches(forget, 3):
            probe = x.clone().requires_grad_(True)
            grad, = torch.autograd.grad(F.cross_entropy(attacker(probe), y), probe)
            pixels = torch.round(torch.clamp(x * 0.5 + 0.5 + 0.5 * grad.sign(), 0, 1) * 255) / 255
            target = attacker((pixels - 0.5) / 0.5).argmax(1)
            moved += int((target != y).sum())
            step(optimizer, F.cross_entropy(ref(x), target))
    assert_same_state(model, ref)
    assert method.report["neighbour_moved_pct"] == pytest.approx(100 * moved / 6)


def test_boundary_expanding_trains_towards_a_shadow_class_then_prunes_it():
    """boundary_unlearning.py (boundary_expanding): the widened head Xavier-normal, the old rows copied
    back, every forget sample labelled with the shadow class C, all parameters trained (SGD momentum
    0.9, train mode), then the shadow row dropped."""
    ctx = context()
    method = BoundaryExpanding(functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9), epochs=2, batch_size=3)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    torch.manual_seed(ctx.seed)
    drawn = torch.empty(CLASSES + 1, 4)
    torch.nn.init.xavier_normal_(drawn)
    ref = copy.deepcopy(ctx.original)
    widened = torch.nn.Linear(4, CLASSES + 1)
    with torch.no_grad():
        widened.weight.copy_(torch.cat([ref.head.weight, drawn[-1:]]))
        widened.bias.copy_(torch.cat([ref.head.bias, torch.zeros(1)]))
    ref.head = widened
    ref.train()
    optimizer = sgd(ref, 0.05, 0.9)
    for _ in range(2):
        for x, _y in batches(forget_set(), 3):
            step(optimizer, F.cross_entropy(ref(x), torch.full((len(x),), CLASSES)))
    assert model(forget_set().x).shape == (3, CLASSES)  # pruned
    assert torch.allclose(model.head.weight, ref.head.weight[:CLASSES], atol=1e-6)
    assert torch.allclose(model.head.bias, ref.head.bias[:CLASSES], atol=1e-6)
    for name in ("body.weight", "body.bias", "norm.weight", "norm.running_mean", "norm.running_var"):
        assert torch.allclose(model.state_dict()[name], ref.state_dict()[name], atol=1e-6), name


def test_boundary_shrink_fgsm_step_in_pixel_space_exactly():
    """adv_generator.py FGSM: x_nat + eps·sign(∇), clamped to [0, 1], rounded to the 1/255 grid."""
    from unlearn_bench.methods.boundary import fgsm_neighbour

    model = torch.nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    x = (torch.tensor([[0.3], [0.05], [0.7002]]) - 0.5) / 0.5  # pixels 0.3, 0.05, 0.7002
    half = torch.tensor([0.5])
    # the gradient of CE towards class 0 is −2·p₁·x-direction < 0 for every sample: each pixel steps down by 0.1
    moved = fgsm_neighbour(model, x, torch.zeros(3, dtype=torch.long), 0.1, half, half) * 0.5 + 0.5
    assert moved.view(-1).tolist() == pytest.approx([51 / 255, 0.0, 153 / 255], abs=1e-6)


def test_iu_steps_along_the_codes_recursion_of_forget_minus_retain_gradients():
    """Unlearn-Sparse unlearn/Wfisher.py (Wfisher and the second woodfisher): eval mode, summed gradients
    (batch mean × batch size), v = f/n − r·n_f/(n·n_r), the recursion over single retain samples in
    order (its o is the first gradient, only shrunk), θ += α·k."""
    ctx = context(forget_train_set=augmented_forget_set(), retain_train_set=retain_set())
    model = InfluenceUnlearning(alpha=0.5, n_recursion=2, batch_size=4).unlearn(copy.deepcopy(ctx.original), ctx)
    ref = copy.deepcopy(ctx.original).eval()

    def grad(x, y):
        ref.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        return torch.cat([p.grad.reshape(-1) for p in ref.parameters()])

    forget = sum(grad(x, y) * len(y) for x, y in batches(augmented_forget_set(), 4))
    retain = sum(grad(x, y) * len(y) for x, y in batches(retain_set(), 4))
    n_f, n_r = 3, 6
    k = forget / 9 - retain * n_f / (9 * n_r)
    o = None
    for index, (x, y) in enumerate(batches(retain_set(), 1)):
        g = grad(x, y)
        if o is None:
            o = g
        else:
            tmp = o @ g
            k = k - (k @ g) / (2 + tmp) * o
            o = o - tmp / (2 + tmp) * o
        if index > 2:
            break
    with torch.no_grad():
        flat = torch.cat([p.reshape(-1) for p in ref.parameters()]) + 0.5 * k
        torch.nn.utils.vector_to_parameters(flat, ref.parameters())
    assert_same_state(model, ref)


class TinyConv(torch.nn.Module):
    """A 2-filter 2×2 convolution and a linear head, for the methods that act on Conv2d weights."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 2, bias=False)
        self.head = torch.nn.Linear(8, CLASSES)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).flatten(1))


def _images(seed: int, count: int, labels) -> Samples:
    generator = torch.Generator().manual_seed(seed)
    data = Samples([[0.0]] * count, labels)
    data.x = torch.randn(count, 1, 3, 3, generator=generator)
    return data


def test_msg_reinitialises_the_smallest_gradient_conv_weights_and_damps_the_others():
    """deepunlearn munl/unlearning/kgltop2.py: CE over |Df| random retain samples and −CE over Df summed
    (the model's mode as it arrives: eval), per Conv2d the round(0.3·n) smallest-|grad| weights drawn
    again (Kaiming normal, fan out) and the others' gradients × 0.1 while fine-tuning on Dr in train
    mode with SGD momentum 0.9, wd 5e-4, the rate (e + 1)/3 then (5 − e)/3 of its base."""
    torch.manual_seed(0)
    original = TinyConv().eval()
    forget, retain = _images(1, 3, [0, 0, 0]), _images(2, 6, RETAIN_Y)
    ctx = context(original=original, forget_set=forget, retain_set=retain)
    method = MaskedSmallGradients(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4),
                                  epochs=5, batch_size=2,
                                  scheduler=functools.partial(LinearUpDown, up_epochs=3, total_epochs=6))
    model = method.unlearn(copy.deepcopy(original), ctx)

    torch.manual_seed(ctx.seed)
    chosen = torch.randperm(6)[:3].tolist()
    ref = copy.deepcopy(original).eval()
    for x, y in batches(torch.utils.data.Subset(retain, chosen), 2):
        F.cross_entropy(ref(x), y).backward()
    for x, y in batches(forget, 2):
        (-F.cross_entropy(ref(x), y)).backward()
    grad = ref.conv.weight.grad.abs().view(-1)
    mask = torch.zeros(8, dtype=torch.bool)
    mask[torch.argsort(grad)[:2]] = True  # round(0.3 · 8) = 2 smallest
    mask = mask.view_as(ref.conv.weight)
    fresh = torch.empty_like(ref.conv.weight)
    torch.nn.init.kaiming_normal_(fresh, mode="fan_out", nonlinearity="relu")
    with torch.no_grad():
        ref.conv.weight[mask] = fresh[mask]
    ref.zero_grad()
    optimizer = sgd(ref, 0.1, 0.9, 5e-4)
    ref.train()
    for epoch in range(5):
        for group in optimizer.param_groups:
            group["lr"] = 0.1 * ((epoch + 1) / 3 if epoch < 3 else (5 - epoch) / 3)
        for x, y in batches(retain, 2):
            optimizer.zero_grad()
            F.cross_entropy(ref(x), y).backward()
            ref.conv.weight.grad *= torch.where(mask, 1.0, 0.1)
            optimizer.step()
    assert_same_state(model, ref)
    assert method.report["reinitialised_weights"] == 2


def test_sfron_masks_clips_and_interleaves_adaptive_ascent_with_retain_steps():
    """K1nght/Unified-Unlearning-w-Remain-Geometry Classification/unlearn/sfron.py: the forget and the
    remain "Fisher" (Σ_batches grad² / len(loader) of the mean CE, model.eval(), on the training loaders),
    mask (F_f + 1e-15) / (F_r + 1e-15) ≥ th; then per step t, model.train(): if t % forget_freq == 0
    one SGD step on −α_t·AdaptiveLoss (c = 1 / (ℓ^λ + 1e-15) detached, (c / Σc)·ℓ·N then mean), the
    gradients × mask, clip_grad_norm over all parameters; then one step of the same SGD on the mean CE of
    the next remain batch; both loaders cycled; CosineAnnealingLR(T_max = n_iters) stepped after both."""
    forget = Samples([[1.1, 0.4], [0.7, -0.3], [1.3, 0.2], [0.9, 0.6]], [0, 0, 0, 0])
    retain = Samples([[-0.9, 0.4], [0.3, 1.0], [-0.5, -0.8], [0.6, 0.6], [-0.7, 0.3], [0.2, -1.2]], RETAIN_Y)
    ctx = context(task="random", forget_train_set=forget, retain_train_set=retain)
    iterations, every, alpha, lambd, clip = 8, 2, 25.0, 0.5, 7.0
    method = SFROn(functools.partial(torch.optim.SGD, lr=0.01, momentum=0.9, weight_decay=5e-4),
                   functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=iterations),
                   iterations=iterations, forget_every=every, alpha=alpha, lambd=lambd, threshold=1.0,
                   clip_grad_norm=clip, batch_size=2)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)

    ref = copy.deepcopy(ctx.original)
    forget_batches, retain_batches = batches(forget, 2), batches(retain, 2)

    def fisher(loader):
        ref.eval()
        total = {n: 0 for n, _ in ref.named_parameters()}
        for x, y in loader:
            ref.zero_grad()
            F.cross_entropy(ref(x), y).backward()
            for n, p in ref.named_parameters():
                total[n] = total[n] + p.grad.detach() ** 2 / len(loader)
        return total

    f_forget, f_retain = fisher(forget_batches), fisher(retain_batches)
    mask = {n: (f_forget[n] + 1e-15) / (f_retain[n] + 1e-15) >= 1.0 for n in f_forget}
    assert any(not bool(m.all()) for m in mask.values()) and any(bool(m.any()) for m in mask.values())
    optimizer = sgd(ref, 0.01, 0.9, 5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=iterations)
    forget_iter, retain_iter = itertools.cycle(forget_batches), itertools.cycle(retain_batches)
    clipped = 0
    for t in range(iterations):
        ref.train()
        if t % every == 0:
            x, y = next(forget_iter)
            a_t = alpha * (1 + np.cos(np.pi * t / iterations)) / 2
            optimizer.zero_grad()
            losses = F.cross_entropy(ref(x), y, reduction="none")
            coef = 1 / (torch.pow(losses.detach().clone(), lambd) + 1e-15)
            (a_t * -((coef / coef.sum()) * losses * x.shape[0]).mean()).backward()
            for n, p in ref.named_parameters():
                p.grad *= mask[n]
            clipped += float(torch.nn.utils.clip_grad_norm_(ref.parameters(), clip)) > clip
            optimizer.step()
        x, y = next(retain_iter)
        optimizer.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        optimizer.step()
        scheduler.step()
    assert clipped  # the clipping bites on at least one forget step
    assert_same_state(model, ref)


def test_fcs_pulls_the_forget_set_to_uniform_then_alternates_forget_rounds_and_retain_epochs():
    """deepunlearn munl/unlearning/kgltop1.py (KGLTop1.unlearn): train mode throughout; one pass over
    Df with KLDivLoss(batchmean)(log_softmax(out), uniform) and its own SGD; then per epoch zip(Df,
    Dr) batches with −log_softmax(out_f @ out_r.detach()ᵀ / T, dim=−1).mean() on a second SGD whose
    rate is cosine-annealed per step over len(Df loader) · epochs steps, and a full Dr epoch of CE
    on a third SGD at lr · batch / 64; the three optimisers built once, before any step."""
    forget = Samples([*FORGET_X, [0.9, 0.3]], [0, 0, 0, 0])
    ctx = context(forget_set=forget)
    original, retain = ctx.original, ctx.retain_set
    sgd_of = functools.partial(functools.partial, torch.optim.SGD)
    method = FCS(sgd_of(lr=0.1, momentum=0.9, weight_decay=0.0), sgd_of(lr=0.2, momentum=0.9, weight_decay=0.0),
                 sgd_of(lr=1.6, momentum=0.9, weight_decay=1e-2),
                 functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, eta_min=0.01),
                 epochs=2, batch_size=2, temperature=1.15, retain_lr_batch=64)
    model = method.unlearn(copy.deepcopy(original), ctx)

    ref = copy.deepcopy(original)
    first, forget_opt, retain_opt = sgd(ref, 0.1, 0.9), sgd(ref, 0.2, 0.9), sgd(ref, 1.6 * 2 / 64, 0.9, 1e-2)
    ref.train()
    for x, _ in batches(forget, 2):
        log_p = torch.log_softmax(ref(x), dim=-1)
        uniform = torch.full_like(log_p, 1 / CLASSES)
        step(first, (uniform * (uniform.log() - log_p)).sum() / len(x))
    t, t_max = 0, 2 * 2
    for _ in range(2):
        for (xf, _), (xr, _) in zip(batches(forget, 2), batches(retain, 2), strict=False):  # 2 of Dr's 3 batches
            for group in forget_opt.param_groups:
                group["lr"] = 0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * t / t_max)) / 2
            out_f, out_r = ref(xf), ref(xr).detach()
            step(forget_opt, -torch.log_softmax(out_f @ out_r.T / 1.15, dim=-1).mean())
            t += 1
        for x, y in batches(retain, 2):
            step(retain_opt, F.cross_entropy(ref(x), y))
    assert_same_state(model, ref)
    assert method.report["steps"] == {"uniform": 2, "forget": 4, "retain": 6}


def _scar_replay(ctx, surrogate, epochs, bs, n_sur, hr):
    """jbonato1/SCAR src/Unlearning_methods.py SCAR.run written out: bbone.eval() embeddings of the retain
    loader; per kept class x^δ mean, torch.cov, cov_mat_shrinkage twice, normalize_cov, pinv; then
    bbone.train(), fc.train(), Adam; for each forget batch, for each surrogate batch: zero_grad, bbone(fgt),
    Mahalanobis (normalised x^δ vs normalised means), closest class at init and n_batch_ret == 0
    (argsort, the second when the first equals the label), loss_fgt = mean · λ₁ (HR: × vec_forg of the
    label, zero below th, once measured); fc(bbone(sur)); CR: the original on the batch, rows whose argmax
    is the removed class dropped, removed columns = min; distill(out, orig / T) · λ₂ (kl_div of
    log_softmax + 1e-4, batchmean, log_target); past num_retain_samp: the forward passes, then break;
    after each step the forget accuracy in eval mode."""
    delta, g1, g2, lam1, lam2, temp, th = 0.5, 3.0, 3.0, 1.0, 5.0, 1.0, 0.8
    net = copy.deepcopy(ctx.original)
    original = copy.deepcopy(ctx.original).eval()

    def bbone(x):
        return torch.relu(net.norm(net.body(x)))

    net.eval()
    with torch.no_grad():
        embs = torch.cat([bbone(x) for x, _ in batches(ctx.retain_set, bs)])
        labs = torch.cat([y for _, y in batches(ctx.retain_set, bs)])
    removed = [] if hr else list(ctx.forget_classes)
    distribs, invs = [], []
    for i in range(CLASSES):
        if i in removed:
            continue
        s = torch.pow(embs[labs == i], delta)
        distribs.append(s.mean(0))
        cov = torch.cov(s.T)
        for _ in range(2):
            eye = torch.eye(cov.shape[0])
            off = cov.clone().fill_diagonal_(0.0)
            mask = off != 0.0
            cov = cov + g1 * eye * torch.mean(torch.diagonal(cov)) + g2 * (1 - eye) * ((off * mask).sum() / mask.sum())
        sigma = torch.sqrt(torch.diagonal(cov))
        invs.append(torch.linalg.pinv(cov / (sigma.unsqueeze(1) @ sigma.unsqueeze(0))))
    distribs, invs = torch.stack(distribs), torch.stack(invs)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=5e-4, weight_decay=0.0)
    sur_x = surrogate.x
    if hr:
        with torch.no_grad():
            sur_logits = original(sur_x)
        weights = balanced_weights(sur_logits.argmax(1), CLASSES)
        gen = torch.Generator().manual_seed(ctx.seed)

    def sur_batches():
        if not hr:
            return [(x, None) for x, _ in batches(surrogate, bs)]
        idx = torch.multinomial(weights, len(weights), replacement=True, generator=gen)
        return [(sur_x[idx[k:k + bs]], sur_logits[idx[k:k + bs]]) for k in range(0, len(idx), bs)]

    closest_all, vec = [], None
    forget = batches(ctx.forget_set, bs)
    for epoch in range(epochs):
        for n, (xf, yf) in enumerate(forget):
            for j, (xs, orig) in enumerate(sur_batches()):
                if j > n_sur - 1:
                    with torch.no_grad():
                        bbone(xf)
                        net(xs)
                    break
                opt.zero_grad()
                e = bbone(xf)
                diff = F.normalize(torch.pow(e, delta), p=2, dim=-1)[:, None, :] - F.normalize(distribs, p=2, dim=-1)
                right = torch.matmul(diff.permute(1, 0, 2), invs)
                dists = torch.diagonal(torch.matmul(right, diff.permute(1, 2, 0)), dim1=1, dim2=2).T
                if epoch == 0 and j == 0:
                    cc = torch.argsort(dists, dim=1)
                    closest_all.append(torch.where(cc[:, 0] == yf, cc[:, 1], cc[:, 0]))
                dists = dists[torch.arange(dists.shape[0]), closest_all[n]]
                if vec is not None and hr:
                    vec[vec < th] = 0
                    for i in range(CLASSES):
                        dists[yf == i] = dists[yf == i] * vec[i]
                loss_f = torch.mean(dists) * lam1
                out = net(xs)
                if not hr:
                    with torch.no_grad():
                        orig = original(xs)
                        lab = torch.argmax(orig, dim=1)
                        orig = orig[lab != removed[0], :]
                        orig[:, torch.tensor(removed)] = torch.min(orig)
                    out = out[lab != removed[0], :]
                old = F.log_softmax(orig / temp + 10e-5, dim=1)
                new = F.log_softmax(out + 10e-5, dim=1)
                loss_r = F.kl_div(new + 10e-5, old + 10e-5, reduction="batchmean", log_target=True) * lam2
                (loss_r + loss_f).backward()
                opt.step()
                with torch.no_grad():
                    net.eval()
                    pred = torch.cat([net(x).argmax(1) for x, _ in forget])
                    ys = torch.cat([y for _, y in forget])
                    vec = torch.stack([(pred[ys == i] == i).float().sum() / (ys == i).sum() for i in range(CLASSES)])
                    net.train()
    return net


@pytest.mark.parametrize("hr", [False, True], ids=["class_CR", "random_HR"])
def test_scar_pulls_forget_embeddings_to_the_nearest_wrong_class_while_distilling_on_surrogates(hr):
    forget = Samples([[1.0, 0.5], [0.8, -0.2], [1.2, 0.1], [0.9, 0.6]], [0, 0, 1, 0] if hr else [0, 0, 0, 0])
    retain = Samples([[-1.0, 0.3], [0.2, 1.1], [-0.4, -0.9], [0.5, 0.7], [-0.6, 0.2], [0.1, -1.3], [-1.5, 1.0],
                      [-2.0, -1.0]], [1, 2, 1, 2, 1, 2, 0, 0])
    surrogate = Samples([[0.3, -0.7], [-1.1, 0.4], [0.2, 0.9], [1.5, -0.3], [-0.4, -0.6], [0.7, 0.8]], [0] * 6)
    if hr:  # the original of seed 1 calls the first three class 1 and the other five class 2: weights ⅓ and ⅕
        surrogate = Samples([[-2.3, -1.1], [-1.1, 0.5], [-1.2, -0.4], [-1.0, -2.4], [-0.2, -0.9], [-1.5, -2.4],
                             [0.3, 0.7], [1.0, 0.3]], [0] * 8)
    ctx = context(task="random" if hr else "class", seed=1 if hr else 0, forget_set=forget,
                  retain_set=retain if hr else retain_set())
    branch = ({"augment_statistics": False, "augment_surrogate": False, "balance_surrogate": True,
               "drop_forgotten": False, "forget_accuracy_threshold": 0.8, "stop_accuracy": "reference"} if hr
              else {"augment_statistics": False, "augment_surrogate": False})
    method = SCAR(functools.partial(torch.optim.Adam, lr=5e-4, weight_decay=0.0), surrogate=surrogate, epochs=2,
                  batch_size=2, surrogate_batches=2, stop_accuracy=branch.pop("stop_accuracy", 0.01), **branch)
    model = method.unlearn(copy.deepcopy(ctx.original), ctx)
    ref = _scar_replay(ctx, surrogate, epochs=2, bs=2, n_sur=2, hr=hr)
    assert method.report["stopped"] is None and method.report["steps"] == 8  # no stop before the third epoch
    assert_same_state(model, ref, atol=1e-5)
