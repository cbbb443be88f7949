"""RUM, the Refined-Unlearning Meta-algorithm (Zhao et al., NeurIPS 2024; kairanzhao/RUM f593c9d,
main_rum.py, main_forget.py): the forget set is refined into groups of low, medium and high
memorization, and each group is unlearned in turn by its own method, the model passed on from one
step to the next. At step k the retain set is the training split less the groups forgotten so far,
so the groups still to come are kept until their turn (main_forget.py, `--sequential`)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
from hydra.errors import InstantiationException
from omegaconf import OmegaConf
from torch import nn

from unlearn_bench.data.selection import ranked
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.utils.errors import UnlearnBenchError, build

LEVELS = ("low", "mid", "high")


def _step_method(level: str, given, settings) -> UnlearningMethod:
    """A step's method: given as one, or built from its config with `settings` laid over it."""
    if isinstance(given, UnlearningMethod) or not isinstance(given, Mapping):
        if settings:
            raise UnlearnBenchError(f"method.settings.{level} applies to a method config, not to a built method.")
        return given
    config = OmegaConf.merge(given, settings or {})
    try:
        return build(config)
    except (InstantiationException, TypeError) as err:
        keys = ", ".join(sorted(settings or {})) or "none"
        reason = str(err.__cause__ or err).strip().splitlines()[0]
        raise UnlearnBenchError(
            f"method.{level} ({config.get('_target_')}) cannot be built with method.settings.{level} ({keys}): "
            f"{reason}; set method.settings.{level}=null or that method's own keys.") from None


def memorization_groups(scores: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Positions of the low, mid and high thirds of `scores` (ascending; ties in a seeded order; the
    first thirds take the remainder), each sorted."""
    order = ranked(scores, seed, np.asarray(scores, dtype=np.float64))
    return {level: np.sort(part) for level, part in zip(LEVELS, np.array_split(order, len(LEVELS)), strict=True)}


class RUM(UnlearningMethod):
    """`low`, `mid`, `high`: the methods (any built-in or your own, from their YAMLs) that unlearn each
    group, in that order, as the authors' main_rum.py runs them (its example: nothing, then fine-tuning,
    then SalUn). The memorization scores come from `memorization_models` models trained on
    complementary halves of the training split with `memorization_seed` (metrics/difficulty.py): the
    same models task.selection.by=memorization trains, read from the model store where it did."""

    name = "rum"
    tasks = ("random",)

    def __init__(self, low, mid, high, settings: Mapping | None = None, memorization_models: int = 8,
                 memorization_seed: int = 0):
        super().__init__()
        settings = dict(settings or {})
        unknown = set(settings) - set(LEVELS)
        if unknown:
            raise UnlearnBenchError(f"method.settings has keys for {', '.join(LEVELS)} only, got {sorted(unknown)}.")
        self.steps = {level: _step_method(level, given, settings.get(level))
                      for level, given in zip(LEVELS, (low, mid, high), strict=True)}
        for level, method in self.steps.items():
            if not isinstance(method, UnlearningMethod):
                raise UnlearnBenchError(f"method.{level} must be an unlearning method config (with _target_), got "
                                        f"{type(method).__name__}.")
            if "random" not in method.tasks:
                raise UnlearnBenchError(f"method.{level}: {method.name} is not defined for random forgetting, which "
                                        "each of RUM's groups is; pick another method.")
        if memorization_models < 2 or memorization_models % 2:
            raise UnlearnBenchError(f"method.memorization_models must be even and ≥ 2, got {memorization_models}.")
        self.memorization_models, self.memorization_seed = memorization_models, memorization_seed
        self.data_used = tuple(sorted({"forget", "retain", *(d for m in self.steps.values() for d in m.data_used)}))

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        if ctx.refine is None or ctx.memorization is None:
            raise UnlearnBenchError("RUM needs the pipeline's context (ctx.refine and ctx.memorization).")
        split = ctx.split
        forget_idx = np.asarray(split.forget_idx)
        start = time.perf_counter()
        scores = np.asarray(ctx.memorization(self.memorization_models, self.memorization_seed))[forget_idx]
        memorization_s = time.perf_counter() - start
        groups = {level: forget_idx[pos] for level, pos in memorization_groups(scores, self.memorization_seed).items()}
        kept = np.asarray(split.retain_idx)
        steps = []
        for k, level in enumerate(LEVELS):
            still_to_come = [groups[later] for later in LEVELS[k + 1:]]
            part = ctx.refine(groups[level], np.concatenate([kept, *still_to_come]))
            method = self.steps[level]
            scoped = part.for_method(method)
            start = time.perf_counter()
            model = method.unlearn(model, scoped)
            ctx.reads.update(scoped.reads)
            steps.append({"level": level, "method": method.name, "forget": len(groups[level]),
                          "retain": len(part.split.retain_idx),
                          "memorization_mean": float(scores[np.isin(forget_idx, groups[level])].mean()),
                          "seconds": time.perf_counter() - start, "report": dict(method.report)})
        self.report = {"memorization_models": self.memorization_models, "memorization_seed": self.memorization_seed,
                       "memorization_s": memorization_s, "steps": steps}
        return model.eval()
