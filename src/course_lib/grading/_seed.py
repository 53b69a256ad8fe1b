"""The instructor's grading seed: what hidden cases draw their inputs from.

The seed lives outside the course (by default ``~/.config/course_lib/grading_seed``, or the file
named by ``COURSE_GRADING_SEED_FILE``, or the number in ``COURSE_GRADING_SEED``), so a student
who reads every file of the course still cannot know the hidden cases, and a sandboxed worker
never sees it (it gets neither the instructor's home nor the environment). Keeping the file
makes regrading reproducible: the same seed draws the same cases.
"""

import contextlib
import os
import pathlib
import secrets
from collections.abc import Iterator

SEED_ENV = "COURSE_GRADING_SEED"
SEED_FILE_ENV = "COURSE_GRADING_SEED_FILE"


class MissingSeed(RuntimeError):
    """Hidden checks were asked for where the instructor's grading seed is not available."""


_given_seed: list[int] = []


@contextlib.contextmanager
def using(seed: int) -> Iterator[None]:
    """Within the block, :func:`instructor_seed` is ``seed``: how a grading job on another
    machine (a Dask worker) gets the seed its driver read."""
    _given_seed.append(seed)
    try:
        yield
    finally:
        _given_seed.pop()


def seed_path() -> pathlib.Path:
    """Where the seed file is (whether or not it exists)."""
    default = pathlib.Path.home() / ".config" / "course_lib" / "grading_seed"
    return pathlib.Path(os.environ.get(SEED_FILE_ENV, default)).expanduser()


def instructor_seed() -> int:
    """The grading seed, from ``COURSE_GRADING_SEED`` or the seed file; :class:`MissingSeed`
    (with what to do) when neither exists."""
    if _given_seed:
        return _given_seed[-1]
    text = os.environ.get(SEED_ENV)
    if text is None and seed_path().is_file():
        text = seed_path().read_text()
    if text is None:
        raise MissingSeed(
            "hidden checks run only when the instructor autogrades: they draw their cases from the "
            f"instructor's grading seed, which is not here ({seed_path()} does not exist and "
            f"{SEED_ENV} is not set). Instructors: create it once with "
            "`python -m course_lib.grading seed` and keep it."
        )
    try:
        return int(text.strip())
    except ValueError:
        raise MissingSeed(
            f"the grading seed must be an integer, got {text.strip()[:40]!r}"
        ) from None


def create_seed() -> pathlib.Path:
    """Write a new random seed to :func:`seed_path` (readable by its owner only); refuse to
    replace one that exists, since that would change every hidden case of a regrade."""
    path = seed_path()
    if path.exists():
        raise FileExistsError(f"{path} exists; delete it first if you really want new hidden cases")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(f"{secrets.randbits(62)}\n")
    return path
