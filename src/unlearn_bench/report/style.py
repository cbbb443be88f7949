"""One colour and one marker per method, the same in every figure (not by position in a panel)."""

from __future__ import annotations

import hashlib

from unlearn_bench.methods.catalogue import method_names

# Okabe–Ito and tab10-like colours, distinguishable in print and by most colour-blind readers.
PALETTE = ("#000000", "#7f7f7f", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
           "#F0E442", "#8c564b", "#9467bd", "#17becf", "#bcbd22", "#e377c2", "#2ca02c", "#1f77b4",
           "#ff9896", "#98df8a", "#c5b0d5", "#c49c94", "#dbdb8d", "#9edae5", "#f7b6d2", "#393b79", "#ad494a",
           "#7b4173", "#637939", "#843c39")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p", "d", "8", "H", "1", "2", "3", "4", "+", "x", "|", "_", ".",
           r"$\clubsuit$", r"$\spadesuit$", r"$\heartsuit$", r"$\diamondsuit$")
# Methods with a fixed place: the built-in ones in their listing order (methods/catalogue.py: the paper's
# eight first, then the methods that came after it); any other method gets a place from its name.
KNOWN_METHODS = method_names()
PRINT_DPI = 300
FORMATS = ("png", "pdf")


def _slot(method: str) -> int:
    if method in KNOWN_METHODS:
        return KNOWN_METHODS.index(method)
    digest = hashlib.sha256(method.encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _base(label: str) -> str:
    """A variant's label, e.g. "ssd (recompute []_D)", names its method first."""
    return label.split(" (", 1)[0]


def method_color(method: str) -> str:
    """A variant of a method keeps its method's colour."""
    return PALETTE[_slot(_base(method)) % len(PALETTE)]


def method_marker(method: str) -> str:
    """A variant gets a marker of its own, never its method's, so the two stay apart."""
    base = _slot(_base(method)) % len(MARKERS)
    if method == _base(method):
        return MARKERS[base]
    return MARKERS[(base + 1 + _slot(method) % (len(MARKERS) - 1)) % len(MARKERS)]
