"""Importance estimators, the single- and multi-device passes, and the stored []_D."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unlearn_bench.experiment.runner import run
from unlearn_bench.importance import (
    ImportanceStore,
    batch_estimator,
    compute_importance,
    expected_estimator,
    per_sample_estimator,
    rank_batches,
)
from unlearn_bench.methods.ssd import SSD
from unlearn_bench.models.cnn import SmallCNN
from unlearn_bench.training.store import content_key

CPU = torch.device("cpu")
QUIET = {"accelerator": "cpu", "enable_progress_bar": False}
DDP2 = {**QUIET, "devices": 2, "strategy": "ddp_spawn"}


def tiny_data(n: int, classes: int = 3, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 1, 6, 6, generator=g), torch.randint(0, classes, (n,), generator=g))


def tiny_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return SmallCNN(1, 3, width=4).eval()


def hand_linear() -> nn.Linear:
    """A 2→2 linear classifier with hand-picked weights, in float64."""
    net = nn.Linear(2, 2).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
        net.bias.copy_(torch.tensor([0.0, 1.0]))
    return net


def assert_close(a: dict, b: dict, rtol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=rtol, atol=1e-9 * float(b[name].abs().max()) + 1e-30)


# --------------------------------------------------------------------------- estimators


def test_batch_estimator_matches_closed_form_on_a_linear_model():
    """(∇ mean CE)² of a linear model: ∇z = softmax(z) − onehot(y), ∇W = mean ∇z xᵀ, ∇b = mean ∇z."""
    net = hand_linear()
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    dz = torch.softmax(x @ net.weight.T.detach() + net.bias.detach(), 1) - F.one_hot(y, 2).double()
    sums, count = batch_estimator(net, x, y)
    assert count == 1
    torch.testing.assert_close(sums["weight"], (dz.T @ x / 3) ** 2)
    torch.testing.assert_close(sums["bias"], dz.mean(0) ** 2)


def test_batch_importance_is_the_mean_over_batches_of_squared_batch_gradients():
    net, data = tiny_cnn(), tiny_data(11)
    expected = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    batches = 0
    for x, y in DataLoader(data, batch_size=4):
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()
        for n, p in net.named_parameters():
            expected[n] += p.grad**2
        batches += 1
    got = compute_importance("batch", net, DataLoader(data, batch_size=4), CPU, trainer_cfg=QUIET)
    assert_close(got, {n: s / batches for n, s in expected.items()})


def test_per_sample_importance_equals_a_loop_of_per_sample_backward_passes():
    net, data = tiny_cnn(), tiny_data(9)
    expected = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for x, y in DataLoader(data, batch_size=1):
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()
        for n, p in net.named_parameters():
            expected[n] += p.grad**2
    got = compute_importance("per_sample", net, DataLoader(data, batch_size=4), CPU, trainer_cfg=QUIET)
    assert_close(got, {n: s / len(data) for n, s in expected.items()}, rtol=1e-4)
    assert per_sample_estimator(net, *data[:4])[1] == 4


def test_expected_estimator_weights_every_label_by_the_model_probability():
    net = hand_linear()
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0]], dtype=torch.float64)
    expected = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    probs = torch.softmax(net(x), 1).detach()
    for i in range(len(x)):
        for c in range(2):
            net.zero_grad()
            F.cross_entropy(net(x[i:i + 1]), torch.tensor([c])).backward()
            for n, p in net.named_parameters():
                expected[n] += probs[i, c] * p.grad**2
    sums, count = expected_estimator(net, x, torch.tensor([0, 1]))
    assert count == 2
    assert_close(sums, expected, rtol=1e-10)


def test_a_gradient_shared_by_two_parameters_is_squared_once():
    class TwoOffsets(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.zeros(2, 3))
            self.b = nn.Parameter(torch.zeros(2, 3))

        def forward(self, x):
            return x + (self.a + self.b)  # autograd hands one gradient tensor to both a and b

    sums, _ = batch_estimator(TwoOffsets(), torch.zeros(2, 3), torch.tensor([0, 1]))
    grad = (torch.full((2, 3), 1 / 3) - F.one_hot(torch.tensor([0, 1]), 3)) / 2
    torch.testing.assert_close(sums["a"], grad**2)
    torch.testing.assert_close(sums["b"], grad**2)


# --------------------------------------------------------------------------- runners


@pytest.mark.parametrize("n,world", [(37, 2), (7, 2), (5, 3), (1, 2), (64, 4)])
def test_rank_batches_cover_every_batch_exactly_once(n, world):
    batches = [list(range(i, min(i + 5, n))) for i in range(0, n, 5)]
    shards = [rank_batches(batches, r, world) for r in range(world)]
    covered = sorted(tuple(b) for shard in shards for b in shard)
    assert covered == sorted(tuple(b) for b in batches)


@pytest.mark.parametrize("estimator", ["batch", "per_sample"])
def test_lightning_on_one_device_equals_the_plain_loop_bit_for_bit(estimator):
    net, loader = tiny_cnn(), DataLoader(tiny_data(13), batch_size=4)
    loop = compute_importance(estimator, net, loader, CPU, trainer_cfg=QUIET, backend="loop")
    lightning = compute_importance(estimator, net, loader, CPU, trainer_cfg=QUIET, backend="lightning")
    assert all(torch.equal(loop[n], lightning[n]) for n in loop)


def test_the_fisher_forgetting_call_keeps_working():
    net, loader = tiny_cnn(), DataLoader(tiny_data(5), batch_size=5)
    got = compute_importance("expected", net, loader, CPU, desc="fisher")
    assert set(got) == {n for n, _ in net.named_parameters()}
    assert all(bool((t >= 0).all()) for t in got.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    "estimator,n,batch_size",
    [
        ("batch", 37, 5),  # 8 batches (last one of 2 samples): 4 per rank
        ("per_sample", 37, 16),  # 3 batches: 2 on rank 0, 1 on rank 1
        ("expected", 7, 8),  # 1 batch: rank 1 runs a padding batch it ignores
    ],
)
def test_ddp_spawn_on_two_cpu_ranks_equals_one_process(estimator, n, batch_size):
    """Each rank takes whole batches of the single-process order, so the sums are the same terms."""
    net, loader = tiny_cnn(), DataLoader(tiny_data(n), batch_size=batch_size)
    single = compute_importance(estimator, net, loader, CPU, trainer_cfg=QUIET)
    ddp = compute_importance(estimator, net, loader, CPU, trainer_cfg=DDP2)
    assert_close(ddp, single)


def test_ssd_passes_the_trainer_settings_to_both_importance_passes(tmp_path, monkeypatch):
    import unlearn_bench.methods.ssd as ssd_module
    from unlearn_bench.methods.base import UnlearnContext

    seen = []

    def recording(*args, trainer_cfg=None, **kwargs):
        seen.append((kwargs["desc"], trainer_cfg))
        return compute_importance(*args, **kwargs, trainer_cfg=QUIET)

    monkeypatch.setattr(ssd_module, "compute_importance", recording)
    net, data = tiny_cnn(), tiny_data(12)
    ctx = UnlearnContext(original=net, forget_set=data, retain_set=data, train_set=data, split=None,
                         num_classes=3, device=CPU, seed=0, build_model=tiny_cnn,
                         importance_store=ImportanceStore(tmp_path), importance_material={"original": "x"},
                         trainer_cfg=DDP2)
    SSD(alpha=10.0, batch_size=4).unlearn(tiny_cnn(), ctx)
    passed = {**DDP2, "precision": "32-true"}  # the importance pass stays 32-bit unless importance_precision
    assert seen == [("importance []_D", passed), ("importance []_Df", passed)]


# --------------------------------------------------------------------------- store


def test_store_reads_the_second_request_and_recomputes_a_corrupt_file(tmp_path):
    store, calls = ImportanceStore(tmp_path), []
    material = {"original": "abc", "estimator": "batch", "batch_size": 64}

    def compute():
        calls.append(1)
        return {"w": torch.arange(4.0)}

    first, info1 = store.get_or_compute(material, compute)
    second, info2 = store.get_or_compute(material, compute)
    assert (info1["cache_hit"], info2["cache_hit"], len(calls)) == (False, True, 1)
    assert torch.equal(first["w"], second["w"])

    path = store.path(content_key(material))
    path.write_bytes(path.read_bytes()[:-7] + b"garbage")
    _, info3 = store.get_or_compute(material, compute)
    assert (info3["cache_hit"], len(calls)) == (False, 2)

    _, info4 = store.get_or_compute(material, compute, use_cache=False)
    assert (info4["cache_hit"], len(calls)) == (False, 3)
    _, info5 = store.get_or_compute({**material, "batch_size": 32}, compute)
    assert (info5["cache_hit"], len(calls)) == (False, 4)


@pytest.mark.slow
def test_ssd_reuses_the_stored_train_importances(make_cfg, monkeypatch):
    """The second request reads []_D from the store (no pass over D); a corrupt file or
    method.importance_cache=false recomputes it; the results record which happened."""
    passes: list[str] = []
    original = SSD.importance

    def counting(self, model, ctx, dataset, desc):
        passes.append(desc)
        return original(self, model, ctx, dataset, desc)

    monkeypatch.setattr(SSD, "importance", counting)
    small = ("dataset.train_subset=400", "training.epochs=1", "training.milestones=[]")
    first = run(make_cfg(*small))
    assert first["method_report"]["importance_cache_hit"] is False
    assert passes == ["importance []_D", "importance []_Df"]

    passes.clear()
    second = run(make_cfg(*small))
    assert second["method_report"]["importance_cache_hit"] is True
    assert passes == ["importance []_Df"]
    assert second["method_report"]["importance_key"] == first["method_report"]["importance_key"]
    assert second["metrics"]["unlearned"] == first["metrics"]["unlearned"]

    path = ImportanceStore(make_cfg().paths.cache_dir + "/importance").path(first["method_report"]["importance_key"])
    path.write_bytes(b"not a safetensors file")
    passes.clear()
    third = run(make_cfg(*small))
    assert third["method_report"]["importance_cache_hit"] is False
    assert passes == ["importance []_D", "importance []_Df"]

    passes.clear()
    fourth = run(make_cfg(*small, "method.importance_cache=false"))
    assert fourth["method_report"]["importance_cache_hit"] is False
    assert passes == ["importance []_D", "importance []_Df"]
