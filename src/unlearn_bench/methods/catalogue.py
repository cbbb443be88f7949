"""The built-in methods in one place: each method YAML's `listing` block (conf/method/<name>.yaml; not passed
to the method) says where the suite lists it. `order` is its row in the tables and its colour and marker in
the figures; `grids` names the experiment grids (conf/experiment/<grid>.yaml) that run it. The report's order
and colours, the grids (`${listed_methods:<grid>}`) and the tests' method lists are read from here, so a new
built-in method is its class and its YAML."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from omegaconf import OmegaConf

from unlearn_bench.methods.provenance import method_yamls

KEY = "listing"
GRIDS = ("table2", "table3", "table4", "table5", "table6", "methods_class", "methods_random")


@dataclass(frozen=True)
class Listing:
    method: str
    order: int
    grids: tuple[str, ...] = ()


@functools.lru_cache(maxsize=1)
def listings() -> tuple[Listing, ...]:
    """Every built-in method's listing, in `order`; a YAML without one, an unknown grid or two methods in one
    place are errors of the package."""
    found = []
    for name, cfg in method_yamls().items():
        if KEY not in cfg:
            raise ValueError(f"conf/method/{name}.yaml has no {KEY} block (order, grids).")
        block = OmegaConf.to_container(cfg[KEY])
        unknown = sorted(set(block.get("grids", ())) - set(GRIDS))
        if unknown:
            raise ValueError(f"conf/method/{name}.yaml: {KEY}.grids names no experiment grid: {unknown} "
                             f"(grids: {', '.join(GRIDS)}).")
        found.append(Listing(method=name, order=int(block["order"]), grids=tuple(block.get("grids", ()))))
    orders = [entry.order for entry in found]
    if len(set(orders)) != len(orders):
        raise ValueError(f"two methods share a {KEY}.order: {sorted(orders)}")
    return tuple(sorted(found, key=lambda entry: entry.order))


def method_names() -> tuple[str, ...]:
    """The built-in methods, in their listing order."""
    return tuple(entry.method for entry in listings())


def grid_methods(grid: str) -> tuple[str, ...]:
    """The methods experiment grid `grid` runs, in listing order."""
    if grid not in GRIDS:
        raise ValueError(f"no experiment grid {grid!r} (grids: {', '.join(GRIDS)}).")
    return tuple(entry.method for entry in listings() if grid in entry.grids)
