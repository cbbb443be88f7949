"""The command line: entry helpers, the job wrapper, Hydra callbacks, signals, resolvers, argument checks."""
