"""The student's side of autograding: a worker that runs a submission's cells and calls its
functions, started by :mod:`course_lib.grading._sandbox` inside the sandbox.

It reads requests on file descriptor 0 and writes replies on file descriptor 1, one framed
message each (:mod:`course_lib.grading._channel`); both are moved to private descriptors at
start, and the student's code gets ``/dev/null`` as stdin and a scratch file as its stdout and
stderr. Requests:

- ``{"op": "run", "source": ...}``: run a cell in an IPython shell; reply with its outputs (text
  streams, ``text/plain`` and ``image/png`` results, the error), each cut to a size limit.
- ``{"op": "call", "exercise": ..., "function": ..., "call": ...}``: run one case's call on the
  function of that name in the notebook's namespace; reply with the plain result.

Nothing here is trusted by the grader: a submission can change this module's behaviour in its
own process, and all it can forge is its own replies, which the grader judges as data.
"""

import importlib
import os
import struct
import sys

from course_lib.grading._channel import ChannelError, decode, encode

MAX_TEXT = 20_000
MAX_IMAGE = 1_000_000
_FRAME = struct.Struct("<Q")


def _read_exactly(stream, size: int) -> bytes | None:
    """``size`` bytes from an unbuffered stream, whose reads return what the pipe holds (at most
    64 KiB at a time); None at the end of the stream."""
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream) -> bytes | None:
    header = _read_exactly(stream, _FRAME.size)
    if header is None:
        return None
    (size,) = _FRAME.unpack(header)
    return _read_exactly(stream, size)


def write_frame(stream, payload: bytes) -> None:
    stream.write(_FRAME.pack(len(payload)) + payload)
    stream.flush()


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return (
        text if len(text) <= limit else text[:limit] + f"\n... [{len(text) - limit} characters cut]"
    )


def _run_cell(shell, source: str) -> dict:
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(source, store_history=False, silent=False)
    outputs = []
    if captured.stdout:
        outputs.append({"type": "stream", "name": "stdout", "text": _cut(captured.stdout)})
    if captured.stderr:
        outputs.append({"type": "stream", "name": "stderr", "text": _cut(captured.stderr)})
    for output in captured.outputs:
        data = output.data or {}
        shown = {"text/plain": _cut(str(data.get("text/plain", "")))}
        if isinstance(data.get("image/png"), str) and len(data["image/png"]) <= MAX_IMAGE:
            shown["image/png"] = data["image/png"]
        outputs.append({"type": "display_data", "data": shown})
    error = result.error_in_exec or result.error_before_exec
    if error is not None:
        outputs.append(
            {"type": "error", "ename": type(error).__name__, "evalue": _cut(str(error), 2000)}
        )
    return {"outputs": outputs}


def _call(namespace: dict, exercises: dict, request: dict) -> dict:
    from course_lib.grading._harness import Call, call_student

    exercise = exercises.get(request["exercise"])
    function = namespace.get(request["function"])
    if not callable(function):
        return {
            "raised": ["NameError"],
            "message": f"NameError: {request['function']} is not defined as a function",
        }
    forbidden, given = (exercise.forbidden(), exercise.given) if exercise else ((), {})
    return call_student(Call.from_plain(request["call"]), function, forbidden, given)


def serve() -> None:
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    scratch = os.open("student-output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(scratch, 1)
    os.dup2(scratch, 2)

    import matplotlib

    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell

    import course_lib.grading as grading
    from course_lib.grading._runner import plain_reply

    shell = InteractiveShell.instance()
    shell.user_ns["__name__"] = "__main__"
    exercises = dict(grading._EXERCISES)
    write_frame(replies, encode({"ready": True}))
    while (frame := read_frame(requests)) is not None:
        try:
            request = decode(frame)
        except ChannelError as error:
            write_frame(replies, encode({"error": str(error)}))
            continue
        if request.get("op") == "run":
            reply = _run_cell(shell, request["source"])
        elif request.get("op") == "prepare":
            exercise = exercises.get(request.get("exercise"))
            for module in exercise.imports if exercise else ():
                importlib.import_module(module)
            reply = {"prepared": True}
        elif request.get("op") == "call":
            reply = plain_reply(_call(shell.user_ns, exercises, request))
        else:
            break
        write_frame(replies, encode(plain_reply(reply)))


if __name__ == "__main__":
    sys.exit(serve())
