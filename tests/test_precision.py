import pytest
import torch
from omegaconf import OmegaConf

from unlearn_bench.utils.precision import autocast_dtype, method_autocast


@pytest.mark.parametrize("precision, dtype", [("32-true", None), ("32", None), (32, None),
                                              ("bf16-mixed", torch.bfloat16), ("16-mixed", torch.float16)])
def test_autocast_dtype_follows_lightning_spelling(precision, dtype):
    assert autocast_dtype(precision) == dtype


def test_unknown_precision_names_the_key():
    with pytest.raises(ValueError, match="trainer.precision='bf17'"):
        autocast_dtype("bf17")


def test_method_autocast_runs_matmul_in_bf16_on_cpu():
    cfg = OmegaConf.create({"precision": "bf16-mixed"})
    a = torch.ones(4, 4)
    with method_autocast(cfg, torch.device("cpu")):
        assert (a @ a).dtype == torch.bfloat16
    with method_autocast(OmegaConf.create({"precision": "32-true"}), torch.device("cpu")):
        assert (a @ a).dtype == torch.float32
