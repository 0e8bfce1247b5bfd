"""Benchmarks of the pipeline against the seed's design and the physical limits (``make bench``).

Each ``bench/bench_*.py`` module runs alone (``python -m bench.bench_write_path --quick``) or
through ``python -m bench.run_all``; every figure is measured side by side with its reference in
the same run, repeated, and reported as a median. Results go to ``bench/results/<name>.json`` and
``bench/README.md`` (``python -m bench.report`` rewrites it from the results).
"""
