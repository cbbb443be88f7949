"""Method-owned presets (conf/method_model/, method_dataset/, method_protocol/) and one name per algorithm:
method=ssd is the paper's SSD on every dataset, method=lf_assd the tuning-free one, and the report names SSD's
family by what ran."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate

from unlearn_bench.conf import CONF_DIR
from unlearn_bench.methods.provenance import without_provenance
from unlearn_bench.methods.ssd import LFASSD, SSD
from unlearn_bench.report.collect import algorithm


def _method(make_cfg, *overrides):
    return make_cfg(*overrides).method


@pytest.mark.parametrize("overrides, expected", [
    (["dataset=digits"], {"alpha": 2.0, "lambda_": 1.0, "estimator": "batch", "alpha_rule": "fixed"}),
    (["dataset=fashion_mnist"], {"alpha": 10.0, "lambda_": 1.0, "estimator": "batch", "alpha_rule": "fixed"}),
    (["dataset=cifar10", "model=resnet18"], {"alpha": 10.0, "lambda_": 1.0, "batch_size": 64}),
    (["dataset=cifar100", "model=vit", "task=class"], {"alpha": 5, "lambda_": 1.0}),
    (["dataset=cifar20", "model=vit", "task=subclass"], {"alpha": 25}),
    (["dataset=cifar10", "model=vit_tiny", "task=random"], {"alpha": 10}),
    (["dataset=pins"], {"alpha": 50, "lambda_": 0.1}),
    (["dataset=pins", "method.alpha=7"], {"alpha": 7, "lambda_": 0.1}),  # the command line wins
    (["dataset=cifar10", "protocol=official", "task=random"], {"batch_size": 128}),
    (["dataset=cifar10", "protocol=official", "task=class"], {"batch_size": 64}),
    (["dataset=cifar100", "method=lfssd", "model=vit_tiny"], {"alpha": 5, "estimator": "output_norm_batch"}),
    (["dataset=pins", "method=lfssd"], {"alpha": 50, "lambda_": 0.1}),
    (["protocol=official", "method=finetune", "task=random"], {"batch_size": 128}),
    (["protocol=official", "method=bad_teacher", "model=vit"], {"batch_size": 128, "kl_reduction": "mean"}),
    (["method=bad_teacher", "model=vit"], {"batch_size": 256, "kl_reduction": "batchmean"}),
    (["protocol=official", "method=unsir"], {"mode": "official"}),
    (["method=unsir"], {"mode": "ours"}),
])
def test_each_method_reads_its_own_presets(make_cfg, overrides, expected):
    method = _method(make_cfg, *overrides)
    assert {key: method[key] for key in expected} == expected


def test_ssd_is_the_papers_everywhere_and_lf_assd_needs_no_alpha(make_cfg):
    for dataset in ("digits", "fashion_mnist", "cifar10", "image_folder", "torch"):
        ssd = instantiate(without_provenance(_method(make_cfg, f"dataset={dataset}")))
        assert type(ssd) is SSD and (ssd.estimator, ssd.alpha_rule) == ("batch", "fixed"), dataset
    tuning_free = instantiate(without_provenance(_method(make_cfg, "method=lf_assd")))
    assert isinstance(tuning_free, LFASSD) and tuning_free.name == "lf_assd"
    assert (tuning_free.estimator, tuning_free.alpha_rule, tuning_free.lambda_) == ("output_norm_batch", "assd", 1.0)


def test_no_dataset_model_or_protocol_yaml_holds_a_methods_setting():
    keys = ("ssd_", "finetune_batch_size", "bad_teacher_", "unsir_mode")
    for group in ("dataset", "model", "protocol"):
        for path in (Path(CONF_DIR) / group).glob("*.yaml"):
            settings = [line for line in path.read_text().splitlines() if line.startswith(keys)]
            assert not settings, (path.name, settings)


def test_a_plugin_ships_presets_for_its_own_model(make_cfg, tmp_path, monkeypatch):
    folder = tmp_path / "conf" / "method_model"
    folder.mkdir(parents=True)
    (folder / "ssd_cnn.yaml").write_text("# @package method\npresets:\n  alpha: {class: 4, subclass: 4, random: 3}\n")
    monkeypatch.setenv("UNLEARN_BENCH_ROOT", str(tmp_path))
    assert _method(make_cfg, "dataset=cifar10", "model=cnn").alpha == 4
    assert _method(make_cfg, "dataset=cifar10", "model=cnn", "task=random").alpha == 3


def _record(method, estimator=None, rule=None):
    report = {} if estimator is None else {"estimator": estimator, "alpha_rule": rule}
    return {"method": method, "method_report": report}


@pytest.mark.parametrize("record, name", [
    (_record("ssd", "batch", "fixed"), "ssd"),
    (_record("ssd", "per_sample", "fixed"), "ssd"),
    (_record("ssd", "output_norm_batch", "assd"), "lf_assd"),  # what method=ssd ran on digits until 2026-12
    (_record("lfssd", "output_norm_batch", "fixed"), "lfssd"),
    (_record("assd", "batch", "assd"), "assd"),
    (_record("lf_assd", "output_norm_batch", "assd"), "lf_assd"),
    (_record("ssd", "batch", "mass_share"), "ssd (fisher importances, mass_share α)"),
    (_record("lfssd", "output_norm_per_sample", "mass_share"), "lfssd (label-free importances, mass_share α)"),
    (_record("scrub"), "scrub"),
    (_record("ssd"), "ssd"),  # a record without the report's fields keeps its name
])
def test_the_report_names_ssds_family_by_what_ran(record, name):
    assert algorithm(record) == name
