"""The Selective Synaptic Dampening family: SSD (Foster et al., AAAI-24, Algorithm 1) and its
follow-ups as options of one method. What varies is where the importances come from
(`estimator`: the Fisher diagonal, or LFSSD's label-free output-norm sensitivity,
`unlearn_bench.importance.sensitivity`) and how α is chosen (`alpha_rule`, `methods/ssd_rules.py`).
`ASSD` and `LFSSD` are SSD with the published choices as defaults."""

from __future__ import annotations

import time

import torch
from torch import nn

from unlearn_bench.importance import ESTIMATORS, Importances, compute_importance
from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod
from unlearn_bench.methods.ssd_rules import ALPHA_RULES, choose_alpha
from unlearn_bench.utils.errors import UnlearnBenchError
from unlearn_bench.utils.precision import importance_trainer_cfg


@torch.no_grad()
def dampen(model: nn.Module, imp_train: Importances, imp_forget: Importances, alpha: float,
           lambda_: float) -> tuple[int, int]:
    """θ_i ← min(λ·[]_D,i / []_Df,i, 1)·θ_i wherever []_Df,i > α·[]_D,i. Returns (changed, total)."""
    changed = total = 0
    for name, param in model.named_parameters():
        if name not in imp_forget:
            continue
        d = imp_train[name].to(param.device)
        f = imp_forget[name].to(param.device)
        if d.shape != param.shape or f.shape != param.shape:
            raise UnlearnBenchError(f"Importances of {name} have shape {tuple(d.shape)} / {tuple(f.shape)}, "
                                    f"not the parameter's {tuple(param.shape)}.")
        selected = f > alpha * d
        factor = (lambda_ * d / f).clamp(max=1.0)
        param[selected] *= factor[selected]
        changed += int(selected.sum())
        total += param.numel()
    return changed, total


class SSD(UnlearningMethod):
    """Dampens the parameters that matter far more to the forget set than to the training set."""

    name = "ssd"
    data_used = ("forget", "train_importance")

    def __init__(self, alpha: float = 10.0, lambda_: float = 1.0, estimator: str = "batch",
                 batch_size: int = 64, importance_cache: bool = True, alpha_rule: str = "fixed",
                 mass_share: float = 0.5):
        super().__init__()
        if alpha <= 0 or lambda_ <= 0:
            raise UnlearnBenchError(f"SSD needs alpha > 0 and lambda_ > 0, got alpha={alpha}, lambda_={lambda_}.")
        if estimator not in ESTIMATORS:
            raise UnlearnBenchError(f"Unknown importance estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}.")
        if alpha_rule not in ALPHA_RULES:
            raise UnlearnBenchError(f"Unknown method.alpha_rule {alpha_rule!r}; choose one of {', '.join(ALPHA_RULES)}.")
        if not 0 < mass_share <= 1:
            raise UnlearnBenchError(f"method.mass_share must be in (0, 1], got {mass_share}.")
        self.alpha, self.lambda_ = float(alpha), float(lambda_)
        self.estimator, self.batch_size = estimator, batch_size
        self.importance_cache = importance_cache
        self.alpha_rule, self.mass_share = alpha_rule, float(mass_share)

    def importance_material(self, ctx: UnlearnContext) -> dict:
        """What determines []_D: the original model (its store key, a content hash of all that
        determines it), its training data (dataset and subset), the estimator, its batch size and the
        numeric precision of the pass."""
        return {
            **ctx.importance_material,
            "split": "train",
            "estimator": self.estimator,
            "batch_size": self.batch_size,
            "precision": str(importance_trainer_cfg(ctx.trainer_cfg)["precision"]),
        }

    def importance(self, model: nn.Module, ctx: UnlearnContext, dataset, desc: str) -> Importances:
        """The estimator over `dataset` on the trainer's accelerator/devices/strategy."""
        return compute_importance(self.estimator, model, ctx.loader(dataset, batch_size=self.batch_size),
                                  ctx.device, desc=desc, trainer_cfg=importance_trainer_cfg(ctx.trainer_cfg))

    def train_importance(self, model: nn.Module, ctx: UnlearnContext) -> tuple[Importances, dict]:
        """[]_D from the store (computed and stored when absent). protocol=official orders []_D per
        request: then it is computed every time and never stored, as it serves no other request."""
        compute = lambda: self.importance(model, ctx, ctx.train_set, "importance []_D")  # noqa: E731
        if ctx.importance_material.get("order") != "request":
            return ctx.importance_store.get_or_compute(self.importance_material(ctx), compute,
                                                       use_cache=self.importance_cache, like=model)
        start = time.perf_counter()
        importances = compute()
        return importances, {"key": None, "cache_hit": False, "seconds": time.perf_counter() - start}

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        imp_train, info = self.train_importance(model, ctx)
        t0 = time.perf_counter()
        imp_forget = self.importance(model, ctx, ctx.forget_set, "importance []_Df")
        forget_s = time.perf_counter() - t0
        alpha, rule_facts = choose_alpha(self.alpha_rule, imp_train, imp_forget, alpha=self.alpha,
                                         forget_size=len(ctx.forget_set), train_size=len(ctx.train_set),
                                         mass_share=self.mass_share, lambda_=self.lambda_)
        model = model.to(ctx.device)
        changed, total = dampen(model, imp_train, imp_forget, alpha, self.lambda_)
        self.report = {
            "alpha": alpha,
            "alpha_rule": self.alpha_rule,
            **{f"alpha_rule_{k}": v for k, v in rule_facts.items()},
            "lambda": self.lambda_,
            "estimator": self.estimator,
            "importance_train_s": info["seconds"],
            "importance_forget_s": forget_s,
            "importance_s": info["seconds"] + forget_s,
            "importance_cache_hit": info["cache_hit"],
            "importance_train_order": ctx.importance_material.get("order"),
            "importance_stored": info["key"] is not None,
            "importance_precision": str(importance_trainer_cfg(ctx.trainer_cfg)["precision"]),
            "importance_key": info["key"],
            "params_changed": changed,
            "params_total": total,
            "params_changed_pct": 100.0 * changed / max(total, 1),
        }
        return model


class ASSD(SSD):
    """Adaptive SSD (Schoepf, Foster, Brintrup, 2024, arXiv:2402.10098): SSD whose α is a
    percentile of []_Df/[]_D set by the forget share |Df|/|D| (`ssd_rules.assd_alpha`), λ = 1."""

    name = "assd"

    def __init__(self, lambda_: float = 1.0, estimator: str = "batch", batch_size: int = 64,
                 importance_cache: bool = True, alpha_rule: str = "assd", **options):
        super().__init__(lambda_=lambda_, estimator=estimator, batch_size=batch_size,
                         importance_cache=importance_cache, alpha_rule=alpha_rule, **options)


class LFSSD(SSD):
    """Loss-Free SSD (Foster, Schoepf, Brintrup, 2024, arXiv:2402.19308): SSD on the label-free
    sensitivity |∇ ||f(x)||²₂| instead of the Fisher diagonal (`unlearn_bench.importance.sensitivity`)."""

    name = "lfssd"

    def __init__(self, estimator: str = "output_norm_batch", **options):
        super().__init__(estimator=estimator, **options)


class LFASSD(SSD):
    """SSD without tuning for a dataset that has no α of the paper's: LFSSD's label-free importances with
    ASSD's α rule, λ = 1 (the combination closest to the gold model on digits and Fashion-MNIST in the SSD
    rule map, docs/results/ssd_rules/)."""

    name = "lf_assd"

    def __init__(self, estimator: str = "output_norm_batch", alpha_rule: str = "assd", lambda_: float = 1.0,
                 **options):
        super().__init__(estimator=estimator, alpha_rule=alpha_rule, lambda_=lambda_, **options)
