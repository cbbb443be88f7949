# ${run_id:} (conf/hydra/default.yaml) must exist wherever a config is composed
from unlearn_bench.cli import resolvers as _resolvers  # noqa: E402, F401
from unlearn_bench.version import __version__  # noqa: F401
