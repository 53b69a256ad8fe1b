"""What keeps one student function from spoiling a grade: delegation tripwires, a time limit,
and quiet output.

Delegation: an exercise asks students to write, say, ``xavier_uniform_`` themselves, so calling
``torch.nn.init.xavier_uniform_`` (or ``course_lib.init.xavier_uniform_``) must not earn
points. Patching the module attribute would miss an alias bound earlier
(``from torch.nn.init import xavier_uniform_ as f``, ``functools.partial(...)``), because the
alias holds the function object itself. So the guard swaps the *code* of each forbidden function
object for a tripwire while the student's function runs: every path to that object, alias or
not, now records the call and raises :class:`Delegated`.
"""

import contextlib
import io
import signal
import threading
import types
import warnings
from collections.abc import Callable, Iterable, Iterator


class Delegated(BaseException):  # noqa: N818 (it is a signal to the grader, not an error)
    """Raised inside a student's function when it calls a forbidden implementation. It derives
    from BaseException so that a bare ``except Exception`` in student code does not hide it."""


class TimeLimitExceeded(BaseException):  # noqa: N818
    """Raised inside a student's function that runs longer than its time limit."""


_tripped_calls: list[str] = []


def _record_delegation(name: str) -> None:
    _tripped_calls.append(name)
    raise Delegated(name)


def _tripwire(*args, **kwargs):
    import sys

    name = sys._getframe().f_code.co_qualname
    sys.modules["course_lib.grading._guard"]._record_delegation(name)


def _tripwire_code(function: types.FunctionType) -> types.CodeType:
    qualname = f"{function.__module__}.{function.__qualname__}"
    return _tripwire.__code__.replace(co_name=function.__name__, co_qualname=qualname)


@contextlib.contextmanager
def forbid(functions: Iterable[Callable]) -> Iterator[list[str]]:
    """Within the block, calling any of ``functions`` (through any alias) raises
    :class:`Delegated`; the yielded list collects the names of the functions called, even if
    the student's code caught the exception."""
    swapped = {}
    for function in functions:
        # Closures (torch's deprecated non-underscore aliases) call the functions swapped here.
        if isinstance(function, types.FunctionType) and not function.__code__.co_freevars:
            swapped[function] = function.__code__
    calls_before = len(_tripped_calls)
    calls: list[str] = []
    try:
        for function in swapped:
            function.__code__ = _tripwire_code(function)
        yield calls
    finally:
        for function, code in swapped.items():
            function.__code__ = code
        calls.extend(_tripped_calls[calls_before:])
        del _tripped_calls[calls_before:]


def pristine_copy(function: types.FunctionType) -> types.FunctionType:
    """A new function object with ``function``'s code: a tripwire swapped into the original
    does not reach the copy, so a reference can still run while its original is forbidden."""
    copy = types.FunctionType(
        function.__code__, function.__globals__, function.__name__,
        function.__defaults__, function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the main thread after ``seconds`` (a no-op outside
    the main thread, where signals cannot be used; nbgrader's cell timeout still applies)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded(f"{seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings and swallow stdout/stderr written by student code: nbgrader scores a
    test cell 0 when anything reaches stderr, and the student's prints would drown the
    diagnosis."""
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(
        sink
    ):
        warnings.simplefilter("ignore")
        yield

