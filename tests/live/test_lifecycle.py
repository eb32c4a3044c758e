"""boot / halt / sleep, and kmod's insmod, rmmod and lsmod against a live kernel.

Messages and exit statuses are kmod's (``../shared/spec/kernel-semantics.md``
§7.2, §7.3, §7.6); a missing or dead kernel is kernsim's own one-line error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from live_kernel import SEED, Live, reap, live  # noqa: F401 (live: the fixture)

LSMOD_HEADER = "Module                  Size  Used by\n"


def test_boot_reports_the_kernel_and_a_second_boot_reports_the_running_one(live: Live) -> None:
    out = live.ok("boot", "--virtual")
    assert out.startswith("kernsim: kernel 'default' booted (pid ")
    again = live("boot", "--virtual")
    assert again.status == 0
    assert "kernsim: kernel 'default' is already running (pid" in again.out
    assert "virtual clock" in again.out
    # Asked for another kind of kernel: it says so and fails.
    other = live("boot")
    assert other.status == 1
    assert "it is not the real-time-clock HZ=250 kernel asked for" in other.err
    assert live.ok("halt") == ""


def test_the_socket_and_its_directory_are_owner_only(live: Live) -> None:
    live.ok("boot", "--virtual")
    d = live.root / "kernsim"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "default.sock").stat().st_mode) == 0o600
    live.ok("halt")


def test_halt_removes_the_modules_and_leaves_nothing_behind(live: Live) -> None:
    live.ok("boot", "--virtual")
    pid = live.kernel_pid()
    assert pid is not None
    live.ok("insmod", str(SEED / "wait_event.py"))
    live.ok("sleep", "5")  # past i > 3: the module's exit can stop both threads
    assert live.ok("halt") == ""
    reap(pid)
    # Left: the kernel process's stderr, and the (unlocked) lock file -- a lock
    # file is never removed, or two boots could each lock a file of their own.
    assert sorted(p.name for p in (live.root / "kernsim").iterdir()) == ["default.lock",
                                                                         "default.out"]
    gone = live("lsmod")
    assert gone.status == 1
    assert gone.err == "kernsim: no kernel is running (start one with 'kernsim boot')\n"


def test_without_a_kernel_every_tool_says_so_in_one_line(live: Live) -> None:
    for tool in (["lsmod"], ["ps"], ["dmesg"], ["insmod", "x.ko"], ["rmmod", "x"], ["halt"],
                 ["sleep", "1"]):
        r = live(*tool)
        assert r.status == 1, tool
        assert r.err == "kernsim: no kernel is running (start one with 'kernsim boot')\n", tool
        assert r.out == ""


def test_kmod_messages_and_exit_statuses(live: Live, tmp_path: Path) -> None:
    live.ok("boot", "--virtual")
    assert live.ok("lsmod") == LSMOD_HEADER
    live.ok("insmod", "./wait_event.py", cwd=SEED)
    assert live.ok("lsmod") == LSMOD_HEADER + "wait_event             16384  0\n"
    twice = live("insmod", "./wait_event.py", cwd=SEED)
    assert (twice.status, twice.err) == (
        1, "insmod: ERROR: could not insert module ./wait_event.py: File exists\n")
    missing = live("insmod", "nosuch.ko", cwd=tmp_path)
    assert (missing.status, missing.err) == (
        1, "insmod: ERROR: could not load module nosuch.ko: No such file or directory\n")
    assert live("insmod").err == "insmod: ERROR: missing filename.\n"
    # insmod reads what it is given as a kernel object: a C source or a text
    # file is not one (it is never built or run as Python).
    (tmp_path / "hello.c").write_text("int x;\n")
    (tmp_path / "notes").write_text("print('not a module')\n")
    for given in ("hello.c", "notes"):
        r = live("insmod", given, cwd=tmp_path)
        assert (r.status, r.out, r.err) == (
            1, "", f"insmod: ERROR: could not insert module {given}: Invalid module format\n")
    assert not (tmp_path / "hello.ko").exists()
    r = live("modinfo")
    assert (r.status, r.err) == (1, "modinfo: ERROR: missing module or filename.\n")
    assert live.ok("modinfo", "-V").startswith("kmod version 30\n")
    assert live("rmmod").err == "rmmod: ERROR: missing module name.\n"
    bad = live("rmmod", "-z", "x")
    assert bad.status == 1
    assert bad.err == ("rmmod: invalid option -- 'z'\n"
                       "rmmod: ERROR: unexpected getopt_long() value '?'.\n")
    unknown = live("rmmod", "kthread")
    assert (unknown.status, unknown.err) == (
        1, "rmmod: ERROR: Module kthread is not currently loaded\n")
    assert live("lsmod", "-a").err == "Usage: lsmod\n"
    live.ok("sleep", "5")
    # rmmod takes the name, or the file (as kmod does), '-' for '_'.
    live.ok("rmmod", "wait-event")
    assert live.ok("lsmod") == LSMOD_HEADER
    live.ok("halt")


def test_an_init_that_fails_gets_kmods_text_for_its_errno(live: Live, tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text(
        "from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
        "def init():\n    return -ENODEV\nmodule_init(init)\n")
    (tmp_path / "inval.py").write_text(
        "from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
        "def init():\n    return -EINVAL\nmodule_init(init)\n")
    live.ok("boot", "--virtual")
    r = live("insmod", "fails.py", cwd=tmp_path)
    assert (r.status, r.err) == (1, "insmod: ERROR: could not insert module fails.py: No such device\n")
    r = live("insmod", "inval.py", cwd=tmp_path)
    assert (r.status, r.err) == (1, "insmod: ERROR: could not insert module inval.py: Invalid parameters\n")
    assert live.ok("lsmod") == LSMOD_HEADER
    live.ok("halt")


def test_module_parameters_reach_the_module(live: Live, tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text(
        "from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
        "count = 1\nmodule_param('count', 'int', 0o444)\n"
        "def init():\n    pr_info('count=%d\\n', count)\n    return 0\n"
        "def exit():\n    pass\nmodule_init(init)\nmodule_exit(exit)\n")
    live.ok("boot", "--virtual")
    r = live("insmod", "hello.py", "count=7", cwd=tmp_path)
    assert r.status == 0, r.err
    assert "count=7" in live.ok("dmesg")
    live.ok("rmmod", "hello")
    r = live("insmod", "hello.py", "count=abc", cwd=tmp_path)
    assert (r.status, r.err) == (1, "insmod: ERROR: could not insert module hello.py: Invalid parameters\n")
    assert "hello: `abc' invalid for parameter `count'" in live.ok("dmesg")
    live.ok("halt")


def test_a_virtual_kernel_script_prints_the_same_log_every_time(live: Live) -> None:
    """A --virtual kernel's clock moves only on 'kernsim sleep' (and while a
    command waits in the kernel): a script's output is exact."""
    logs = []
    for _ in range(2):
        live.ok("boot", "--virtual")
        live.ok("sleep", "1")
        live.ok("insmod", "./wait_event.py", cwd=SEED)
        live.ok("sleep", "6")
        live.ok("rmmod", "wait_event")
        logs.append(live.ok("dmesg"))
        live.ok("halt")
    assert logs[0] == logs[1]
    assert logs[0].splitlines()[2:] == (SEED.parent.parent / "tests" / "live" / "expected" /
                                         "wait_event.virtual.dmesg").read_text().splitlines()


def test_sleep_needs_a_number(live: Live) -> None:
    r = live("sleep", "soon")
    assert r.status == 2
    assert r.err.startswith("kernsim: error: argument SECONDS: not a number of seconds: 'soon'")


def test_a_bad_kernel_name_is_a_usage_error(live: Live) -> None:
    r = live("--name", "../x", "lsmod")
    assert r.status == 2
    assert r.err.startswith("kernsim: error: invalid kernel name '../x'")


def test_kernels_with_other_names_are_separate(live: Live) -> None:
    live.ok("boot", "--virtual")
    live.ok("--name", "two", "boot", "--virtual")
    live.ok("insmod", "./wait_event.py", cwd=SEED)
    assert "wait_event" not in live.ok("--name", "two", "lsmod")
    assert "wait_event" in live.ok("lsmod")
    live.ok("--name", "two", "halt")
    live.ok("sleep", "5")
    live.ok("halt")
    assert not os.path.exists(live.root / "kernsim" / "two.sock")


def test_python_modules_against_a_live_kernel_modinfo_reads_and_insmod_checks_names(
        live: Live, tmp_path: Path) -> None:
    """modinfo (by file, and by the name of a loaded module) never runs the
    module; insmod refuses a file whose name is no module name, in one line."""
    body = ("from kernsim.linux import *\nMODULE_LICENSE('GPL')\nMODULE_AUTHOR('me')\n"
            "print('the body ran')\n")
    (tmp_path / "talky.py").write_text(body)
    (tmp_path / "bad name.py").write_text(body)
    (tmp_path / f"{'n' * 60}.py").write_text(body)
    (tmp_path / "syn.py").write_text("def (:\n")
    live.ok("boot", "--virtual")
    for arg in ("talky.py", "talky"):
        info = live("modinfo", arg, cwd=tmp_path)
        if arg == "talky":     # not loaded yet: an alias kmod cannot find
            assert (info.status, info.err) == (1, "modinfo: ERROR: Module talky not found.\n")
            live.ok("insmod", "talky.py", cwd=tmp_path)
            info = live("modinfo", arg, cwd=tmp_path)
        assert (info.status, info.err) == (0, "")
        assert "the body ran" not in info.out and "author:         me\n" in info.out
    r = live("modinfo", "syn.py", cwd=tmp_path)
    assert (r.status, r.out, r.err) == (
        1, f"filename:       {tmp_path / 'syn.py'}\n",
        "modinfo: ERROR: could not get modinfo from 'syn': Exec format error\n")
    r = live("insmod", "bad name.py", cwd=tmp_path)
    assert r.status == 1 and r.err.count("\n") == 1
    assert r.err.startswith(f"{tmp_path / 'bad name.py'}: error: 'bad name' is not a valid module name")
    r = live("insmod", f"{'n' * 60}.py", cwd=tmp_path)
    assert r.status == 1 and r.err.count("\n") == 1 and "is 60 characters long" in r.err
    assert live.ok("lsmod") == LSMOD_HEADER + "talky                  16384  0\n"
    live.ok("halt")
