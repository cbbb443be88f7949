"""unlearn-bench's Hydra plugins (Hydra finds sweepers only under the hydra_plugins namespace)."""
