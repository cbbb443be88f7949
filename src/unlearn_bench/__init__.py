__version__ = "0.1.0"

# ${run_id:} (conf/hydra/default.yaml) must exist wherever a config is composed
from unlearn_bench import resolvers as _resolvers  # noqa: E402, F401
