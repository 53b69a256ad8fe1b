"""The worker that runs a submission: what its sandbox allows, and how a session survives a
function that hangs or kills its process."""

import shutil

import pytest

from course_lib.grading import _sandbox
from course_lib.grading._harness import Call
from course_lib.grading._sandbox import SandboxUnavailable, Session
from tests.notebooks import ROOT

pytestmark = pytest.mark.slow


def output_text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") + o.get("evalue", "") for o in outputs)


def test_grading_refuses_without_bubblewrap_unless_the_instructor_opts_out(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("COURSE_GRADING_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        _sandbox.sandbox_mode()
    monkeypatch.setenv("COURSE_GRADING_SANDBOX", "none")
    assert _sandbox.sandbox_mode() == "none"
    monkeypatch.setenv("COURSE_GRADING_SANDBOX", "docker")
    with pytest.raises(SandboxUnavailable, match="must be 'bwrap' or 'none'"):
        _sandbox.sandbox_mode()


def test_the_opt_out_runs_the_same_worker_as_a_plain_process_and_warns():
    with pytest.warns(UserWarning, match="without a sandbox"):
        session = Session("none")
    try:
        assert output_text(session.run_cell("print(6 * 7)")) == "42\n"
    finally:
        session.close()


def test_the_sandbox_hides_the_course_the_network_and_the_environment(sandbox, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SEED", "31337")
    session = Session(sandbox)
    try:
        probe = (
            "import os, socket, pathlib\n"
            f"print('course', pathlib.Path({str(ROOT / 'README.md')!r}).exists())\n"
            "print('seed', os.environ.get('COURSE_GRADING_SEED'))\n"
            "print('uid', os.getuid())\n"
            "try:\n    open('/usr/evil', 'w')\nexcept OSError as e:\n    print('usr', e.errno)\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
            "except OSError as e:\n    print('net', e.errno)\n"
        )
        text = output_text(session.run_cell(probe))
    finally:
        session.close()
    assert "course False" in text and "seed None" in text and "uid 65534" in text
    assert "usr 30" in text and "net 101" in text, text


def test_a_call_past_its_time_limit_kills_the_worker_and_the_session_replays_its_cells(sandbox):
    session = Session(sandbox, call_timeout=1.0)
    try:
        session.run_cell(
            "import time\nSTATE = 5\ndef slow(x):\n    time.sleep(60)\n"
            "def state(x):\n    return STATE + x"
        )
        assert session.call("", "slow", Call("returned", (1,)).plain()) == {"timed_out": True}
        assert session.call("", "state", Call("returned", (1,)).plain()) == {"value": 6}
        session.run_cell("import os\ndef die(x):\n    os._exit(7)")
        assert session.call("", "die", Call("returned", (1,)).plain()) == {"crashed": "exit code 7"}
        assert session.call("", "state", Call("returned", (2,)).plain()) == {"value": 7}
    finally:
        session.close()


def test_large_requests_and_replies_cross_whole(sandbox):
    import torch

    session = Session(sandbox)
    try:
        session.run_cell("def double(x):\n    return 2 * x")
        big = torch.arange(1_000_000, dtype=torch.float64)  # 8 MB each way, far beyond a pipe
        reply = session.call("", "double", Call("returned", (big,)).plain())
        assert torch.equal(reply["value"], 2 * big)
    finally:
        session.close()
