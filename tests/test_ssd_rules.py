"""The SSD family's α rules on hand-made importances where the right α is known."""

import math

import numpy as np
import pytest
import torch

from unlearn_bench.methods.ssd import SSD, dampen
from unlearn_bench.methods.ssd_rules import (
    assd_alpha,
    assd_percentile,
    choose_alpha,
    mass_share_alpha,
    percentile,
)
from unlearn_bench.utils.errors import UnlearnBenchError


class Flat(torch.nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(n))


def selected(imp_d, imp_f, alpha) -> list[int]:
    model = Flat(len(imp_d["w"]))
    dampen(model, imp_d, imp_f, alpha, lambda_=1e-9)  # selected parameters go to ~0
    return [i for i, v in enumerate(model.w.tolist()) if v < 1.0]


def test_assd_percentile_follows_the_forget_share():
    assert assd_percentile(10, 100) == pytest.approx(100 - math.log(11))
    assert assd_percentile(500, 50_000) == pytest.approx(100 - math.log(2))  # CIFAR-100 class: 99.31
    assert assd_percentile(0, 100) == 100.0


def test_assd_alpha_is_the_percentile_of_the_finite_ratios():
    # ratios 0, 1, ..., 100 (d = 1) plus one x/0 (inf) and one 0/0 (NaN) that the rule leaves out
    f = torch.cat([torch.arange(101.0), torch.tensor([5.0, 0.0])])
    d = torch.cat([torch.ones(101), torch.zeros(2)])
    alpha, facts = assd_alpha({"w": d}, {"w": f}, forget_size=10, train_size=100)
    # position p/100·(101 − 1) = p on the values 0..100, so the percentile is p itself
    assert alpha == pytest.approx(100 - math.log(11), abs=1e-9)
    assert facts["percentile"] == pytest.approx(100 - math.log(11))
    # ratios 98, 99, 100 exceed α ≈ 97.60, and the x/0 parameter is selected by every α
    assert selected({"w": d}, {"w": f}, alpha) == [98, 99, 100, 101]


def test_percentile_equals_numpy_linear_interpolation():
    values = torch.rand(1001, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for q in (0.0, 12.5, 97.6021, 99.9, 100.0):
        assert percentile(values, q) == pytest.approx(np.percentile(values.numpy(), q), rel=1e-12)


def test_mass_share_selects_the_fewest_top_ratio_parameters_reaching_the_share_of_excess():
    d = {"w": torch.tensor([1.0, 1.0, 1.0, 1.0])}
    f = {"w": torch.tensor([1.0, 4.0, 2.0, 3.0])}
    # λ = 1: ratios 1, 4, 2, 3; excess f − d of those above λ: w1 3, w3 2, w2 1 (total 6); w0 none
    alpha, facts = mass_share_alpha(d, f, share=0.5)  # w1 alone carries 3/6: α between 4 and 3
    assert alpha == pytest.approx(math.sqrt(12)) and facts["selected_mass_share"] == pytest.approx(0.5)
    assert selected(d, f, alpha) == [1]
    alpha, facts = mass_share_alpha(d, f, share=0.6)  # w1 + w3 carry 5/6: α between 3 and 2
    assert alpha == pytest.approx(math.sqrt(6)) and facts["selected_mass_share"] == pytest.approx(5 / 6)
    assert selected(d, f, alpha) == [1, 3]
    alpha, facts = mass_share_alpha(d, f, share=1.0)  # all three: α = λ, w0 (ratio 1) stays
    assert alpha == 1.0 and facts["selected_mass_share"] == 1.0
    assert selected(d, f, alpha) == [1, 2, 3]
    # λ = 2: only w1 (excess 2) and w3 (excess 1) count; half of 3 is reached by w1
    assert mass_share_alpha(d, f, share=0.5, lambda_=2.0)[0] == pytest.approx(math.sqrt(12))


def test_mass_share_counts_zero_train_importance_first_and_keeps_ties_together():
    # w0: x/0 (excess 2, selected by every α); w1, w2 tie at ratio 3 (excess 2 each); w3 ratio 2 (1)
    d = {"w": torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0])}
    f = {"w": torch.tensor([2.0, 3.0, 3.0, 2.0, 0.0])}
    alpha, facts = mass_share_alpha(d, f, share=0.5)  # 2 + 2 = 4 ≥ 3.5, and the tie takes both
    assert alpha == pytest.approx(math.sqrt(6))
    assert facts["selected_mass_share"] == pytest.approx(6 / 7)
    assert selected(d, f, alpha) == [0, 1, 2]
    alpha, _ = mass_share_alpha(d, f, share=0.2)  # the x/0 parameter alone carries 2/7
    assert alpha == pytest.approx(6.0) and selected(d, f, alpha) == [0]


def test_mass_share_without_excess_changes_nothing():
    d, f = {"w": torch.ones(3)}, {"w": torch.full((3,), 0.5)}
    alpha, facts = mass_share_alpha(d, f, share=0.5)
    assert alpha == 1.0 and facts["selected_mass_share"] == 0.0 and selected(d, f, alpha) == []


def test_fixed_rule_returns_the_configured_alpha():
    assert choose_alpha("fixed", {}, {}, alpha=2.5, forget_size=1, train_size=2, mass_share=0.5) == (2.5, {})


def test_rules_refuse_what_they_cannot_decide():
    zeros = {"w": torch.zeros(3)}
    with pytest.raises(UnlearnBenchError, match="ASSD cannot choose alpha"):
        assd_alpha(zeros, zeros, 1, 10)


@pytest.mark.parametrize("kwargs,message", [
    ({"alpha_rule": "magic"}, "method.alpha_rule"),
    ({"mass_share": 0.0}, "method.mass_share"),
    ({"mass_share": 1.5}, "method.mass_share"),
])
def test_bad_rule_options_are_refused(kwargs, message):
    with pytest.raises(UnlearnBenchError, match=message):
        SSD(**kwargs)


@pytest.mark.parametrize("dataset", ["digits", "fashion_mnist", "image_folder", "torch"])
def test_on_a_dataset_without_a_paper_alpha_the_rule_maps_choice_has_its_own_name(make_cfg, dataset):
    """method=ssd is the paper's SSD there too (until 2026-12 it ran the rule map's choice); that choice,
    label-free importances with ASSD's rule (docs/results/ssd_rules/), is method=lf_assd."""
    paper = make_cfg(f"dataset={dataset}", "method=ssd").method
    assert (paper.estimator, paper.alpha_rule) == ("batch", "fixed")
    method = make_cfg(f"dataset={dataset}", "method=lf_assd").method
    assert (method.estimator, method.alpha_rule, method.lambda_) == ("output_norm_batch", "assd", 1.0)


def test_ssd_keeps_the_papers_alpha_where_the_paper_gives_one(make_cfg):
    method = make_cfg("dataset=cifar10", "model=resnet18", "method=ssd").method
    assert (method.estimator, method.alpha_rule, method.alpha, method.lambda_) == ("batch", "fixed", 10, 1.0)


def test_the_optuna_search_tunes_a_fixed_alpha(make_cfg):
    assert make_cfg("dataset=digits", "hparams_search=ssd_optuna").method.alpha_rule == "fixed"
