"""How the SSD family chooses its selection threshold α (θ_i is dampened where []_Df,i > α·[]_D,i).

- ``fixed``: α as configured (SSD, Foster et al., AAAI-24).
- ``assd``: Adaptive SSD (Schoepf, Foster, Brintrup, 2024, arXiv:2402.10098): α is the p-th
  percentile of the ratios []_Df,i / []_D,i over all parameters, p = 100 − ln(1 + 100·|Df|/|D|)
  (so about ln(1 + forget share in %) % of the parameters are selected). As in the authors' code:
  ratios that are NaN (0/0) or infinite (x/0) are left out of the percentile, numpy's linear
  interpolation between order statistics, λ = 1.
- ``mass_share`` (ours): the largest α at which the selected parameters carry at least a share s of
  the forget set's excess importance, Σ_i max([]_Df,i − λ·[]_D,i, 0): the importance the forget set
  has beyond what dampening leaves (a parameter with []_Df ≤ λ·[]_D is never changed by SSD, so
  only those above count). Parameters are ranked by ratio; the fewest top-ranked ones whose excess
  reaches s·Σ are selected, and α is set strictly between their smallest ratio and the next lower
  one (geometric midpoint), so `dampen` selects exactly them.

Every rule reads only the two importances and the set sizes: no gold model, no test labels.
"""

from __future__ import annotations

import math

import torch

from unlearn_bench.utils.errors import UnlearnBenchError

Importances = dict[str, torch.Tensor]

ALPHA_RULES = ("fixed", "assd", "mass_share")


def flat_pair(imp_train: Importances, imp_forget: Importances) -> tuple[torch.Tensor, torch.Tensor]:
    """[]_D and []_Df of every parameter that has a forget importance, flattened in one order."""
    names = [n for n in imp_forget if n in imp_train]
    d = torch.cat([imp_train[n].detach().reshape(-1).to(imp_forget[n].device) for n in names])
    f = torch.cat([imp_forget[n].detach().reshape(-1) for n in names])
    return d, f


def percentile(values: torch.Tensor, q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between order statistics
    (numpy.percentile's default), by two k-th value selections instead of a full sort."""
    n = values.numel()
    if n == 0:
        raise UnlearnBenchError("The importance ratios are all undefined (0/0 or x/0); ASSD cannot choose alpha.")
    position = q / 100.0 * (n - 1)
    low, high = math.floor(position), math.ceil(position)
    v_low = values.kthvalue(low + 1).values.double().item()
    v_high = values.kthvalue(high + 1).values.double().item() if high != low else v_low
    return v_low + (v_high - v_low) * (position - low)


def assd_percentile(forget_size: int, train_size: int) -> float:
    """ASSD's percentile p = 100 − ln(1 + 100·|Df|/|D|)."""
    return 100.0 - math.log1p(100.0 * forget_size / train_size)


def assd_alpha(imp_train: Importances, imp_forget: Importances, forget_size: int,
               train_size: int) -> tuple[float, dict]:
    d, f = flat_pair(imp_train, imp_forget)
    ratios = f / d
    ratios = ratios[torch.isfinite(ratios)]
    p = assd_percentile(forget_size, train_size)
    return percentile(ratios, p), {"percentile": p}


def mass_share_alpha(imp_train: Importances, imp_forget: Importances, share: float,
                     lambda_: float = 1.0) -> tuple[float, dict]:
    d, f = flat_pair(imp_train, imp_forget)
    d, f = d.double(), f.double()
    carries = f > lambda_ * d
    if not carries.any():  # SSD would change nothing at any α
        return lambda_, {"mass_share": share, "selected_mass_share": 0.0}
    d, f = d[carries], f[carries]
    ratios = f / d  # +inf where []_D is 0: selected by every α
    order = torch.argsort(ratios, descending=True, stable=True)
    ratios, mass = ratios[order], torch.cumsum((f - lambda_ * d)[order], 0)
    last = int(torch.searchsorted(mass, share * mass[-1]).clamp(max=len(mass) - 1))  # fewest reaching s
    r_last = ratios[last].item()
    lower = ratios[last + 1:]
    lower = lower[lower < r_last]
    if len(lower) == 0:
        alpha = lambda_  # every parameter SSD would change is selected
    else:
        r_next = lower[0].item()
        alpha = math.sqrt(r_last * r_next) if math.isfinite(r_last) else 2.0 * r_next
    selected = int((ratios > alpha).sum())
    return alpha, {"mass_share": share, "selected_mass_share": float(mass[selected - 1] / mass[-1])}


def choose_alpha(rule: str, imp_train: Importances, imp_forget: Importances, *, alpha: float,
                 forget_size: int, train_size: int, mass_share: float,
                 lambda_: float = 1.0) -> tuple[float, dict]:
    """(α, facts about the choice) for `rule` (one of ALPHA_RULES)."""
    if rule == "fixed":
        return alpha, {}
    if rule == "assd":
        return assd_alpha(imp_train, imp_forget, forget_size, train_size)
    if rule == "mass_share":
        return mass_share_alpha(imp_train, imp_forget, mass_share, lambda_)
    raise UnlearnBenchError(f"Unknown method.alpha_rule {rule!r}; choose one of {', '.join(ALPHA_RULES)}.")
