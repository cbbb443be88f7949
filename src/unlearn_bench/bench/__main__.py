"""python -m unlearn_bench.bench: the importance-pass benchmark (see bench/importance_bench.py).

Other benchmarks run as their own modules, e.g. python -m unlearn_bench.bench.fisher_vs_ssd.
"""

from unlearn_bench.bench.importance_bench import main

if __name__ == "__main__":
    main()
