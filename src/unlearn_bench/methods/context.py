"""What a method may see: the data attributes of the context, each behind a `data_used` entry.

A method's context is built from its `data_used`: attributes of undeclared entries are withheld
(replaced by a `Withheld` marker that raises on access), and every data attribute a method reads is
recorded, so the results say what the method actually used."""

from __future__ import annotations

from unlearn_bench.utils.errors import UnlearnBenchError

# data_used entry -> the context attributes it opens
DATA_ENTRIES: dict[str, tuple[str, ...]] = {
    "forget": ("forget_set", "forget_train_set", "split", "refine", "memorization"),
    "retain": ("retain_set", "retain_train_set", "retain_targets", "val_set"),
    "train_importance": ("train_set", "importance_store", "importance_material"),
}
ENTRY_OF: dict[str, str] = {attr: entry for entry, attrs in DATA_ENTRIES.items() for attr in attrs}


class UndeclaredDataError(UnlearnBenchError):
    """A method read context data that its `data_used` does not declare."""


class Withheld:
    """Stands in for a context attribute the method did not declare."""

    __slots__ = ("attribute", "entry", "method", "declared")

    def __init__(self, attribute: str, entry: str, method: str, declared: tuple[str, ...]):
        self.attribute, self.entry, self.method, self.declared = attribute, entry, method, declared

    def error(self) -> UndeclaredDataError:
        declared = ", ".join(repr(d) for d in self.declared) or "nothing"
        return UndeclaredDataError(
            f"Method {self.method} read ctx.{self.attribute}, which needs {self.entry!r} in its data_used "
            f"(it declares {declared}): add {self.entry!r} to {self.method}.data_used or do not read it."
        )


def check_declared(method: str, data_used: tuple[str, ...]) -> None:
    unknown = [entry for entry in data_used if entry not in DATA_ENTRIES]
    if unknown:
        raise UnlearnBenchError(
            f"Method {method} declares unknown data_used entries {unknown}; valid: {', '.join(DATA_ENTRIES)}."
        )


def withheld_fields(method: str, data_used: tuple[str, ...]) -> dict[str, Withheld]:
    """The context attributes `method` may not read, each replaced by its Withheld marker."""
    check_declared(method, data_used)
    return {attr: Withheld(attr, entry, method, tuple(data_used))
            for attr, entry in ENTRY_OF.items() if entry not in data_used}


GOLD_MESSAGE = ("No method may read the gold model (ctx.{name}): the pipeline produces the retrain row "
                "from it itself (method=retrain); a method unlearns from ctx.original and its declared data.")
