"""The GradientMethod template and the later methods added with it (neggrad, cf_k, eu_k, boundary_shrink,
boundary_expanding, iu): exact steps on hand-made models, the layers CF-k / EU-k train, the schedule,
IU's recursion, the YAML defaults, and a grid on digits."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from hydra import compose, initialize_config_dir
from torch import nn

from cli_helpers import fast_records
from conftest import CONF
from reference_setup import Samples, context
from unlearn_bench.methods.boundary import BoundaryExpanding, BoundaryShrink, ShadowClass
from unlearn_bench.methods.gradient import Phase
from unlearn_bench.methods.influence import InfluenceUnlearning, coded_woodfisher
from unlearn_bench.methods.last_layers import CFk, EUk, last_layers
from unlearn_bench.methods.neggrad import NegGrad, ascent_loss
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.models.resnet import resnet18
from unlearn_bench.utils.errors import UnlearnBenchError, build

pytestmark = pytest.mark.usefixtures("one_thread")


def _sgd(**kwargs):
    return functools.partial(torch.optim.SGD, **kwargs)


class NoBias(nn.Module):
    """W ∈ R^{2×1}, no bias: the logits of x are W·x."""

    def __init__(self, weight):
        super().__init__()
        self.fc = nn.Linear(1, 2, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor(weight, dtype=torch.float64).view(2, 1))

    def forward(self, x):
        return self.fc(x)


def _ascend(weight, samples, epochs: int, **sgd) -> torch.Tensor:
    model = NoBias(weight).double()
    data = Samples(samples, [0] * len(samples))
    data.x = data.x.double()
    ctx = context(original=model, forget_train_set=data)
    NegGrad(_sgd(**sgd), epochs=epochs, batch_size=len(samples)).unlearn(model, ctx)
    return model.fc.weight.detach().view(-1)


def test_neggrad_two_ascent_steps_with_momentum_by_hand():
    # step 1 at W = 0: p = (0.5, 0.5), ∇(−CE) = (0.5, −0.5), W = (−0.05, 0.05); step 2: p₀ = σ(−0.1),
    # buffer 0.9·(0.5, −0.5) + (1 − σ(−0.1), σ(−0.1) − 1)
    one = _ascend([0.0, 0.0], [[1.0]], epochs=1, lr=0.1, momentum=0.9)
    two = _ascend([0.0, 0.0], [[1.0]], epochs=2, lr=0.1, momentum=0.9)
    assert one.tolist() == pytest.approx([-0.05, 0.05], abs=1e-12)
    assert two.tolist() == pytest.approx([-0.1474979187, 0.1474979187], abs=1e-9)


def test_neggrad_weight_decay_still_pulls_towards_zero_during_the_ascent():
    # w₀ = 1 − 0.1·((1 − σ(2)) + 5e-4·1): the ascent gradient of the true class's weight is −(1 − p₀)
    assert _ascend([1.0, -1.0], [[1.0]], epochs=1, lr=0.1, weight_decay=5e-4)[0].item() == pytest.approx(
        0.9880297078, abs=1e-9)


def test_neggrad_loss_is_a_mean_over_the_batch():
    assert torch.equal(_ascend([0.3, -0.2], [[1.0], [1.0]], 1, lr=0.1), _ascend([0.3, -0.2], [[1.0]], 1, lr=0.1))


def test_neggrad_reads_only_the_forget_data():
    assert NegGrad.data_used == ("forget",)
    assert ascent_loss(NoBias([0.0, 0.0]).double(), [torch.ones(1, 1, dtype=torch.float64), torch.tensor([0])]
                       ).item() == pytest.approx(-0.6931471806, abs=1e-9)  # −log 2


RESNET18_LAST = {
    1: ["fc"],
    2: ["fc", "layers.7.bn2", "layers.7.conv2"],
    4: ["fc", "layers.7.bn2", "layers.7.conv2", "layers.7.bn1", "layers.7.conv1", "layers.6.shortcut.1",
        "layers.6.shortcut.0"],
}


@pytest.mark.parametrize("k", sorted(RESNET18_LAST))
def test_the_last_k_layers_of_resnet18_are_the_authors(k):
    assert [name for name, _ in last_layers(resnet18(10), k)] == RESNET18_LAST[k]


def test_k_6_is_resnet18s_last_stage_and_its_classifier():
    model = resnet18(10)
    expected = {n for n, m in model.named_modules() if n.startswith(("layers.6.", "layers.7."))
                and isinstance(m, (nn.Conv2d, nn.BatchNorm2d))} | {"fc"}
    assert {name for name, _ in last_layers(model, 6)} == expected


@pytest.mark.parametrize("k", [0, 22])
def test_a_k_outside_the_models_layers_is_one_sentence(k):
    with pytest.raises(UnlearnBenchError, match=r"method.k must lie in 1..21 \(the model's Conv2d and Linear layers\)"):
        last_layers(resnet18(10), k)


def test_eu_k_reinitialises_only_the_layers_and_leaves_their_batchnorms_as_they_were():
    model = resnet18(10)
    original = copy.deepcopy(model)
    EUk(_sgd(lr=0.1), k=2).prepare(model, context())
    conv = model.layers[7].conv2.weight
    assert not torch.equal(conv, original.layers[7].conv2.weight) and torch.count_nonzero(model.fc.bias) == 0
    assert conv.std().item() == pytest.approx((2 / conv[0].numel()) ** 0.5, rel=0.05)  # Kaiming normal, fan in
    assert torch.equal(model.layers[7].bn2.weight, original.layers[7].bn2.weight)
    assert torch.equal(model.layers[7].conv1.weight, original.layers[7].conv1.weight)  # not among the 2
    assert [n for n, p in model.named_parameters() if p.requires_grad] == [
        "layers.7.conv2.weight", "layers.7.bn2.weight", "layers.7.bn2.bias", "fc.weight", "fc.bias"]


def test_the_schedule_steps_once_per_epoch_and_the_report_records_each_epochs_rate():
    ctx = context()
    method = CFk(_sgd(lr=0.1, momentum=0.9, weight_decay=5e-5), k=1, epochs=8, batch_size=2,
                 scheduler=functools.partial(torch.optim.lr_scheduler.CosineAnnealingWarmRestarts, T_0=1, T_mult=2,
                                             eta_min=0.005))
    method.unlearn(copy.deepcopy(ctx.original), ctx)
    assert method.report["epoch_lrs"]["retain"] == pytest.approx(
        [0.1, 0.1, 0.0525, 0.1, 0.086088, 0.0525, 0.018912, 0.1], abs=1e-6)
    assert method.report["optimizer"] == {"name": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-5}
    assert method.report["samples"] == {"retain": 6} and len(method.report["epoch_losses"]["retain"]) == 8
    assert method.report["trained_parameters"] == ctx.original.head.weight.numel() + ctx.original.head.bias.numel()


def test_a_phase_on_data_the_template_does_not_offer_is_refused():
    with pytest.raises(ValueError, match="data must be one of"):
        Phase("x", "train_set", 1, 8, ascent_loss)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"optimizer": 0.1}, "method.optimizer must be an optimiser target with _partial_: true"),
    ({"optimizer": _sgd(lr=0.1), "clip_grad_norm": 0.0}, "method.clip_grad_norm must be > 0"),
])
def test_bad_template_settings_are_one_sentence(kwargs, message):
    with pytest.raises(UnlearnBenchError, match=message):
        NegGrad(**kwargs)


@pytest.mark.parametrize(("name", "cls", "expected"), [
    ("neggrad", NegGrad, {"epochs": 5, "batch_size": 256, "augment": True, "clip_grad_norm": None,
                          "lr": 1e-4, "momentum": 0.9, "weight_decay": 5e-4}),
    ("cf_k", CFk, {"epochs": 30, "batch_size": 64, "k": 6, "clip_grad_norm": 10.0, "lr": 0.1, "momentum": 0.9,
                   "weight_decay": 5e-5}),
    ("boundary_shrink", BoundaryShrink, {"epochs": 10, "batch_size": 64, "eps": 0.1, "clip_grad_norm": None,
                                         "lr": 1e-5, "momentum": 0.9}),
    ("boundary_expanding", BoundaryExpanding, {"epochs": 10, "batch_size": 64, "clip_grad_norm": None, "lr": 1e-5,
                                               "momentum": 0.9}),
    ("iu", InfluenceUnlearning, {"batch_size": 256, "augment": True, "alpha": 0.2, "n_recursion": 1000}),
    ("eu_k", EUk, {"epochs": 62, "batch_size": 64, "k": 6, "clip_grad_norm": 10.0, "lr": 0.1, "momentum": 0.9,
                   "weight_decay": 5e-5}),
])
def test_the_yaml_builds_the_method_with_the_authors_defaults(name, cls, expected):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"method={name}", "model=resnet18", "dataset=cifar10"])
    method = build(without_provenance(cfg.method))
    assert type(method) is cls
    settings = {k: getattr(method, k) for k in ("epochs", "batch_size", "augment", "k", "clip_grad_norm", "eps", "alpha",
                                                "n_recursion") if hasattr(method, k)}
    optimizer = getattr(method, "optimizer", None)
    assert {**settings, **(optimizer.keywords if optimizer else {})} == expected


@pytest.mark.parametrize(("model", "k"), [("cnn", 2), ("resnet_small", 3), ("vit_tiny", 5), ("resnet18", 6)])
def test_the_last_stage_preset_of_each_model(model, k):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for method in ("cf_k", "eu_k"):
            assert compose("config", overrides=[f"method={method}", f"model={model}"]).method.k == k


def _grid(tmp_path, sweep: str, *overrides: str) -> list[dict]:
    return fast_records(tmp_path, *overrides, multirun=True, name=sweep)


def test_cli_multirun_of_the_later_methods_on_digits(tmp_path):
    trained = _grid(tmp_path, "loops", "method=neggrad,cf_k,eu_k,boundary_shrink,boundary_expanding,msg,fcs",
                    "++method.epochs=1")
    records = {r["method"]: r for r in [*trained, *_grid(tmp_path, "iu", "method=iu")]}
    assert sorted(records) == ["boundary_expanding", "boundary_shrink", "cf_k", "eu_k", "fcs", "iu", "msg", "neggrad"]
    assert records["msg"]["method_report"]["reinitialised_weights"] > 0
    assert records["fcs"]["data_read"] == ["forget", "retain"]
    fcs = records["fcs"]["method_report"]
    assert fcs["steps"]["forget"] == fcs["forget_schedule_steps"]
    assert {stage: len(losses) for stage, losses in fcs["epoch_losses"].items()} == {"uniform": 1, "forget": 1,
                                                                                     "retain": 1}
    assert records["neggrad"]["data_read"] == ["forget"] and records["cf_k"]["data_read"] == ["retain"]
    assert records["cf_k"]["method_report"]["layers"] == ["fc", "features.8", "features.7"]  # the cnn's k=2
    assert records["eu_k"]["method_report"]["reinitialised"] is True
    assert 0 <= records["boundary_shrink"]["method_report"]["neighbour_moved_pct"] <= 100
    assert records["boundary_expanding"]["metrics"]["unlearned"]["test_acc"] is not None  # 10 outputs again
    assert records["iu"]["method_report"]["recursion_samples"] == 1002 and records["iu"]["data_read"] == [
        "forget", "retain"]
    for name, record in records.items():
        assert record["timing"]["method_s"] > 0
        assert name in ("iu", "fcs") or len(record["method_report"]["epoch_losses"]) == 1  # fcs: its 3 stages


@pytest.mark.parametrize("cls", [BoundaryShrink, BoundaryExpanding])
def test_boundary_methods_are_for_class_and_subclass_forgetting_only(cls):
    assert cls.tasks == ("class", "subclass") and cls.data_used == ("forget",)


def test_boundary_shrink_refuses_a_step_that_is_not_positive():
    with pytest.raises(UnlearnBenchError, match=r"method.eps must be > 0 \(the FGSM step in pixel space\)"):
        BoundaryShrink(_sgd(lr=1e-5), eps=0.0)


def test_the_shadow_class_adds_one_output_and_its_removal_restores_the_model():
    model = resnet18(10).eval()
    x = torch.randn(2, 3, 32, 32)
    before = model(x)
    shadow = ShadowClass(model)
    widened = model(x)
    assert widened.shape == (2, 11) and torch.allclose(widened[:, :10], before)
    assert torch.count_nonzero(model.fc.shadow_bias) == 0 and model.fc.shadow_weight.shape == (1, 512)
    shadow.remove()
    assert torch.equal(model(x), before) and not hasattr(model.fc, "shadow_weight")
    assert len(list(model.parameters())) == len(list(resnet18(10).parameters()))


def test_a_classifier_that_is_not_linear_cannot_take_a_shadow_class():
    model = resnet18(10)
    model.get_classifier = lambda: nn.Identity()
    with pytest.raises(UnlearnBenchError, match="widens a Linear classifier"):
        ShadowClass(model)


V, G1, G2, G3 = (torch.tensor(v, dtype=torch.float64) for v in ([1.0, 2.0], [1.0, 0.0], [1.0, 1.0], [0.0, 2.0]))


@pytest.mark.parametrize(("gradients", "n", "expected"), [
    ([G1, G2], 1000, [1 - 3 / 1001, 2.0]),
    ([G1, G2, G3], 1000, [994 / 1001, 2.0]),
    ([G1, G2, G3, G2], 1, [-2.5, 2.0]),  # it stops after sample index 2 > n: the fourth is never read
])
def test_ius_coded_recursion_by_hand(gradients, n, expected):
    assert coded_woodfisher(iter(gradients), V, n).tolist() == pytest.approx(expected, abs=1e-12)


def test_ius_recursion_is_not_the_woodfisher_inverse():
    # Sherman-Morrison from the identity over [g1, g2] with N = 1000 gives (0.99601, 1.99701) instead
    inverse = torch.eye(2, dtype=torch.float64)
    for g in (G1, G2):
        u = inverse @ g
        inverse = inverse - torch.outer(u, u) / (1000 + g @ u)
    assert (inverse @ V).tolist() == pytest.approx([0.9960109711, 1.9970069820], abs=1e-9)
    assert coded_woodfisher(iter([G1, G2]), V, 1000)[0].item() != pytest.approx(0.9960109711, abs=1e-6)


def test_iu_refuses_a_step_that_is_not_positive():
    with pytest.raises(UnlearnBenchError, match=r"method.alpha must be > 0"):
        InfluenceUnlearning(alpha=0)


def test_linear_up_down_rises_then_falls_per_epoch():
    from unlearn_bench.methods.schedules import LinearUpDown

    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1e-3)
    schedule = LinearUpDown(optimizer, up_epochs=3, total_epochs=6)
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3, 2e-3 / 3, 1e-3 / 3])


def test_msg_reinitialises_the_share_of_smallest_gradients():
    from unlearn_bench.methods.msg import small_gradient_mask

    grad = torch.tensor([[0.5, -0.1], [0.05, 2.0], [-0.3, 0.2]])
    assert small_gradient_mask(torch.zeros(3, 2), grad, 0.3).tolist() == [[False, True], [True, False],
                                                                         [False, False]]  # round(1.8) = 2
