"""ForgetSplit sizes and disjointness for every task, and the bad inputs of each."""

import numpy as np
import pytest
import torch

from unlearn_bench.data.base import DatasetBundle, ImageSplit
from unlearn_bench.data.digits import load_digits
from unlearn_bench.data.forget import ClassTask, RandomTask, SubclassTask
from unlearn_bench.data.prepare import prepare, stratified_subset
from unlearn_bench.utils.errors import UnlearnBenchError


@pytest.fixture(scope="module")
def digits():
    return prepare(load_digits(), val_fraction=0.1, seed=0)


def _check_partition(split, data):
    for a, b, n in [(split.forget_idx, split.retain_idx, len(data.train)),
                    (split.test_forget_idx, split.test_retain_idx, len(data.test))]:
        assert len(np.intersect1d(a, b)) == 0
        assert np.array_equal(np.sort(np.concatenate([a, b])), np.arange(n))


def test_class_task_by_name_and_index(digits):
    by_name = ClassTask(forget="3").split(digits)
    by_index = ClassTask(forget=3).split(digits)
    assert np.array_equal(by_name.forget_idx, by_index.forget_idx)
    train_labels = digits.train.targets.numpy()
    assert (train_labels[by_name.forget_idx] == 3).all()
    assert (train_labels[by_name.retain_idx] != 3).all()
    assert len(by_name.forget_idx) == (train_labels == 3).sum()
    assert (digits.test.targets.numpy()[by_name.test_forget_idx] == 3).all()
    assert (digits.val.targets.numpy()[by_name.val_retain_idx] != 3).all()
    assert by_name.forget_classes == (3,)
    _check_partition(by_name, digits)


def test_unknown_class_lists_valid_names(digits):
    with pytest.raises(UnlearnBenchError, match=r"Unknown class 'rocket' in task.forget; valid names: 0, 1, 2"):
        ClassTask(forget="rocket").split(digits)
    with pytest.raises(UnlearnBenchError, match="out of range"):
        ClassTask(forget=10).split(digits)


def test_random_task_exact_count_and_seeded(digits):
    split = RandomTask(n_forget=100, seed=1).split(digits)
    assert len(split.forget_idx) == 100
    assert len(split.retain_idx) == len(digits.train) - 100
    assert len(split.test_forget_idx) == 0 and len(split.test_retain_idx) == len(digits.test)
    assert np.array_equal(split.forget_idx, RandomTask(n_forget=100, seed=1).split(digits).forget_idx)
    assert not np.array_equal(split.forget_idx, RandomTask(n_forget=100, seed=2).split(digits).forget_idx)
    _check_partition(split, digits)


@pytest.mark.parametrize("n", [0, -1, 10_000])
def test_random_task_bad_sizes(digits, n):
    with pytest.raises(UnlearnBenchError, match="task.n_forget must lie in"):
        RandomTask(n_forget=n).split(digits)


def _superclass_bundle():
    # 4 fine classes in 2 superclasses: fine 0,1 -> coarse 0; fine 2,3 -> coarse 1
    fine = torch.arange(4).repeat(6)
    coarse = fine // 2
    images = torch.zeros(len(fine), 3, 4, 4, dtype=torch.uint8)
    split = ImageSplit(images, coarse, fine)
    return DatasetBundle("toy20", split, split.subset(np.arange(12)), ["A", "B"],
                         fine_classes=["a0", "a1", "b0", "b1"], fine_to_coarse=[0, 0, 1, 1])


def test_subclass_task_keeps_the_rest_of_the_superclass():
    data = prepare(_superclass_bundle(), val_fraction=0.25, seed=0)
    split = SubclassTask(forget="b0").split(data)
    fine = data.train.fine_targets.numpy()
    assert (fine[split.forget_idx] == 2).all()
    assert set(fine[split.retain_idx]) == {0, 1, 3}
    # the retained sibling b1 shares the forget samples' coarse label
    assert set(data.train.targets.numpy()[split.forget_idx]) == {1}
    assert split.forget_classes == ()
    _check_partition(split, data)


def test_subclass_on_dataset_without_superclasses(digits):
    with pytest.raises(UnlearnBenchError, match="needs a dataset with superclasses"):
        SubclassTask(forget="rocket").split(digits)


def test_stratified_subset_is_seeded_and_balanced():
    targets = np.repeat(np.arange(5), 20)
    a = stratified_subset(targets, 50, seed=0)
    assert len(a) == 50 and np.array_equal(a, stratified_subset(targets, 50, seed=0))
    assert np.bincount(targets[a]).tolist() == [10] * 5
    assert len(stratified_subset(targets, 0.2, seed=0)) == 20
    with pytest.raises(UnlearnBenchError, match="impossible"):
        stratified_subset(targets, 500, seed=0)
