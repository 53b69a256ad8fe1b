"""Where a submission's code runs at autograde: a worker process in a sandbox.

The worker (:mod:`course_lib.grading._worker`) runs under bubblewrap (``bwrap``) with

- no network (its own, empty network namespace) and its own process namespace: when the worker
  is stopped, every process the submission started goes with it;
- a file system of the system's programs and libraries, the Python installation and course_lib,
  all read-only; a private, size-limited ``/tmp`` as its only writable place and working
  directory; not the course directory (so not ``solutions/``, ``submitted/``, the gradebook, the
  grading seed or the cache), not the instructor's home, not the instructor's environment;
- an unprivileged user with no capabilities, a memory limit (``COURSE_GRADING_MEMORY_MB``), a
  file-size limit and a CPU-time limit; GPU grading adds the NVIDIA device files only.

Each call has a time limit enforced from outside: a worker that does not answer in time is
killed (no handler in the submission can prevent it) and a new one replays the cells run so far.
Without bubblewrap, grading refuses unless the instructor sets ``COURSE_GRADING_SANDBOX=none``,
which runs the worker as a plain process (same channel, no isolation) and says so in the log.
"""

import contextlib
import glob
import os
import pathlib
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

import torch

import course_lib
from course_lib.grading._channel import ChannelError, decode, encode
from course_lib.grading._worker import _FRAME

SANDBOX_ENV = "COURSE_GRADING_SANDBOX"
MEMORY_MB = int(os.environ.get("COURSE_GRADING_MEMORY_MB", "4096"))
CPU_SECONDS = 1800
SCRATCH_BYTES = 256 * 2**20
START_TIMEOUT_S = 120.0


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made here and the instructor has not opted out of it."""


class WorkerFailed(Exception):
    """The worker did not answer in time, died, or answered with something that is not a reply."""

    def __init__(self, reason: str, timed_out: bool = False):
        super().__init__(reason)
        self.timed_out = timed_out


def sandbox_mode() -> str:
    """``"bwrap"`` or ``"none"`` (the instructor's explicit opt-out); raises
    :class:`SandboxUnavailable` when bubblewrap is missing or does not work here."""
    mode = os.environ.get(SANDBOX_ENV, "bwrap")
    if mode == "none":
        return mode
    if mode != "bwrap":
        raise SandboxUnavailable(f"{SANDBOX_ENV} must be 'bwrap' or 'none', got {mode!r}")
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so submissions cannot be sandboxed: install it "
            "(Debian/Ubuntu: apt-get install bubblewrap), or set COURSE_GRADING_SANDBOX=none to "
            "grade without a sandbox, trusting every submission with your account"
        )
    probe = subprocess.run([*_bwrap_arguments(), "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(f"bubblewrap cannot create a sandbox here: {probe.stderr.strip()}")
    return mode


def _read_only_roots() -> list[str]:
    """Folders the worker needs to read: the interpreter, the environment's packages, and the
    folder that holds course_lib (``src/`` of an editable install). Not the grader's other
    ``sys.path`` entries: ``python -m`` puts the current folder there, which is the course."""
    package_parent = pathlib.Path(course_lib.__file__).resolve().parent.parent
    roots = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, package_parent)})
    # Keep the outermost folders only: a folder inside one already bound needs no bind of its own.
    return [r for r in roots if not any(r.startswith(o.rstrip("/") + "/") for o in roots if o != r)]


def _system_arguments() -> list[str]:
    arguments = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            arguments += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            arguments += ["--ro-bind", top, top]
    return arguments


def _gpu_arguments() -> list[str]:
    if not torch.cuda.is_available():
        return []
    devices = sorted(set(glob.glob("/dev/nvidia*")) - {"/dev/nvidia-caps"})
    return [a for d in devices for a in ("--dev-bind", d, d)] + ["--ro-bind", "/sys", "/sys"]


def _bwrap_arguments() -> list[str]:
    arguments = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--unshare-user",
        "--uid",
        "65534",
        "--gid",
        "65534",
        *_system_arguments(),
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(SCRATCH_BYTES),
        "--tmpfs",
        "/tmp",
        "--chdir",
        "/tmp",
        "--clearenv",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
    ]
    for root in _read_only_roots():
        if not any(root == p or root.startswith(p + "/") for p in ("/usr", "/etc")):
            arguments += ["--ro-bind", root, root]
    return arguments + _gpu_arguments()


def _worker_environment() -> dict[str, str]:
    """The worker's whole environment: nothing of the instructor's (no seed, no tokens)."""
    return {
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "COURSE_GRADING_WORKER": "1",
    }


def _limit_resources() -> None:
    """Runs in the worker's process before it starts: limits that its children inherit."""
    if not torch.cuda.is_available():  # CUDA reserves far more address space than it uses
        memory = MEMORY_MB * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (SCRATCH_BYTES, SCRATCH_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Worker:
    """One worker process and its channel; :meth:`request` enforces the time limit."""

    def __init__(self, mode: str):
        command = [sys.executable, "-I", "-m", "course_lib.grading._worker"]
        self._scratch = None
        if mode == "bwrap":
            command = [*_bwrap_arguments(), *command]
            cwd = "/"
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="course-grading-")
            cwd = self._scratch.name
        environment = _worker_environment()
        if mode != "bwrap":  # -I ignores PYTHONPATH; the editable install is found through site
            environment["HOME"] = cwd
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=environment,
            preexec_fn=_limit_resources,
            start_new_session=True,
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._process.stdout, selectors.EVENT_READ)
        os.set_blocking(self._process.stdout.fileno(), False)
        self._buffer = bytearray()
        if self._receive(START_TIMEOUT_S).get("ready") is not True:
            raise WorkerFailed("the worker did not start")

    def request(self, message: dict, timeout: float) -> dict:
        """Send ``message`` and return the reply; :class:`WorkerFailed` if there is none in
        ``timeout`` seconds (the worker is then killed) or the worker dies."""
        payload = encode(message)
        try:
            self._process.stdin.write(_FRAME.pack(len(payload)) + payload)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            raise WorkerFailed(self._death()) from None
        return self._receive(timeout)

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            if len(self._buffer) >= _FRAME.size:
                (size,) = _FRAME.unpack_from(self._buffer)
                if size > 2**30:
                    self.close()
                    raise WorkerFailed("the worker sent an oversized message")
                if len(self._buffer) >= _FRAME.size + size:
                    frame = bytes(self._buffer[_FRAME.size : _FRAME.size + size])
                    del self._buffer[: _FRAME.size + size]
                    try:
                        reply = decode(frame)
                    except ChannelError as error:
                        self.close()
                        raise WorkerFailed(
                            f"the worker sent a malformed message ({error})"
                        ) from None
                    if not isinstance(reply, dict):
                        self.close()
                        raise WorkerFailed("the worker sent a reply that is not a dictionary")
                    return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise WorkerFailed(f"no answer within {timeout:g} s", timed_out=True)
            if self._selector.select(remaining):
                chunk = self._process.stdout.read(1 << 20)
                if not chunk:
                    self.close()
                    raise WorkerFailed(self._death())
                self._buffer += chunk

    def _death(self) -> str:
        code = self._process.wait()
        return (
            f"exit code {code}" if code >= 0 else f"killed by signal {signal.Signals(-code).name}"
        )

    def close(self) -> None:
        """Stop the worker and every process it started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        self._process.stdout.close()
        self._selector.close()
        if self._scratch is not None:
            self._scratch.cleanup()


class Session:
    """A submission's worker over the course of one notebook: runs cells, calls functions, and
    after a timeout or a crash starts a new worker and replays the cells that ran before."""

    def __init__(
        self, mode: str | None = None, cell_timeout: float = 60.0, call_timeout: float = 10.0
    ):
        self.mode = mode or sandbox_mode()
        if self.mode == "none":
            warnings.warn("grading without a sandbox (COURSE_GRADING_SANDBOX=none)", stacklevel=2)
        self.cell_timeout, self.call_timeout = cell_timeout, call_timeout
        self._replay: list[str] = []
        self._worker: Worker | None = None
        self._prepared: set[str] = set()

    def _live_worker(self) -> Worker:
        if self._worker is None:
            self._worker = Worker(self.mode)
            self._prepared = set()
            for source in self._replay:
                with contextlib.suppress(WorkerFailed):
                    self._worker.request({"op": "run", "source": source}, self.cell_timeout)
        return self._worker

    def _request(self, message: dict, timeout: float) -> dict:
        try:
            return self._live_worker().request(message, timeout)
        except WorkerFailed:
            self._worker = None
            raise

    @property
    def sources(self) -> list[str]:
        """The cells run so far, in order: the code the student's functions can see."""
        return list(self._replay)

    def run_cell(self, source: str) -> list[dict]:
        """Run a cell; its outputs as plain dictionaries (untrusted: check before use)."""
        try:
            reply = self._request({"op": "run", "source": source}, self.cell_timeout)
        except WorkerFailed as failure:
            what = "did not finish within" if failure.timed_out else "stopped the kernel:"
            detail = f"{self.cell_timeout:g} s" if failure.timed_out else str(failure)
            return [
                {"type": "error", "ename": "CellFailed", "evalue": f"this cell {what} {detail}"}
            ]
        self._replay.append(source)
        outputs = reply.get("outputs")
        return outputs if isinstance(outputs, list) else []

    def call(self, exercise: str, function: str, call: dict) -> dict:
        """One case's call on the student's ``function``: its plain reply, or a reply that
        says it timed out or crashed."""
        message = {"op": "call", "exercise": exercise, "function": function, "call": call}
        try:
            if exercise not in self._prepared:
                self._request({"op": "prepare", "exercise": exercise}, self.cell_timeout)
                self._prepared.add(exercise)
            return self._request(message, self.call_timeout)
        except WorkerFailed as failure:
            return {"timed_out": True} if failure.timed_out else {"crashed": str(failure)}

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
