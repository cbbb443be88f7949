"""A class hierarchy on any dataset (dataset.superclasses): exact labels for a hand-made map, bad maps
refused in one sentence, sub-class splits and the official fine-label order on the mapped data, the
presets, and sub-class forgetting end to end on a generated image-folder tree."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from cli_helpers import finish, start
from conftest import CONF
from fixture_data import write_image_tree
from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.data.fashion_mnist import CLASSES as FASHION_CLASSES
from unlearn_bench.data.forget import SubclassTask
from unlearn_bench.data.prepare import prepare
from unlearn_bench.data.superclasses import superclass_map, with_superclasses
from unlearn_bench.experiment.protocol import loader_orders
from unlearn_bench.utils.errors import UnlearnBenchError

CLASSES = ["ant", "bee", "cat", "dog"]
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _bundle(train_labels: list[int], test_labels: list[int]) -> DatasetBundle:
    def split(labels):
        labels = torch.tensor(labels)
        return ImageSplit(torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1).repeat(1, 1, 2, 2), labels)

    return DatasetBundle("toy", split(train_labels), split(test_labels), list(CLASSES))


def test_a_hand_made_map_gives_exact_superclass_labels_and_keeps_the_fine_ones():
    bundle = _bundle([0, 1, 2, 3, 2, 0], [3, 1])
    mapped = with_superclasses(bundle, {"mammals": ["dog", "cat"], "insects": ["bee", "ant"]})
    assert mapped.classes == ["mammals", "insects"] and mapped.fine_classes == CLASSES
    assert mapped.fine_to_coarse == [1, 1, 0, 0]
    assert mapped.train.targets.tolist() == [1, 1, 0, 0, 0, 1]
    assert mapped.train.fine_targets.tolist() == [0, 1, 2, 3, 2, 0]
    assert mapped.test.targets.tolist() == [0, 1] and mapped.test.fine_targets.tolist() == [3, 1]
    assert torch.equal(mapped.train.images, bundle.train.images)
    assert bundle.train.targets.tolist() == [0, 1, 2, 3, 2, 0]  # the loaded bundle is left as it was


def test_digit_classes_may_be_given_as_numbers():
    assert superclass_map({"even": [0, 2], "odd": [1, 3]}, ["0", "1", "2", "3"]) == [0, 1, 0, 1]


@pytest.mark.parametrize(("superclasses", "message"), [
    ({"a": ["ant", "bee"], "b": ["bee", "cat", "dog"]}, "class 'bee' is listed in 'a' and in 'b'"),
    ({"a": ["ant", "ant", "bee"], "b": ["cat", "dog"]}, "class 'ant' is listed twice"),
    ({"a": ["ant", "bee", "eel"], "b": ["cat", "dog"]}, "'a' lists 'eel', which is not a class of the dataset; "
                                                       "its classes: ant, bee, cat, dog."),
    ({"a": ["ant", "bee"], "b": ["cat"]}, "dataset.superclasses leaves out 'dog': every class needs a superclass"),
    ({"a": "ant", "b": ["bee", "cat", "dog"]}, "'a' must list its classes ([name, ...]), got 'ant'."),
    ({}, "dataset.superclasses must map each superclass name to a list of the dataset's classes"),
])
def test_a_map_that_is_not_a_partition_of_the_classes_is_one_sentence(superclasses, message):
    with pytest.raises(UnlearnBenchError) as err:
        superclass_map(superclasses, CLASSES)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_dataset_with_its_own_superclasses_refuses_a_second_map():
    bundle = with_superclasses(_bundle([0, 1, 2, 3], [0]), {"x": ["ant", "bee"], "y": ["cat", "dog"]})
    with pytest.raises(UnlearnBenchError, match="has its own superclasses already"):
        with_superclasses(bundle, {"x": ["x", "y"]})


def _mapped_data():
    labels = [0, 1, 2, 3] * 6
    bundle = with_superclasses(_bundle(labels, [0, 1, 2, 3] * 2), {"pair": ["ant", "bee"], "cat": ["cat"],
                                                                    "dog": ["dog"]})
    return prepare(bundle, val_fraction=0.25, seed=0)


def test_subclass_forgetting_on_a_map_forgets_the_fine_class_and_keeps_its_siblings():
    data = _mapped_data()
    split = SubclassTask(forget="bee").split(data)
    fine, coarse = data.train.fine_targets.numpy(), data.train.targets.numpy()
    assert (fine[split.forget_idx] == 1).all() and len(split.forget_idx) == (fine == 1).sum()
    assert set(coarse[split.forget_idx]) == {0} and 0 in set(coarse[split.retain_idx])  # ant stays in "pair"
    assert (data.test.fine_targets.numpy()[split.test_forget_idx] == 1).all()


def test_a_superclass_of_one_class_asked_for_subclass_forgetting_is_one_sentence():
    with pytest.raises(UnlearnBenchError, match="'cat' is the only class of superclass 'cat': forgetting it is class "
                                                r"forgetting \(task=class\)"):
        SubclassTask(forget="cat").split(_mapped_data())


def test_the_official_subclass_order_sorts_the_retained_samples_by_fine_label():
    data = _mapped_data()
    split = SubclassTask(forget="bee").split(data)
    fine = data.train.fine_targets.numpy()
    order = loader_orders("official", split, data.train.targets.numpy(), fine, seed=0)["train"]
    retained = [i for label in (0, 2, 3) for i in np.flatnonzero(fine == label)]
    assert order.tolist() == [*retained, *split.forget_idx.tolist()]


@pytest.mark.parametrize(("preset", "classes", "expected", "default"), [
    ("cifar10", CIFAR10, [0, 0, 1, 1, 1, 1, 1, 1, 0, 0], "automobile"),
    ("fashion_mnist", FASHION_CLASSES, [0, 2, 0, 3, 0, 1, 0, 1, 4, 1], "Sneaker"),
])
def test_the_presets_partition_their_datasets_classes(preset, classes, expected, default):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"dataset={preset}", f"superclasses={preset}", "task=subclass"])
    superclasses = OmegaConf.to_container(cfg.dataset.superclasses)
    assert superclass_map(superclasses, classes) == expected
    assert cfg.task.forget == default


def test_subclass_forgetting_runs_on_an_image_folder_with_one_map_override(tmp_path):
    tree = write_image_tree(tmp_path / "pets", ["cat", "cow", "dog", "pig"], per_class=12, test_per_class=4)
    code, _, err = finish(start(tmp_path, "dataset=image_folder", f"dataset.root={tree}", "method=baseline",
                                "dataset.train_subset=null", "dataset.test_subset=null",
                                "dataset.superclasses={pets:[cat,dog],farm:[cow,pig]}", "task=subclass",
                                "task.forget=dog", f"hydra.run.dir={tmp_path / 'run'}"))
    assert code == 0, err[-3000:]
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert record["config"]["dataset"]["num_classes"] == 2
    assert record["task"] == "subclass" and record["forget"] == "dog"
    # the dog images: 12 in train (less those the 10 % validation split takes), 4 in test
    assert 9 <= record["split"]["forget_train"] <= 12 and record["split"]["forget_test"] == 4
    assert record["split"]["retain_test"] == 12


def test_a_bad_map_on_the_command_line_exits_2_with_one_sentence(tmp_path):
    tree = write_image_tree(tmp_path / "pets", ["cat", "dog"], per_class=4, test_per_class=2)
    code, _, err = finish(start(tmp_path, "dataset=image_folder", f"dataset.root={tree}", "method=baseline",
                                "dataset.superclasses={pets:[cat,emu],farm:[dog]}", "task=subclass",
                                "task.forget=cat", f"hydra.run.dir={tmp_path / 'run'}"))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("error: dataset.superclasses: 'pets' lists 'emu', which is not a class "
                                            "of the dataset; its classes: cat, dog.")


def test_a_map_is_part_of_the_models_key_and_leaves_the_keys_of_models_without_one_as_they_were():
    from unlearn_bench.experiment.model_keys import config_identity, model_material

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        plain = compose("config", overrides=["dataset=cifar10"])
        mapped = compose("config", overrides=["dataset=cifar10", "superclasses=cifar10"])
        counted = compose("config", overrides=["dataset=cifar10", "superclasses=cifar10", "dataset.num_classes=2"])
    assert "superclasses" not in model_material(plain, "data")["dataset"]
    assert model_material(mapped, "data")["dataset"]["superclasses"]["vehicles"][0] == "airplane"
    # num_classes 10 becomes 2 once the data is loaded: before that, the config cannot name the model
    assert config_identity(mapped, "original") is None and config_identity(counted, "original") is not None
