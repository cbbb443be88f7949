"""Methods that try to read what they must not, for the integrity tests (importable by _target_)."""

from __future__ import annotations

import copy

from unlearn_bench.methods.base import UnlearningMethod


class CopiesGold(UnlearningMethod):
    """Returns a copy of the gold model: a perfect distance to gold if it could reach it."""

    name = "copies_gold"
    data_used = ("forget",)

    def unlearn(self, model, ctx):
        return copy.deepcopy(ctx.gold)


class ReadsRetain(UnlearningMethod):
    """Declares only the forget set, then reads the retain set."""

    name = "reads_retain"
    data_used = ("forget",)

    def unlearn(self, model, ctx):
        len(ctx.forget_set)
        len(ctx.retain_set)
        return model


class ReadsForget(UnlearningMethod):
    """Declares the forget set and reads it (and nothing else)."""

    name = "reads_forget"
    data_used = ("forget", "retain")

    def unlearn(self, model, ctx):
        len(ctx.forget_set)
        return model
