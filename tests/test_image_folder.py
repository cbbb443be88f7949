"""Image-folder datasets: both layouts, decoding, the content-keyed cache, CIFAR-10 as a tree."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from PIL import Image

from cli_helpers import finish, start
from conftest import CONF
from fixture_data import (
    CIFAR10_CLASSES,
    CIFAR100_COARSE,
    CIFAR100_FINE,
    CIFAR100_FINE_TO_COARSE,
    write_image_tree,
    write_pins,
)
from unlearn_bench.cli.experiment_targets import grid_refusal
from unlearn_bench.data import folder as folder_module
from unlearn_bench.data.cifar import load_cifar10, load_cifar20, load_cifar100
from unlearn_bench.data.folder import load_image_folder
from unlearn_bench.data.pins import load_pins
from unlearn_bench.experiment.runner import run
from unlearn_bench.sweep.size import job_overrides
from unlearn_bench.utils.errors import UnlearnBenchError

CLASSES = ["cat", "dog", "emu"]


def test_split_tree_decodes_to_uint8_with_sorted_classes(tmp_path):
    write_image_tree(tmp_path, ["dog", "cat", "emu"], per_class=4, test_per_class=2, size=12)
    bundle = load_image_folder(tmp_path)
    assert bundle.classes == CLASSES
    assert bundle.train.images.shape == (12, 3, 12, 12) and bundle.train.images.dtype == torch.uint8
    assert bundle.train.targets.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert bundle.test.targets.tolist() == [0, 0, 1, 1, 2, 2]
    png = np.asarray(Image.open(tmp_path / "train" / "dog" / "0001.png"))
    assert torch.equal(bundle.train.images[5], torch.from_numpy(png).permute(2, 0, 1))


def test_load_size_resizes_and_channels_one_is_grey(tmp_path):
    write_image_tree(tmp_path, CLASSES, per_class=2, test_per_class=1, size=12)
    bundle = load_image_folder(tmp_path, load_size=8, channels=1)
    assert bundle.train.images.shape == (6, 1, 8, 8) and bundle.test.images.shape == (3, 1, 8, 8)


def test_one_folder_layout_gets_a_seeded_stratified_test_split(tmp_path):
    write_image_tree(tmp_path, CLASSES, per_class=10, test_per_class=None)
    first, again = load_image_folder(tmp_path, test_fraction=0.2), load_image_folder(tmp_path, test_fraction=0.2)
    other = load_image_folder(tmp_path, test_fraction=0.2, split_seed=1)
    assert first.test.targets.bincount().tolist() == [2, 2, 2]
    assert first.train.targets.bincount().tolist() == [8, 8, 8]
    assert torch.equal(first.test.images, again.test.images)
    assert not torch.equal(first.test.images, other.test.images)
    assert first.extra == {"test_fraction": 0.2, "split_seed": 0}


def test_decoded_tensors_are_cached_and_read_back_without_decoding(tmp_path, monkeypatch):
    write_image_tree(tmp_path / "data", CLASSES)
    cache = tmp_path / "cache"
    first = load_image_folder(tmp_path / "data", cache_dir=cache)
    (cached,) = cache.glob("*.pt")
    assert set(torch.load(cached, weights_only=True)) == {"train_images", "train_targets",
                                                          "test_images", "test_targets"}

    def refuse(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(folder_module, "decode_images", refuse)
    again = load_image_folder(tmp_path / "data", cache_dir=cache)
    assert torch.equal(first.train.images, again.train.images) and first.fingerprint() == again.fingerprint()


def test_changing_one_image_changes_the_cache_key_and_the_fingerprint(tmp_path):
    write_image_tree(tmp_path / "data", CLASSES)
    cache = tmp_path / "cache"
    before = load_image_folder(tmp_path / "data", cache_dir=cache).fingerprint()
    path = tmp_path / "data" / "train" / "dog" / "0001.png"
    pixels = np.asarray(Image.open(path)).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(path)
    after = load_image_folder(tmp_path / "data", cache_dir=cache)
    assert after.fingerprint() != before and len(list(cache.glob("*.pt"))) == 2


def test_renaming_a_file_keeps_the_fingerprint(tmp_path):
    write_image_tree(tmp_path, CLASSES)
    before = load_image_folder(tmp_path).fingerprint()
    folder = tmp_path / "train" / "emu"
    (folder / "0003.png").rename(folder / "9999.png")
    assert load_image_folder(tmp_path).fingerprint() == before


def test_garbage_image_is_one_sentence_naming_the_file(tmp_path):
    write_image_tree(tmp_path, CLASSES)
    bad = tmp_path / "train" / "dog" / "0002.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(UnlearnBenchError) as caught:
        load_image_folder(tmp_path)
    message = str(caught.value)
    assert str(bad) in message and message.count(". ") == 0 and "Traceback" not in message


def test_mixed_sizes_without_load_size_name_the_key(tmp_path):
    write_image_tree(tmp_path, CLASSES, size=12)
    Image.new("RGB", (20, 20)).save(tmp_path / "train" / "emu" / "0009.png")
    with pytest.raises(UnlearnBenchError, match="0009.png is 20×20 .* dataset.load_size=N"):
        load_image_folder(tmp_path)


@pytest.mark.parametrize("make, match", [
    (lambda root: root.mkdir(), "holds no class folders"),
    (lambda root: [(root / s / "a").mkdir(parents=True) for s in ("train", "test")], "holds no image"),
    (lambda root: None, "does not exist: set dataset.root=PATH"),
])
def test_empty_or_missing_folders_are_named(tmp_path, make, match):
    make(tmp_path / "data")
    with pytest.raises(UnlearnBenchError, match=match):
        load_image_folder(tmp_path / "data")


def test_train_and_test_class_folders_must_agree(tmp_path):
    write_image_tree(tmp_path, CLASSES)
    (tmp_path / "test" / "emu").rename(tmp_path / "test" / "owl")
    with pytest.raises(UnlearnBenchError, match="make them the same"):
        load_image_folder(tmp_path)


def test_cifar10_accepts_the_image_folder_tree(tmp_path):
    write_image_tree(tmp_path / "cifar10", CIFAR10_CLASSES, per_class=2, test_per_class=1, size=32)
    bundle = load_cifar10(tmp_path, cache_dir=tmp_path / "cache")
    assert bundle.name == "cifar10" and bundle.classes == CIFAR10_CLASSES
    assert bundle.train.images.shape == (20, 3, 32, 32) and len(bundle.test) == 10


def test_cifar10_tree_with_other_classes_is_refused(tmp_path):
    write_image_tree(tmp_path, CLASSES, size=32)
    with pytest.raises(UnlearnBenchError, match="not CIFAR-10's .* dataset=image_folder"):
        load_cifar10(tmp_path)


@pytest.fixture(scope="module")
def cifar100_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar100_tree")
    write_image_tree(root / "cifar100", CIFAR100_FINE, per_class=2, test_per_class=1, size=8)
    return root


def test_cifar100_accepts_a_tree_of_its_fine_class_folders(cifar100_tree):
    bundle = load_cifar100(cifar100_tree)
    assert bundle.name == "cifar100" and bundle.classes == CIFAR100_FINE and not bundle.has_superclasses
    assert bundle.train.images.shape == (200, 3, 32, 32) and bundle.test.targets.tolist() == list(range(100))


def test_cifar20_from_the_tree_takes_its_coarse_labels_from_the_standard_hierarchy(cifar100_tree):
    bundle = load_cifar20(cifar100_tree)
    assert bundle.name == "cifar20" and bundle.classes == CIFAR100_COARSE and bundle.fine_classes == CIFAR100_FINE
    assert bundle.fine_to_coarse == CIFAR100_FINE_TO_COARSE  # the mapping the pickle fixtures carry
    rocket = CIFAR100_FINE.index("rocket")
    assert bundle.test.targets[bundle.test.fine_targets == rocket].tolist() == [CIFAR100_COARSE.index("vehicles_2")]
    assert bundle.aliases["vehicle2"] == "vehicles_2"


def test_a_cifar100_tree_with_other_classes_is_refused_naming_them(tmp_path):
    write_image_tree(tmp_path, [*CIFAR100_FINE[:99], "unicorn"], per_class=1, test_per_class=1, size=8)
    with pytest.raises(UnlearnBenchError, match=r"100 class folders \(not CIFAR-100's: unicorn; missing: worm\)"):
        load_cifar20(tmp_path)


@pytest.mark.parametrize("load_size", [None, 32])
def test_rewriting_a_pins_image_changes_the_fingerprint(tmp_path, load_size):
    folder = write_pins(tmp_path, num_classes=2, per_class=4)
    before = load_pins(tmp_path, load_size=load_size, cache_dir=tmp_path / "cache").fingerprint()
    path = sorted((folder / "pins_Alex Lawther").iterdir())[0]
    Image.new("RGB", (40, 40), (250, 10, 10)).save(path)
    assert load_pins(tmp_path, load_size=load_size, cache_dir=tmp_path / "cache").fingerprint() != before


def test_pins_with_load_size_is_decoded_in_memory(tmp_path):
    write_pins(tmp_path, num_classes=2, per_class=5, size=40)
    bundle = load_pins(tmp_path, load_size=32)
    assert bundle.train.images.shape == (8, 3, 32, 32) and bundle.test.images.dtype == torch.uint8


def test_own_image_folder_runs_end_to_end_with_one_override(make_cfg, tmp_path):
    write_image_tree(tmp_path / "mine", CLASSES, per_class=10, test_per_class=3, size=16)
    cfg = make_cfg("dataset=image_folder", f"dataset.root={tmp_path / 'mine'}", "method=baseline",
                   "training.epochs=1", "training.milestones=[]", "model.net.width=8")
    record = run(cfg)
    assert cfg.dataset.num_classes == 3 and record["forget"] == "cat"
    assert record["split"] == {"forget_train": 9, "retain_train": 18, "forget_test": 3, "retain_test": 6}


def test_an_image_folder_with_one_class_is_refused_before_training(make_cfg, tmp_path):
    write_image_tree(tmp_path / "one", ["cat"], per_class=6, test_per_class=2, size=16)
    cfg = make_cfg("dataset=image_folder", f"dataset.root={tmp_path / 'one'}", "method=baseline")
    with pytest.raises(UnlearnBenchError, match=r"has 1 class \(cat\): a classifier needs at least 2"):
        run(cfg)
    assert not (tmp_path / ".cache" / "unlearn_bench" / "models").exists()


def test_a_killed_writers_temporary_file_is_removed_by_the_next_decode(tmp_path):
    write_image_tree(tmp_path / "data", CLASSES)
    cache = tmp_path / "cache"
    load_image_folder(tmp_path / "data", cache_dir=cache)
    (entry,) = cache.glob("*.pt")
    entry.unlink()
    left = [cache / f"{entry.stem}.4242.tmp", cache / f".{entry.name}.0123abcd.tmp"]  # old and new temp names
    for tmp in left:
        tmp.write_bytes(b"half")
    load_image_folder(tmp_path / "data", cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [entry.name]


@pytest.mark.parametrize("fault", ["read_only", "full"])
def test_a_cache_that_cannot_be_written_decodes_into_memory_with_a_warning(tmp_path, monkeypatch, caplog, fault):
    import errno
    import os

    write_image_tree(tmp_path / "data", CLASSES)
    cache = tmp_path / "cache"
    real_open = os.open
    code = errno.EROFS if fault == "read_only" else errno.ENOSPC

    def refused(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT and str(path).startswith(str(cache)):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    bundle = load_image_folder(tmp_path / "data", cache_dir=cache)
    assert len(bundle.train) == 4 * len(CLASSES)
    assert "Cannot write the decoded-image cache at" in caplog.text and os.strerror(code) in caplog.text
    assert not any(p.name.endswith((".pt", ".tmp")) for p in cache.rglob("*"))


EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# the task each preset's jobs run; random forgetting (Table 6) takes no forget targets
PRESET_TASK = {"table5": "subclass", "table6": "random", "methods_random": "random"}
NO_TARGETS = "has no forget targets for dataset image_folder: pass them with task.forget=NAME[,NAME...]"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_image_tree(tmp_path_factory.mktemp("pets") / "pets", CLASSES, per_class=10, test_per_class=3,
                            size=16)


def _grid_jobs(*overrides: str) -> list:
    """Each job's config of a grid, composed as the sweep composes them (scale=smoke, one method)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", [*overrides, "scale=smoke", "method=ssd"],
                                           run_mode=RunMode.MULTIRUN)
        jobs = [loader.load_sweep_config(master, job) for job in job_overrides(master)]
    GlobalHydra.instance().clear()
    return jobs


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_preset_sweeps_the_forget_targets_given_on_an_image_folder(folder, experiment):
    task = PRESET_TASK.get(experiment, "class")
    targets = [] if task == "random" else ["task.forget=cat,dog"]
    jobs = _grid_jobs(f"experiment={experiment}", "dataset=image_folder", f"dataset.root={folder}", *targets)
    assert jobs and {(job.dataset.name, job.dataset.root, job.task.name) for job in jobs} == {
        ("image_folder", str(folder), task)}
    forgotten = {job.task.get("forget") for job in jobs}
    assert forgotten == ({None} if task == "random" else {"cat", "dog"})


def test_table1_on_an_image_folder_with_task_random_forgets_random_samples(folder):
    jobs = _grid_jobs("experiment=table1", "dataset=image_folder", f"dataset.root={folder}", "task=random")
    assert {(job.dataset.name, job.task.name) for job in jobs} == {("image_folder", "random")}
    assert len(jobs) == 1 and jobs[0].method._target_.endswith("SSD")


@pytest.mark.parametrize("experiment", sorted(set(EXPERIMENTS) - {e for e, t in PRESET_TASK.items() if t == "random"}))
def test_a_preset_without_targets_for_the_dataset_asks_for_task_forget(folder, experiment):
    refused = grid_refusal([f"experiment={experiment}", "dataset=image_folder", f"dataset.root={folder}"])
    assert refused is not None and refused.startswith(f"experiment={experiment} {NO_TARGETS}")
    assert grid_refusal([f"experiment={experiment}", "dataset=image_folder", "task.forget=cat"]) is None
    assert grid_refusal([f"experiment={experiment}", "dataset=digits", "--help"]) is None


def test_the_missing_targets_are_one_sentence_and_exit_2_before_the_grid_starts(folder, tmp_path):
    code, _, err = finish(start(tmp_path, "experiment=table2", "dataset=image_folder", f"dataset.root={folder}",
                                f"hydra.sweep.dir={tmp_path / 'sweep'}"))
    assert code == 2 and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: experiment=table2 {NO_TARGETS}") and line.count(". ") == 0
    assert not (tmp_path / "sweep").exists()


def test_a_preset_grid_runs_end_to_end_on_an_image_folder(folder, tmp_path):
    sweep = tmp_path / "sweep"
    code, out, err = finish(start(tmp_path, "experiment=table2", "dataset=image_folder", f"dataset.root={folder}",
                                  "task.forget=cat,dog", "model=cnn", "method=ssd", "seed=0", "model.net.width=8",
                                  "dataset.train_subset=null", "dataset.test_subset=null", f"hydra.sweep.dir={sweep}"))
    assert code == 0, err[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    assert [(r["dataset"], r["task"], r["forget"], r["method"]) for r in records] == [
        ("image_folder", "class", "cat", "ssd"), ("image_folder", "class", "dog", "ssd")]
    assert all(r["split"] == {"forget_train": 9, "retain_train": 18, "forget_test": 3, "retain_test": 6}
               for r in records)
