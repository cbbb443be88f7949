"""The CIFAR, Pins and Fashion-MNIST loaders on tiny files in their exact on-disk formats."""

from __future__ import annotations

import logging
import pickle
import urllib.error

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar as tv_cifar

from fixture_data import (
    CIFAR100_FINE_TO_COARSE,
    write_cifar10,
    write_cifar100,
    write_fashion_mnist,
    write_pins,
)
from unlearn_bench.data import fashion_mnist
from unlearn_bench.data.cifar import load_cifar10, load_cifar20, load_cifar100
from unlearn_bench.data.fashion_mnist import load_fashion_mnist
from unlearn_bench.data.forget import ClassTask, SubclassTask
from unlearn_bench.data.pins import load_pins
from unlearn_bench.data.prepare import prepare
from unlearn_bench.utils.errors import UnlearnBenchError

# --- CIFAR -----------------------------------------------------------------------------------


def test_cifar10_loads_the_pickles(tmp_path):
    write_cifar10(tmp_path, per_class=5, test_per_class=2)
    bundle = load_cifar10(tmp_path)
    assert bundle.train.images.shape == (50, 3, 32, 32) and bundle.train.images.dtype == torch.uint8
    assert bundle.test.images.shape == (20, 3, 32, 32)
    assert bundle.classes[:2] == ["airplane", "automobile"] and bundle.num_classes == 10
    assert torch.equal(bundle.train.targets.bincount(), torch.full((10,), 5))
    assert not bundle.has_superclasses


def test_fixture_matches_what_torchvision_reads(tmp_path, monkeypatch):
    """Bypassing only the MD5 check, torchvision's own CIFAR10 reads the same images and labels."""
    write_cifar10(tmp_path)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    reference = tv_cifar.CIFAR10(str(tmp_path), train=True)
    bundle = load_cifar10(tmp_path)
    assert torch.equal(bundle.train.images, torch.from_numpy(reference.data).permute(0, 3, 1, 2))
    assert bundle.train.targets.tolist() == reference.targets
    assert bundle.classes == reference.classes
    # and the CIFAR web page's recipe, pickle.load(f, encoding="bytes"), sees bytes keys
    with (tmp_path / "cifar-10-batches-py" / "data_batch_1").open("rb") as f:
        assert {b"data", b"labels", b"batch_label", b"filenames"} == set(pickle.load(f, encoding="bytes"))


def test_cifar100_has_100_fine_classes(tmp_path):
    write_cifar100(tmp_path, per_class=2, test_per_class=1)
    bundle = load_cifar100(tmp_path)
    assert bundle.num_classes == 100 and bundle.classes[69] == "rocket"
    assert bundle.train.images.shape == (200, 3, 32, 32) and len(bundle.test) == 100
    assert torch.equal(bundle.train.targets.bincount(), torch.full((100,), 2))


def test_cifar20_keeps_fine_labels_and_their_superclasses(tmp_path):
    write_cifar100(tmp_path, per_class=2, test_per_class=1)
    bundle = load_cifar20(tmp_path)
    assert bundle.num_classes == 20 and bundle.has_superclasses
    assert bundle.classes[19] == "vehicles_2" and bundle.fine_classes[69] == "rocket"
    assert bundle.fine_to_coarse == CIFAR100_FINE_TO_COARSE
    for split in (bundle.train, bundle.test):
        mapped = torch.tensor(bundle.fine_to_coarse)[split.fine_targets]
        assert torch.equal(mapped, split.targets)


@pytest.mark.parametrize(("alias", "full"), [("vehicle2", "vehicles_2"), ("veg", "fruit_and_vegetables"),
                                             ("electrical_devices", "household_electrical_devices"),
                                             ("natural_scenes", "large_natural_outdoor_scenes"),
                                             ("people", "people")])
def test_cifar20_accepts_the_papers_superclass_aliases(tmp_path, alias, full):
    write_cifar100(tmp_path, per_class=2, test_per_class=1)
    data = prepare(load_cifar20(tmp_path), val_fraction=0.1)
    by_alias, by_name = ClassTask(alias).split(data), ClassTask(full).split(data)
    assert by_alias.target == full
    assert np.array_equal(by_alias.forget_idx, by_name.forget_idx) and len(by_alias.test_forget_idx) == 5


def test_unknown_superclass_lists_names_and_aliases(tmp_path):
    write_cifar100(tmp_path, per_class=2, test_per_class=1)
    data = prepare(load_cifar20(tmp_path), val_fraction=0.1)
    with pytest.raises(UnlearnBenchError, match="vehicle2=vehicles_2"):
        ClassTask("vehicle3").split(data)


def test_cifar20_subclass_split_stays_inside_its_superclass(tmp_path):
    write_cifar100(tmp_path, per_class=3, test_per_class=2)
    data = prepare(load_cifar20(tmp_path), val_fraction=0.1)
    split = SubclassTask("rocket").split(data)
    assert (data.train.fine_targets[split.forget_idx] == 69).all()
    assert (data.train.targets[split.forget_idx] == 19).all()
    assert len(split.test_forget_idx) == 2
    # the superclass's other fine classes stay on the retain side
    assert (data.train.targets[split.retain_idx] == 19).sum() > 0


def test_md5_mismatch_only_warns(tmp_path, caplog):
    write_cifar10(tmp_path)
    with caplog.at_level(logging.WARNING, logger="unlearn_bench.data.cifar"):
        load_cifar10(tmp_path)
    assert "checksums" in caplog.text and "data_batch_1" in caplog.text


@pytest.mark.parametrize(("writer", "loader", "missing"), [
    (write_cifar10, load_cifar10, "data_batch_3"),
    (write_cifar10, load_cifar10, "batches.meta"),
    (write_cifar100, load_cifar20, "test"),
])
def test_missing_file_names_the_file_and_the_fix(tmp_path, writer, loader, missing):
    folder = writer(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(UnlearnBenchError) as err:
        loader(tmp_path)
    message = str(err.value)
    assert str(folder / missing) in message
    assert "dataset.download=true" in message and "dataset.root=PATH" in message


def test_nothing_there_names_the_first_missing_file(tmp_path):
    with pytest.raises(UnlearnBenchError, match="cifar-100-python/train is missing"):
        load_cifar100(tmp_path)


def test_root_may_be_the_pickle_folder_itself(tmp_path):
    folder = write_cifar10(tmp_path)
    assert len(load_cifar10(folder).train) == 50


@pytest.mark.parametrize("content", [b"not a pickle", b""])
def test_malformed_file_is_named(tmp_path, content):
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_2").write_bytes(content)
    with pytest.raises(UnlearnBenchError, match="data_batch_2"):
        load_cifar10(tmp_path)


def test_pickle_without_labels_is_named(tmp_path):
    folder = write_cifar100(tmp_path, per_class=1, test_per_class=1)
    with (folder / "train").open("wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [0, 1]}, f)
    with pytest.raises(UnlearnBenchError, match="train is malformed.*coarse_labels"):
        load_cifar20(tmp_path)


def test_offline_download_fails_with_instructions(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    with pytest.raises(UnlearnBenchError) as err:
        load_cifar100(tmp_path, download=True)
    message = str(err.value)
    assert "Downloading CIFAR-100 failed" in message
    assert "cifar-100-python.tar.gz" in message and "dataset.download=false" in message


def test_download_is_skipped_when_the_files_are_there(tmp_path, monkeypatch):
    write_cifar10(tmp_path)
    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", pytest.fail)
    assert len(load_cifar10(tmp_path, download=True).test) == 20


# --- Pins ------------------------------------------------------------------------------------


def test_pins_is_an_image_folder_with_a_stratified_split(tmp_path):
    write_pins(tmp_path, num_classes=4, per_class=10)
    bundle = load_pins(tmp_path, test_fraction=0.2)
    assert bundle.classes == ["Adriana Lima", "Alex Lawther", "Alexandra Daddario", "Alvaro Morte"]
    assert torch.equal(bundle.test.targets.bincount(), torch.full((4,), 2))
    assert torch.equal(bundle.train.targets.bincount(), torch.full((4,), 8))
    assert not set(bundle.train.images) & set(bundle.test.images)
    assert bundle.train.image(0, 32).shape == (3, 32, 32) and bundle.train.image(0).dtype == torch.uint8
    assert bundle.train.images[0].endswith(".jpg") and "pins_Adriana Lima" in bundle.train.images[0]


def test_pins_split_is_deterministic_and_seeded(tmp_path):
    write_pins(tmp_path, num_classes=3, per_class=10)
    first, again = load_pins(tmp_path, split_seed=0), load_pins(tmp_path, split_seed=0)
    other = load_pins(tmp_path, split_seed=1)
    assert first.test.images == again.test.images and first.fingerprint() == again.fingerprint()
    assert first.test.images != other.test.images


def test_pins_accepts_the_unpacked_folder_itself(tmp_path):
    folder = write_pins(tmp_path, num_classes=2, per_class=3)
    assert load_pins(folder).classes == ["Adriana Lima", "Alex Lawther"]


def test_pins_forgets_by_index(tmp_path):
    write_pins(tmp_path, num_classes=3, per_class=10)
    split = ClassTask("1").split(prepare(load_pins(tmp_path), val_fraction=0.1))
    assert split.target == "Alex Lawther" and len(split.test_forget_idx) == 2


def test_pins_missing_folder_is_one_sentence(tmp_path):
    with pytest.raises(UnlearnBenchError, match="No PinsFaceRecognition folders .* dataset.root=PATH"):
        load_pins(tmp_path / "nowhere")


# --- Fashion-MNIST ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_reads_torchvision_layout(tmp_path, gz):
    write_fashion_mnist(tmp_path / "FashionMNIST" / "raw", per_class=3, test_per_class=2, gz=gz)
    bundle = load_fashion_mnist(tmp_path)
    assert bundle.train.images.shape == (30, 1, 28, 28) and bundle.train.images.dtype == torch.uint8
    assert bundle.test.images.shape == (20, 1, 28, 28)
    assert bundle.classes[0] == "T-shirt/top" and bundle.classes[9] == "Ankle boot"
    assert torch.equal(bundle.train.targets.bincount(), torch.full((10,), 3))


def test_fashion_mnist_root_wins_over_the_debian_package(tmp_path):
    write_fashion_mnist(tmp_path)
    assert load_fashion_mnist(tmp_path).source == str(tmp_path)


def test_fashion_mnist_missing_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(UnlearnBenchError, match="train-images-idx3-ubyte.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


def test_fashion_mnist_malformed_idx_is_named(tmp_path):
    folder = write_fashion_mnist(tmp_path, gz=False)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 8)
    with pytest.raises(UnlearnBenchError, match="t10k-labels-idx1-ubyte is malformed"):
        load_fashion_mnist(tmp_path)


@pytest.mark.skipif(not fashion_mnist.DEBIAN_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_debian_package(tmp_path):
    bundle = load_fashion_mnist(tmp_path)
    assert bundle.source == str(fashion_mnist.DEBIAN_DIR)
    assert len(bundle.train) == 60_000 and len(bundle.test) == 10_000
