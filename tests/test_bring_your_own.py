"""Bringing your own method, timm model and torch dataset, end to end through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FAST, REPO
from unlearn_bench.data.torch_dataset import load_torch_dataset, to_uint8_chw
from unlearn_bench.utils.errors import UnlearnBenchError

MY_METHOD = textwrap.dedent('''
    import torch
    from unlearn_bench.methods.base import UnlearningMethod

    class ShrinkHead(UnlearningMethod):
        """Scales the output layer by `factor`: a user's method that lives outside the package."""
        name = "shrink_head"
        data_used = ()

        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def unlearn(self, model, ctx):
            with torch.no_grad():
                for p in model.get_classifier().parameters():
                    p.mul_(self.factor)
            self.report["factor"] = self.factor
            return model
''')

MY_DATASET = textwrap.dedent('''
    name: fake
    loader:
      _target_: unlearn_bench.data.torch_dataset.load_torch_dataset
      name: fake
      train: {_target_: torchvision.datasets.FakeData, size: 120, image_size: [3, 8, 8], num_classes: 3, random_offset: 0}
      test: {_target_: torchvision.datasets.FakeData, size: 60, image_size: [3, 8, 8], num_classes: 3, random_offset: 1000}
      classes: null
    channels: 3
    num_classes: 3
    image_size: 8
    mean: [0.5, 0.5, 0.5]
    std: [0.25, 0.25, 0.25]
    augmentations: []
    train_subset: null
    test_subset: null
    val_fraction: 0.1
    class_forget: "1"
''')


def cli(tmp_path, *overrides: str, pythonpath: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run(
        [sys.executable, "-m", "unlearn_bench", f"paths.root_dir={tmp_path}", f"hydra.run.dir={tmp_path}/out",
         *FAST, *overrides], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_a_method_from_a_module_outside_the_package_gets_only_its_own_arguments(tmp_path):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text(MY_METHOD)
    result = cli(tmp_path, "method=custom", "method._target_=mypkg.ShrinkHead", "+method.factor=0.5",
                 pythonpath=str(tmp_path))
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["method"] == "shrink_head" and record["method_report"] == {"factor": 0.5}
    assert record["config"]["method"] == {"_target_": "mypkg.ShrinkHead", "factor": 0.5}


def test_custom_method_without_a_target_says_which_key_to_set(tmp_path):
    result = cli(tmp_path, "method=custom")
    assert result.returncode != 0
    assert "method._target_" in result.stderr + result.stdout


def test_a_timm_model_by_name_is_recorded_as_that_architecture(tmp_path):
    result = cli(tmp_path, "model=timm", "model.arch=test_resnet", "model.input_size=8", "training.epochs=1",
                 "training.milestones=[]")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["model"] == "test_resnet" and record["architecture"] == "test_resnet"


def test_an_unknown_timm_architecture_is_one_sentence(tmp_path):
    result = cli(tmp_path, "model=timm", "model.arch=resnet_nonexistent")
    assert result.returncode != 0
    assert "model.arch=resnet_nonexistent is not a timm architecture" in result.stderr + result.stdout


def test_a_torch_dataset_from_the_users_own_config_folder(tmp_path):
    conf = tmp_path / "my_conf" / "dataset"
    conf.mkdir(parents=True)
    (conf / "fake.yaml").write_text(MY_DATASET)
    result = cli(tmp_path, f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]", "dataset=fake",
                 "method=finetune", "method.epochs=1")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["dataset"] == "fake" and record["forget"] == "1"
    assert record["split"]["forget_train"] + record["split"]["retain_train"] < 120  # val carved from train


@pytest.mark.parametrize("image, expected", [
    (Image.fromarray(np.full((2, 3), 7, np.uint8)), torch.full((1, 2, 3), 7, dtype=torch.uint8)),
    (Image.fromarray(np.full((2, 3, 3), 9, np.uint8)), torch.full((3, 2, 3), 9, dtype=torch.uint8)),
    (np.full((2, 3, 3), 5, np.uint8), torch.full((3, 2, 3), 5, dtype=torch.uint8)),
    (torch.full((3, 2, 3), 0.5), torch.full((3, 2, 3), 128, dtype=torch.uint8)),
])
def test_images_of_every_kind_become_uint8_chw(image, expected):
    assert torch.equal(to_uint8_chw(image), expected)


def test_images_of_several_shapes_are_refused_with_advice():
    data = [(torch.zeros(3, 4, 4), 0), (torch.zeros(3, 5, 5), 1)]
    with pytest.raises(UnlearnBenchError, match="several shapes"):
        load_torch_dataset(data, data)


def test_labels_and_class_names():
    train = [(torch.zeros(1, 2, 2), k % 3) for k in range(6)]
    bundle = load_torch_dataset(train, train[:3])
    assert bundle.classes == ["0", "1", "2"] and bundle.train.targets.tolist() == [0, 1, 2, 0, 1, 2]
