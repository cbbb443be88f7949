"""A content-addressed cache of trained models: never train the same model twice."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from torch import nn

from unlearn_bench.cache.files import atomic_write_bytes, content_key
from unlearn_bench.cache.tensor_file import layout_of, non_finite_count
from unlearn_bench.cache.tensor_store import TensorStore
from unlearn_bench.utils.errors import UnlearnBenchError

__all__ = ["ModelStore", "atomic_write_bytes", "content_key"]

log = logging.getLogger(__name__)
# beside the entries: which entry each config identity (model_keys.config_identity) named when last run
BY_CONFIG = "by_config"


class ModelStore:
    """Trained weights (state_dict) under `root/<key>.safetensors`, keyed by a hash of all that
    determines them, with the training facts as JSON metadata. An entry whose tensors do not match
    the freshly built network's names, shapes and dtypes is retrained. `root/by_config/` notes which
    entry a configuration's model is, so a grid can look its models up before loading any data."""

    def __init__(self, root: str | Path):
        self.store = TensorStore(root, "model")

    @property
    def root(self) -> Path:
        return self.store.root

    def path(self, key: str) -> Path:
        return self.store.path(key)

    def get(self, material: dict, build: Callable[[], nn.Module]) -> tuple[nn.Module, dict] | None:
        """The stored model for `material` and its record, or None when the store has none (nothing trained)."""
        key = content_key(material)
        net = build()
        found = self.store.read(key, expected=layout_of(net.state_dict()))
        if found is None:
            return None
        net.load_state_dict(found[0])
        return net.eval(), {**found[1].get("meta", {}), "key": key, "cache_hit": True}

    def get_or_train(
        self,
        material: dict,
        build: Callable[[], nn.Module],
        train: Callable[[nn.Module], dict],
        identity: dict | None = None,
    ) -> tuple[nn.Module, dict]:
        """The cached model for `material`, or a freshly trained one (then cached); `identity` (the
        config's description of the same model, model_keys.config_identity) is noted as naming it."""
        key = content_key(material)
        net = build()

        def fit():
            meta = train(net)
            bad, total = non_finite_count(net.state_dict())
            if bad:
                raise UnlearnBenchError(
                    f"training the {material.get('role', 'model')} model ended with non-finite weights ({bad} of "
                    f"{total} tensors), so nothing was stored: lower training.optimizer.lr, or add "
                    "+trainer.gradient_clip_val=1.")
            return net.state_dict(), {"meta": meta, "material": material}

        state, stored, hit = self.store.get_or_create(key, fit, expected=layout_of(net.state_dict()))
        if hit:
            net.load_state_dict(state)
        if identity is not None:
            self._note_identity(identity, key)
        return net.eval(), {**stored.get("meta", {}), "key": key, "cache_hit": hit}

    def key_for_config(self, identity: dict) -> str | None:
        """The key of the stored entry that `identity` named when last run, None when there is none."""
        try:
            key = json.loads(self._identity_path(identity).read_text()).get("key")
        except (OSError, ValueError, AttributeError):
            return None
        return key if isinstance(key, str) and self.path(key).exists() else None

    def records(self) -> Iterator[dict]:
        """Every entry's stored record ({"key", "material", "meta": the training facts, e.g. train_s}),
        read from the files' headers only."""
        for key, stored in self.store.entries():
            yield {"key": key, "material": stored.get("material") or {}, "meta": stored.get("meta") or {}}

    def _identity_path(self, identity: dict) -> Path:
        return self.root / BY_CONFIG / f"{content_key(identity)}.json"

    def _note_identity(self, identity: dict, key: str) -> None:
        if not self.store.writable:
            return
        try:
            atomic_write_bytes(self._identity_path(identity), json.dumps({"key": key}).encode())
        except OSError as err:  # only a grid's preview of what is stored goes without it
            log.debug("Could not note the config of model %s (%s).", key, err)
