"""Unlearning methods: one strategy class per file, one YAML per method (conf/method/). The public API
of a method of one's own is `UnlearningMethod` and the `UnlearnContext` it receives."""

from unlearn_bench.methods.base import UnlearnContext, UnlearningMethod

__all__ = ["UnlearnContext", "UnlearningMethod"]
