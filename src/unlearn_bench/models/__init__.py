"""Model factories; every model exposes `get_classifier()` (its output layer), as timm's do."""
