"""The line under a table that its cells cannot say: how much of the network each SSD-family run
changed, and whether its row is the original model's (the baseline's) on every seed."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

# points of Dr, Df and MIA within which a run counts as the baseline's row
SAME_AS_BASELINE = 0.5


def dampening_note(obs: list) -> str:
    """'' when no run of `obs` reports the share of parameters it changed (methods other than the
    SSD family), else one sentence per (column, model, forget target)."""
    baseline = {(o.model, o.forget, o.seed): o for o in obs if o.method == "baseline"}
    runs: dict[tuple, list] = defaultdict(list)
    for o in obs:
        if o.params_changed_pct is not None:
            runs[(o.column, o.model, o.forget)].append(o)
    if not runs:
        return ""
    several_models = len({model for _, model, _ in runs}) > 1
    parts = []
    for (column, model, forget), group in sorted(runs.items()):
        where = f"{model}, {forget}" if several_models else forget
        text = f"{column} ({where}) {mean(o.params_changed_pct for o in group):.3g} %"
        pairs = [(o, baseline[(model, forget, o.seed)]) for o in group if (model, forget, o.seed) in baseline]
        if pairs:
            same = sum(_same_row(o, b) for o, b in pairs)
            text += f", baseline's row in {same}/{len(pairs)} seeds"
            if same == len(pairs):
                text += " (changes nothing measurable)"
        parts.append(text)
    return (f"Parameters changed by the SSD family (mean over seeds; \"baseline's row\": Dr, Df and MIA within "
            f"{SAME_AS_BASELINE} points of doing nothing on the same seed): " + "; ".join(parts) + ".")


def _same_row(run, baseline) -> bool:
    return all(abs(run.values[k] - baseline.values[k]) <= SAME_AS_BASELINE for k in ("Dr", "Df", "MIA"))
