"""Benchmark scripts (not timed tests): python -m unlearn_bench.bench ..."""
