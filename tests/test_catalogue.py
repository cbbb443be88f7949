"""The built-in methods are listed in one place (each YAML's `listing` block, methods/catalogue.py): the
report's order and colours and the experiment grids are read from it."""

from __future__ import annotations

import importlib

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from conftest import CONF
from unlearn_bench.methods import catalogue
from unlearn_bench.methods.catalogue import GRIDS, Listing, grid_methods, listings, method_names
from unlearn_bench.methods.provenance import method_yamls, without_provenance
from unlearn_bench.report.paper import METHOD_ORDER
from unlearn_bench.report.style import KNOWN_METHODS


def test_every_built_in_method_is_listed_once_and_the_paper_comes_first():
    names = method_names()
    assert sorted(names) == sorted(method_yamls()) and len(set(names)) == len(names)
    assert names[:8] == ("baseline", "retrain", "finetune", "bad_teacher", "amnesiac", "unsir", "fisher", "ssd")
    assert METHOD_ORDER == KNOWN_METHODS == names


def test_the_grids_run_the_methods_their_yamls_name():
    assert grid_methods("table3") == ("baseline", "retrain", "finetune", "bad_teacher", "amnesiac", "unsir", "ssd")
    assert "unsir" in grid_methods("table2") and "unsir" not in grid_methods("table6")  # class forgetting only
    assert set(grid_methods("table2")) - set(grid_methods("table6")) == {"unsir"}
    with pytest.raises(ValueError, match="no experiment grid 'table9'"):
        grid_methods("table9")


@pytest.mark.parametrize("grid", GRIDS)
def test_an_experiment_grid_sweeps_the_listed_methods(grid):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={grid}"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert cfg.hydra.sweeper.params.method == ",".join(grid_methods(grid))


def test_the_listing_never_reaches_the_method_class(make_cfg):
    cfg = make_cfg("method=finetune")
    assert "listing" in cfg.method and "listing" not in without_provenance(cfg.method)


def test_a_listing_with_an_unknown_grid_or_a_shared_place_is_refused(monkeypatch):
    yamls = {"a": OmegaConf.create({"listing": {"order": 0, "grids": ["table7"]}})}
    monkeypatch.setattr(catalogue, "method_yamls", lambda: yamls)
    listings.cache_clear()
    try:
        with pytest.raises(ValueError, match="table7"):
            listings()
        yamls["a"] = OmegaConf.create({"listing": {"order": 0}})
        yamls["b"] = OmegaConf.create({"listing": {"order": 0}})
        listings.cache_clear()
        with pytest.raises(ValueError, match="share a listing.order"):
            listings()
        yamls["b"] = OmegaConf.create({"listing": {"order": 1, "grids": ["table6"]}})
        listings.cache_clear()
        assert listings() == (Listing("a", 0), Listing("b", 1, ("table6",)))
    finally:
        listings.cache_clear()


def test_the_all_methods_grids_hold_the_twenty_five_methods_each_where_it_is_defined():
    together = set(grid_methods("methods_class")) | set(grid_methods("methods_random"))
    assert len(together) == 25 and not together & {"assd", "lfssd", "lf_assd"}
    for name in together:
        target = str(method_yamls()[name]["_target_"])
        tasks = getattr(importlib.import_module(target.rpartition(".")[0]), target.rpartition(".")[2]).tasks
        for task in ("class", "random"):
            assert (name in grid_methods(f"methods_{task}")) == (task in tasks), (task, name)
