"""The SSD rule map runs every rule as the real method, tunes the bound, and writes its table and figure."""

import json

import pytest
import torch

from unlearn_bench.bench.ssd_rule_map import BOUND, SEARCH_SPACE, compose_cfg, main

TINY = ["training.epochs=2", "training.milestones=[1]", "trainer.accelerator=cpu"]


@pytest.mark.slow
def test_rule_map_scores_every_rule_against_gold(tmp_path):
    out = tmp_path / "map"
    args = ["--seeds", "0", "--classes", "3", "--mass-shares", "0.3,0.5", "--tune-trials", "2", "--out", str(out),
            f"paths.root_dir={tmp_path}", "++method.presets.alpha.class=3", *TINY]
    main(args)
    rows = json.loads((out / "rows.json").read_text())
    main([*args, "--resume"])  # every cell is there: nothing reruns, nothing doubles
    assert json.loads((out / "rows.json").read_text()) == rows
    rules = [r["rule"] for r in rows]
    assert len(rules) == len(set(rules)) == 9
    assert {"assd", "lfssd preset α", "mass_share s=0.3", "mass_share s=0.5", "lfssd + mass_share s=0.5", BOUND} <= set(rules)
    for row in rows:
        gaps = [abs(row[k] - row["gold"][k]) for k in ("Dr", "Df", "MIA")]
        assert row["distance_to_gold"] == pytest.approx(sum(gaps) / 3)
        assert row["retain_drop"] == pytest.approx(row["original"]["Dr"] - row["Dr"])
        assert row["task"] == "class" and row["class"] == "3"
    assert {r["alpha"] for r in rows if r["rule"] == "ssd α=10 (paper)"} == {10.0}
    assert {r["alpha"] for r in rows if r["rule"] == "ssd preset α"} == {3.0}  # the overrides reach the methods
    assert not any("same_as" in r for r in rows)  # every rule's config differs here
    table = (out / "tables.md").read_text()
    assert "| assd |" in table and "target met" in table and "seed 0 only" in table and "Tuned bound" in table
    assert (out / "distance_to_gold.png").stat().st_size > 0


@pytest.mark.slow
def test_rule_map_random_forgetting_and_one_tuned_bound_for_every_cell(tmp_path):
    out = tmp_path / "map"
    main(["--task", "random", "--seeds", "0,1", "--tune-trials", "3", "--out", str(out),
          f"paths.root_dir={tmp_path}", "++method.presets.alpha.random=10", *TINY])
    rows = json.loads((out / "rows.json").read_text())
    # with SSD's α set to the paper's 10, the preset rule reuses the paper rule's row
    preset = [r for r in rows if r["rule"] == "ssd preset α"]
    assert {r["same_as"] for r in preset} == {"ssd α=10 (paper)"}
    for r in preset:
        paper = next(p for p in rows if p["rule"] == "ssd α=10 (paper)" and p["seed"] == r["seed"])
        assert {**r, "rule": paper["rule"]} == {**paper, "same_as": r["same_as"]}
    assert {(r["seed"], r["class"], r["task"]) for r in rows} == {(0, "random", "random"), (1, "random", "random")}
    bound = [r for r in rows if r["rule"] == BOUND]
    assert len(bound) == 2 and len({(r["alpha"], r["lambda"]) for r in bound}) == 1
    alpha, lambda_ = bound[0]["alpha"], bound[0]["lambda"]
    assert SEARCH_SPACE["alpha"][0] <= alpha <= SEARCH_SPACE["alpha"][1]
    assert SEARCH_SPACE["lambda_"][0] <= lambda_ <= SEARCH_SPACE["lambda_"][1]
    # the search minimised the validation distance of the tuning seed (0), which the rows record
    tuned = next(r for r in bound if r["seed"] == 0)
    assert tuned["bound"]["val_distance"] == pytest.approx(tuned["val_distance_to_gold"])
    assert tuned["bound"]["trials"] == 3 and tuned["bound"]["seeds"] == [0]
    for row in rows:  # random forgetting's columns: Dr the whole test split, Df the forget samples
        assert row["original"]["Dr"] - row["Dr"] == pytest.approx(row["retain_drop"])
    assert "random forgetting" in (out / "tables.md").read_text()


def test_the_map_runs_the_scales_stand_in_like_the_command_line():
    cfg = compose_cfg("class", ["dataset=cifar10", "model=resnet18"])
    assert (cfg.model.name, cfg.training.epochs) == ("resnet_small", 7)
    assert compose_cfg("class", ["dataset=digits", "model=vit"]).model.name == "vit_tiny"


@pytest.mark.slow
def test_a_resumed_map_scores_its_searched_bound_on_the_new_seeds(tmp_path):
    out = tmp_path / "map"
    common = ["--task", "random", "--out", str(out), f"paths.root_dir={tmp_path}", *TINY]
    main(["--seeds", "0", "--tune-trials", "2", *common])
    first = [r for r in json.loads((out / "rows.json").read_text()) if r["rule"] == BOUND]
    threads = torch.get_num_threads()
    try:
        main(["--seeds", "0,1", "--tune-trials", "2", "--resume", "--threads", "2", *common])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    rows = json.loads((out / "rows.json").read_text())
    bound = {r["seed"]: r for r in rows if r["rule"] == BOUND}
    assert sorted(bound) == [0, 1] and bound[0] == first[0]  # seed 0's row is kept, not searched again
    assert (bound[1]["alpha"], bound[1]["lambda"], bound[1]["bound"]) == \
        (first[0]["alpha"], first[0]["lambda"], first[0]["bound"])
    assert len([r for r in rows if r["seed"] == 1]) == len([r for r in rows if r["seed"] == 0])
