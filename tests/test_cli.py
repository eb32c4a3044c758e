"""The ``kernsim`` command line: output, exit status, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SEED, TRANSCRIPTS
from kernsim._core import _export
from kernsim.cli import main


def kernsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kernsim", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def test_run_prints_the_dmesg_and_exits_0() -> None:
    p = kernsim("run", "examples/seed/wait_event.py")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = p.stdout.splitlines()
    assert lines[0].startswith("[    0.000000] Linux version ")
    assert "[    1.000001] inside kthread init function" in lines
    assert lines[-1].endswith("] destroyed threads and completed tasks")


def test_for_sets_how_long_the_module_stays_loaded(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SEED / "prepare_to_wait.py"), "--for", "3"]) == 0
    out = capsys.readouterr().out
    exit_line = next(ln for ln in out.splitlines() if "exit function" in ln)
    assert exit_line.startswith("[    4.0000")


def test_expect_reproduces_a_transcript_and_prints_the_replay_string(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(SEED / "wait_event_timeout.py"), "--for", "9.383",
                 "--expect", str(TRANSCRIPTS / "wait_event_timeout.dmesg")])
    out, err = capsys.readouterr()
    assert code == 0
    assert err.startswith("kernsim: reproduced with --replay ")
    replay = err.split("--replay ", 1)[1].strip()
    assert main(["run", str(SEED / "wait_event_timeout.py"), "--for", "9.383", "--replay", replay]) == 0
    again, _ = capsys.readouterr()
    assert again.splitlines()[2:] == out.splitlines()[2:]  # line 2 names the policy


def test_expect_failure_says_which_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    want = tmp_path / "impossible.dmesg"
    want.write_text("# a line the module never prints\n"
                    "[  100.000000] inside kthread init function\n"
                    "[  100.500000] wake thread execution i value = 1\n")
    code = main(["run", str(SEED / "wait_event.py"), "--expect", str(want), "--max-schedules", "20"])
    err = capsys.readouterr().err
    assert code == 1
    assert "line 3 of the expectation file" in err and "matched 1 of 2 lines" in err


def test_decisions_prints_a_replay_string(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SEED / "wait_event.py"), "--policy", "random", "--seed", "3", "--decisions"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("kernsim: replay this run with --replay ")


def test_hang_exits_1_quickly_with_a_clear_message() -> None:
    p = kernsim("run", "examples/seed/wait_event.py", "--for", "2")
    assert p.returncode == 1
    assert "blocked for more than 120 seconds" in p.stdout
    assert p.stderr.startswith("kernsim: rmmod (pid ")
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("args, message", [
    (["run"], "the following arguments are required: MODULE"),
    (["run", "nonexistent.py"], "nonexistent.py: No such file or directory"),
    (["run", "examples"], "is a directory"),
    (["run", "examples/seed/wait_event.py", "--for", "-1"], "seconds must be between"),
    (["run", "examples/seed/wait_event.py", "--for", "soon"], "not a number of seconds"),
    (["run", "examples/seed/wait_event.py", "--for", "nan"], "seconds must be between"),
    (["run", "examples/seed/wait_event.py", "--hz", "123"], "invalid choice"),
    (["run", "examples/seed/wait_event.py", "--policy", "lottery"], "invalid choice"),
    (["run", "examples/seed/wait_event.py", "--seed", "-4"], "must not be negative"),
    (["run", "examples/seed/wait_event.py", "--policy", "fifo", "--seed", "4"], "--seed only applies"),
    (["run", "examples/seed/wait_event.py", "--replay", "x,y"], "malformed replay string"),
    (["run", "examples/seed/wait_event.py", "--replay", "0:7"], "--replay: decision 0"),
    (["run", "examples/seed/wait_event.py", "--replay", "1", "--seed", "2"], "cannot be combined"),
    (["run", "examples/seed/wait_event.py", "--tolerance", "0.1"], "only apply to --expect"),
    (["run", "examples/seed/wait_event.py", "--expect", "missing.dmesg"], "cannot read missing.dmesg"),
    (["run", "examples/seed/wait_event.py", "--expect", "pyproject.toml"], "no dmesg lines"),
    (["run", "examples/seed/wait_event.py", "--max-schedules", "0"], "must be at least 1"),
    (["frobnicate"], "invalid choice"),
    ([], "the following arguments are required: COMMAND"),
    (["run"], "the following arguments are required: MODULE (see"),
    (["--name"], "option --name needs a kernel name"),
])
def test_bad_arguments_get_one_line_and_status_2(args: list[str], message: str) -> None:
    p = kernsim(*args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("kernsim: error: ") and message in p.stderr


def test_a_module_with_a_syntax_error_gets_a_compiler_style_diagnostic(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("from kernsim.linux import *\n\ndef init(:\n    return 0\n")
    p = kernsim("run", str(bad))
    assert p.returncode == 1
    assert p.stderr.startswith(f"{bad}:3:")
    assert "error:" in p.stderr and "Traceback" not in p.stderr


MODULE_BODY = 'from kernsim.linux import *\nMODULE_LICENSE("GPL")\nprint("the body ran")\n'


@pytest.mark.parametrize(("stem", "message"), [
    ("bad name", "'bad name' is not a valid module name (the file name gives it: letters, digits, "
                 "'_' and '-', which is '_')"),
    ("m.o", "'m.o' is not a valid module name"),  # kmod's name would stop at the first dot
    ("x" * 56, f"module name '{'x' * 56}' is 56 characters long; the kernel's MODULE_NAME_LEN "
               f"(56, with the NUL) allows 55"),
    ("y" * 70, "is 70 characters long"),
])
def test_a_python_module_whose_file_gives_no_valid_name_is_refused(tmp_path: Path, stem: str,
                                                                   message: str) -> None:
    bad = tmp_path / f"{stem}.py"
    bad.write_text(MODULE_BODY)
    p = kernsim("run", str(bad), "--for", "1")
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(f"{bad}: error: "), p.stderr
    assert message in p.stderr
    assert "the body ran" not in p.stdout + p.stderr


def test_the_longest_valid_name_and_a_dash_load(tmp_path: Path) -> None:
    for stem, name in (("z" * 55, "z" * 55), ("with-dash", "with_dash")):
        ok = tmp_path / f"{stem}.py"
        ok.write_text(MODULE_BODY)
        p = kernsim("run", str(ok), "--for", "1")
        assert p.returncode == 0, p.stderr
        assert f"] {name}: loading out-of-tree module taints kernel." in p.stdout


def test_facade_is_generated_from_the_symbol_list() -> None:
    """kernsim/linux.py is current (regenerate: python -m kernsim._core._export)."""
    assert (REPO / "kernsim" / "linux.py").read_text() == _export.render_facade()


def test_every_exported_name_is_in_the_facade() -> None:
    import kernsim.linux as linux

    for name in _export.EXPORTS:
        assert name in linux.__all__
        if _export.EXPORTS[name].kind != "var":
            assert getattr(linux, name) is _export.EXPORTS[name].obj


def test_a_replay_string_longer_than_the_run_is_a_warning() -> None:
    p = kernsim("run", "examples/seed/prepare_to_wait.py", "--for", "1", "--replay", "99999999")
    assert p.returncode == 0
    assert "kernsim: warning: the run ended after decision" in p.stderr
    assert "of the 100000000 the replay string names" in p.stderr


def test_expect_with_a_policy_is_a_usage_error() -> None:
    p = kernsim("run", "examples/seed/wait_event.py", "--policy", "random", "--seed", "3",
                "--expect", str(TRANSCRIPTS / "wait_event.dmesg"))
    assert p.returncode == 2
    assert p.stderr.strip() == ("kernsim: error: --expect searches for a schedule itself: it "
                                "cannot be combined with --policy or --seed")


def test_expect_says_which_for_when_rmmod_prints_at_the_wrong_time() -> None:
    """No schedule moves rmmod: the search stops at once and names the --for to use."""
    p = kernsim("run", "examples/seed/wait_event.py", "--expect", str(TRANSCRIPTS / "wait_event.dmesg"))
    assert p.returncode == 1
    assert "(1 schedule tried)" in p.stderr
    assert "'inside thread exit function' is printed by rmmod" in p.stderr
    assert p.stderr.rstrip().endswith("try --for 5.672")
    again = kernsim("run", "examples/seed/wait_event.py", "--for", "5.672",
                    "--expect", str(TRANSCRIPTS / "wait_event.dmesg"))
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("hz, ms", [(100, 80), (250, 32), (300, 26), (1000, 64)])
def test_the_default_tolerance_is_the_granule_of_a_one_second_sleep(hz: int, ms: int) -> None:
    from kernsim.expect import default_tolerance_ns

    assert default_tolerance_ns(hz) // 1_000_000 == ms


def test_readme_api_list_is_generated_from_the_symbol_list() -> None:
    readme = (REPO / "README.md").read_text()
    assert _export.readme_with_api_list(readme) == readme, \
        "README's API list is stale: run python -m kernsim._core._export"


def test_a_long_expect_search_says_how_it_is_going(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from kernsim import expect

    monkeypatch.setattr(expect, "PROGRESS_EVERY", 0.0)
    want = tmp_path / "impossible.dmesg"
    want.write_text("[  100.000000] inside kthread init function\n"
                    "[  100.010000] wait thread execution i value = 99\n")
    code = main(["run", str(SEED / "wait_event.py"), "--expect", str(want), "--max-schedules", "4"])
    err = capsys.readouterr().err
    assert code == 1
    assert "kernsim: --expect: 1 of at most 4 schedules tried; the best matched 1 of 2 lines so far" in err


def test_the_kernel_name_option_is_in_the_help_and_may_be_repeated(tmp_path: Path) -> None:
    """As getopt: the last --name counts."""
    assert "--name NAME" in kernsim("--help").stdout
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    p = subprocess.run([sys.executable, "-m", "kernsim", "--name", "a", "--name=b", "lsmod"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert (p.returncode, p.stderr) == (1, "kernsim: no kernel is running (start one with 'kernsim --name b boot')\n")


@pytest.mark.parametrize("tool", ["lsmod", "ps", "dmesg"])
def test_a_live_tool_does_not_import_the_simulated_kernel(tmp_path: Path, tool: str) -> None:
    """A client tool only talks to the kernel: importing kernsim._core (the
    whole kernel, ~60 ms) would make every 'kernsim lsmod' that much slower."""
    script = ("import sys; from kernsim.cli import main; main([%r]); "
              "print('kernsim._core' in sys.modules, file=sys.stderr)" % tool)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       env=env)
    assert p.stderr.splitlines()[-1] == "False", p.stderr
