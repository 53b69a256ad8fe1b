"""Benchmarks behind `make bench`: each `bench_<topic>.py` module has a `main()` that measures
its topic and returns a Markdown section; `python -m tests.benchmarks [topic ...]` runs them."""
