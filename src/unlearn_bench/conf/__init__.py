"""The package's Hydra configs (config.yaml and its groups), shipped inside the wheel."""

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent
