"""Retraining without the forget set: the gold model (every layer from scratch), or the official
code's variant that only resets the classifier head and fine-tunes on the retain set."""

from __future__ import annotations

import copy

from torch import nn

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.training.module import fit_classifier
from unlearn_bench.utils.errors import UnlearnBenchError


class Retrain(UnlearningMethod):
    name = "retrain"
    data_used = ("retain",)

    def __init__(self, reset: str = "all", head_lr: float = 0.01):
        super().__init__()
        if reset not in ("all", "head"):
            raise UnlearnBenchError(f"method.reset must be 'all' or 'head', got {reset!r}.")
        self.reset, self.head_lr = reset, head_lr

    @property
    def is_gold(self) -> bool:
        """reset=all is the gold model itself: the pipeline produces this row (see gold_row)."""
        return self.reset == "all"

    def gold_row(self, gold: nn.Module, gold_info: dict) -> nn.Module:
        """The retrain row from the pipeline's gold model (no method ever receives the gold model)."""
        self.report = {"reset": "all", "method_s": gold_info.get("train_s"),
                       "gold_cache_hit": gold_info.get("cache_hit"), "produced_by": "pipeline"}
        return copy.deepcopy(gold)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        if self.is_gold:
            raise UnlearnBenchError(
                "method=retrain with method.reset=all is the gold model, which the pipeline produces "
                "(unlearn_bench.experiment.runner.run); call it with method.reset=head to retrain inside a method."
            )
        model.get_classifier().reset_parameters()
        info = fit_classifier(model, ctx.retain_train_set, ctx.val_set, ctx.recipe.with_lr(self.head_lr),
                              ctx.trainer_cfg, ctx.seed, name="retrain (head)")
        self.report = {"reset": "head", "head_lr": self.head_lr, "best_val_acc": info["best_val_acc"]}
        return model
