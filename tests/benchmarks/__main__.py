"""Run the benchmarks: `python -m tests.benchmarks [--threads N] [--cap SECONDS] [topic ...]`
(topics: the `bench_<topic>.py` modules beside this file; all of them by default). Ours and
torch's run on the same torch threads (`--threads`, torch's default otherwise); `--cap` bounds
each paired measurement (`timing.CAP_S`). Prints Markdown and writes it to
bench-results/<topic>.md."""

import argparse
import importlib
import pathlib
import sys

import torch

from tests.benchmarks import timing

HERE = pathlib.Path(__file__).parent
RESULTS = HERE.parent.parent / "bench-results"


def available_topics() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("topics", nargs="*", help=f"any of {available_topics()}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both sides")
    parser.add_argument("--cap", type=float, default=timing.CAP_S, help="seconds per measurement")
    args = parser.parse_args(argv)
    topics = args.topics or available_topics()
    unknown = set(topics) - set(available_topics())
    if unknown:
        print(f"unknown topics {sorted(unknown)}; choose from {available_topics()}")
        return 2
    threads = timing.set_threads(args.threads)
    timing.CAP_S = args.cap
    RESULTS.mkdir(exist_ok=True)
    print(f"torch {torch.__version__}, {threads} threads\n")
    for topic in topics:
        module = importlib.import_module(f"tests.benchmarks.bench_{topic}")
        section = module.main()
        print(section, end="\n\n", flush=True)
        (RESULTS / f"{topic}.md").write_text(section + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
