"""The line under a table for runs whose numbers are not unlearning: a method that diverged
(non-finite weights) or destroyed the model (test accuracy at chance level), per column and seed,
from the warnings in their results.json."""

from __future__ import annotations

from collections import defaultdict

OUTCOMES = {
    "diverged": "diverged (non-finite weights: its non-finite outputs count as wrong, its MIA is undefined)",
    "destroyed": "destroyed the model (test accuracy at chance level)",
}


def outcomes_note(obs: list) -> str:
    """'' when no run of `obs` diverged or destroyed its model, else one sentence naming each case."""
    runs: dict[tuple, list] = defaultdict(list)
    seeds: dict[tuple, set] = defaultdict(set)
    for o in obs:
        seeds[(o.column, o.model, o.forget)].add(o.seed)
        for outcome in o.outcomes:
            runs[(outcome, o.column, o.model, o.forget)].append(o.seed)
    if not runs:
        return ""
    several_models = len({o.model for o in obs}) > 1
    parts = []
    for outcome in OUTCOMES:
        cases = [(column, model, forget, sorted(found)) for (kind, column, model, forget), found in sorted(runs.items())
                 if kind == outcome]
        if cases:
            where = "; ".join(f"{column} ({f'{model}, ' if several_models else ''}{forget}) on "
                              f"{len(found)} of {len(seeds[(column, model, forget)])} seeds "
                              f"(seed{'s' if len(found) > 1 else ''} {', '.join(map(str, found))})"
                              for column, model, forget, found in cases)
            text = OUTCOMES[outcome]
            parts.append(f"{text[0].upper()}{text[1:]}: {where}.")
    return " ".join(parts)
