"""On-disk caches of tensors (trained models, importances): safe to share, to kill and to read-only."""
