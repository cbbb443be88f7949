"""One computed line per table: which of the SSD paper's claims hold on the numbers in it.

The claims, as tested on each row group (model × forget target) holding the methods involved:
- forgets: SSD's |Df − retrain's| interval lies wholly below the baseline's;
- keeps retain accuracy: SSD's Dr interval reaches retrain's (high(SSD) ≥ low(retrain)), i.e. it is
  not shown to be worse (a weak test with few seeds: wide intervals pass);
- MIA: SSD is the closest to retrain on MIA, or among the tied;
- faster: SSD's time interval (with its []_D pass) lies wholly below retrain's.
"""

from __future__ import annotations

from collections import defaultdict

from unlearn_bench.report.stats import closest_to


def _groups(table) -> dict[tuple, dict]:
    groups: dict[tuple, dict] = defaultdict(dict)
    for row in table.rows:
        prefix = (row.model, row.dataset, row.task, row.forget) if table.setting_column else (row.model, row.forget)
        groups[prefix][row.metric] = row
    return groups


def _forgets(rows: dict) -> bool | None:
    row = rows.get("Df")
    if row is None or "ssd" not in row.cells or "retrain" not in row.cells or "baseline" not in row.cells:
        return None
    cells = row.cells
    return closest_to(cells["retrain"].values, {m: cells[m].values for m in ("ssd", "baseline")}).winner == "ssd"


def _keeps_dr(rows: dict) -> bool | None:
    row = rows.get("Dr")
    if row is None or "ssd" not in row.cells or "retrain" not in row.cells:
        return None
    return row.cells["ssd"].high >= row.cells["retrain"].low


def _mia_like_retrain(rows: dict) -> bool | None:
    row = rows.get("MIA")
    if row is None or "ssd" not in row.cells or "retrain" not in row.cells:
        return None
    return row.verdict.winner == "ssd" or "ssd" in row.verdict.tied


def _faster(rows: dict) -> bool | None:
    row = rows.get("t")
    if row is None or "ssd" not in row.cells or "retrain" not in row.cells:
        return None
    return row.cells["ssd"].high < row.cells["retrain"].low


CLAIMS = (("SSD forgets (Df nearer retrain's than the baseline's, separated)", _forgets),
          ("SSD keeps retain accuracy (Dr not separated below retrain's)", _keeps_dr),
          ("SSD's MIA among the closest to retrain", _mia_like_retrain),
          ("SSD faster than retrain (t, separated)", _faster))


def claims_line(table) -> str:
    parts = []
    groups = _groups(table)
    several_models = len({key[0] for key in groups}) > 1  # then the model names the group too
    for name, test in CLAIMS:
        results = {" ".join(str(k) for k in (key if several_models else key[1:])): test(rows)
                   for key, rows in groups.items()}
        results = {k: r for k, r in results.items() if r is not None}
        if not results:
            continue
        failed = [k for k, r in results.items() if not r]
        text = f"{name}: holds in {len(results) - len(failed)}/{len(results)}"
        parts.append(text + (f" (not for {', '.join(failed)})" if failed else ""))
    return ("Paper's claims on these numbers — " + "; ".join(parts) + ".") if parts else ""
