"""The original model, untouched: the 'before' row of every table."""

from __future__ import annotations

from torch import nn

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod


class Baseline(UnlearningMethod):
    name = "baseline"
    data_used = ()

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        return model
