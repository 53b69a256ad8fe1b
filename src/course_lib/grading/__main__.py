"""The instructor's grading commands (``python -m course_lib.grading --help``).

- ``seed``: create the grading seed that hidden cases draw from (once; keep it).
- ``autograde ASSIGNMENT [--workers N | --scheduler ADDRESS | --local-cluster] [--force]``:
  grade every submission in parallel into the cache, then run ``nbgrader autograde``, which
  writes the gradebook from the cache.
- ``report ASSIGNMENT``: the similarity and delegation report, as CSV.
"""

import argparse
import pathlib
import subprocess
import sys

from course_lib.grading import _batch
from course_lib.grading._sandbox import SandboxUnavailable, sandbox_mode
from course_lib.grading._seed import MissingSeed, create_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grading", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--course", type=pathlib.Path, default=pathlib.Path.cwd(), help="the course directory"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="create the grading seed (once)")
    grade = commands.add_parser(
        "autograde", help="grade a class in parallel, then record it with nbgrader"
    )
    grade.add_argument("assignment")
    grade.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    grade.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://10.0.0.5:8786")
    grade.add_argument(
        "--local-cluster", action="store_true", help="a Dask LocalCluster of --workers processes"
    )
    grade.add_argument("--force", action="store_true", help="regrade submissions already graded")
    report = commands.add_parser(
        "report", help="answers equal to the reference or to each other; flagged code"
    )
    report.add_argument("assignment")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "seed":
            print(f"grading seed written to {create_seed()}; keep it to regrade reproducibly")
        elif arguments.command == "autograde":
            return _autograde(arguments)
        else:
            sys.stdout.write(_batch.similarity_report(arguments.course, arguments.assignment))
    except (MissingSeed, SandboxUnavailable, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _autograde(arguments) -> int:
    sandbox_mode()
    done = _batch.pregrade(
        arguments.course,
        arguments.assignment,
        workers=arguments.workers,
        scheduler=arguments.scheduler,
        local_cluster=arguments.local_cluster,
    )
    print(
        f"graded {len(done['graded'])} submissions in parallel; "
        f"{len(done['unreadable'])} unreadable"
    )
    for problem in done["unreadable"]:
        print(f"  unreadable: {problem}")
    command = [
        str(pathlib.Path(sys.executable).parent / "nbgrader"),
        "autograde",
        arguments.assignment,
    ]
    return subprocess.run(
        command + (["--force"] if arguments.force else []), cwd=arguments.course
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
