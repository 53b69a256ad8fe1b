"""Run the benchmarks: `python -m tests.benchmarks [topic ...]` (topics: the `bench_<topic>.py`
modules beside this file; all of them by default). Prints Markdown and writes it to
bench-results/<topic>.md."""

import importlib
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).parent
RESULTS = HERE.parent.parent / "bench-results"


def available_topics() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    topics = argv or available_topics()
    unknown = set(topics) - set(available_topics())
    if unknown:
        print(f"unknown topics {sorted(unknown)}; choose from {available_topics()}")
        return 2
    RESULTS.mkdir(exist_ok=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    for topic in topics:
        module = importlib.import_module(f"tests.benchmarks.bench_{topic}")
        section = module.main()
        print(section, end="\n\n", flush=True)
        (RESULTS / f"{topic}.md").write_text(section + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
