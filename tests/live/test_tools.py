"""The tools' options that act on the live kernel: dmesg -w / -c / -C, rmmod -f,
ps from another terminal, halt with a command still waiting; and a short soak."""

from __future__ import annotations

import os
import time
from pathlib import Path

from live_kernel import SEED, Live, live  # noqa: F401 (live: the fixture)
from kernsim.live.client import query, read_pidfile, request

NO_EXIT = ("from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
           "def init():\n    return 0\nmodule_init(init)\n")


def test_dmesg_follow_prints_new_records_as_they_come(live: Live) -> None:
    live.ok("boot", "--virtual")
    follower = live.process("dmesg", "-w")
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert first.startswith("[    0.000000] Linux version ")
        live.ok("insmod", str(SEED / "wait_event.py"))
        live.ok("sleep", "1.1")
        seen = []
        while not any("wake thread execution i value =  1" in ln for ln in seen):
            seen.append(follower.stdout.readline())
        texts = [ln.split("] ", 1)[1].rstrip("\n") for ln in seen]
        wanted = ["inside kthread init function", "successfully created wait thread",
                  "wake thread execution i value =  1"]
        assert [t for t in texts if t in wanted] == wanted
        assert follower.poll() is None  # it goes on following
    finally:
        follower.terminate()
        follower.wait(10)
    # A follower that went away costs the kernel nothing.
    live.ok("sleep", "4")
    live.ok("rmmod", "wait_event")
    live.ok("halt")


def test_dmesg_read_clear_and_clear(live: Live) -> None:
    live.ok("boot", "--virtual")
    everything = live.ok("dmesg", "-c")
    assert everything.startswith("[    0.000000] Linux version ")
    assert live.ok("dmesg") == ""
    live.ok("insmod", str(SEED / "wait_event.py"))
    assert "inside kthread init function" in live.ok("dmesg")
    assert live.ok("dmesg", "-C") == ""
    assert live.ok("dmesg") == ""
    live.ok("sleep", "1.1")
    assert live.ok("dmesg", "-t") == "wake thread execution i value =  1\n"
    r = live("dmesg", "-l", "loud")
    assert (r.status, r.err) == (1, "dmesg: unknown level 'loud'\n")
    live.ok("sleep", "4")
    live.ok("rmmod", "wait_event")
    live.ok("halt")


def test_dmesg_color_always_colours_the_live_log_and_a_pipe_gets_none(live: Live) -> None:
    """util-linux dmesg: --color=always colours even into a pipe; the default
    (auto) does not, as the tools' output here is a pipe."""
    live.ok("boot", "--virtual")
    assert live.ok("dmesg", "--color=always").startswith(
        "\033[32m[    0.000000] \033[0mLinux version ")
    assert "\033[" not in live.ok("dmesg")
    live.ok("halt")


def test_rmmod_force_removes_a_module_without_exit(live: Live, tmp_path: Path) -> None:
    """delete_module() with O_TRUNC (kmod's rmmod -f) and CONFIG_MODULE_FORCE_UNLOAD=y
    (Debian 6.1's config): try_force_unload() in kernel/module/main.c lets a module
    with init and no exit go, with add_taint(TAINT_FORCED_RMMOD, LOCKDEP_NOW_UNRELIABLE)
    -- the first such taint prints "Disabling lock debugging due to kernel taint".
    Without -f it is -EBUSY (spec §7.3)."""
    (tmp_path / "noexit.py").write_text(NO_EXIT)
    live.ok("boot", "--virtual")
    live.ok("insmod", "noexit.py", cwd=tmp_path)
    r = live("rmmod", "noexit")
    assert r.status == 1
    assert r.err.endswith("rmmod: ERROR: could not remove module noexit: Device or resource busy\n")
    assert "noexit " in live.ok("lsmod")
    assert live.ok("rmmod", "-f", "noexit") == ""
    assert "noexit" not in live.ok("lsmod")
    assert live.ok("dmesg").endswith("] Disabling lock debugging due to kernel taint\n")
    live.ok("halt")


def test_halt_tells_a_waiting_command_the_kernel_is_gone(live: Live) -> None:
    live.ok("boot")
    live.ok("insmod", str(SEED / "wait_event.py"))
    blocked = live.process("rmmod", "wait_event")  # the early rmmod: blocks for ever
    deadline = time.monotonic() + 10
    while "-1" not in live.ok("lsmod") and time.monotonic() < deadline:
        time.sleep(0.05)
    r = live("halt")
    assert r.status == 0
    assert r.err == "kernsim: halt: module wait_event is unloading: halting with it\n"
    _, err = blocked.communicate(timeout=10)
    assert blocked.returncode == 1
    assert err.startswith("kernsim: the kernel halted while rmmod (pid ")
    assert err.endswith(") was blocked in state D\n")


def test_insmod_and_rmmod_cycles_leave_no_threads_or_tasks_behind(live: Live) -> None:
    """A short soak (bench/live.py runs 1,000 cycles and watches memory)."""
    live.ok("boot", "--virtual")
    info = read_pidfile(live.paths)
    assert info is not None
    quiet = lambda m: None  # noqa: E731
    path = str(SEED / "wait_event_timeout.py")

    def os_threads() -> int:
        return len(os.listdir(f"/proc/{info['pid']}/task"))

    for i in range(40):
        assert request(live.paths, "insmod", {"path": path, "shown": path, "params": ""},
                       on_reply=quiet) == 0
        assert request(live.paths, "sleep", {"seconds": 1.5}, on_reply=quiet) == 0
        assert request(live.paths, "rmmod", {"name": "wait_event_timeout", "force": False},
                       on_reply=quiet) == 0
        if i == 4:
            threads = os_threads()
    assert len(query(live.paths, "tasks")["tasks"]) == 3  # init, kthreadd, khungtaskd
    deadline = time.monotonic() + 5  # the last clients' threads are ending
    while os_threads() > threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os_threads() <= threads
    assert query(live.paths, "modules") == []
    live.ok("halt")


def test_halt_names_a_module_without_an_exit_function_in_one_line(live: Live, tmp_path: Path) -> None:
    """delete_module() refuses such a module (-EBUSY); halt says so once, in its
    own words, instead of rmmod's two error lines, and halts with it loaded.
    --name may follow the command too."""
    (tmp_path / "noexit.py").write_text(
        "from kernsim.linux import *\nMODULE_LICENSE('GPL')\nmodule_init(lambda: 0)\n")
    live.ok("boot", "--virtual", "--name", "other")
    live.ok("--name", "other", "insmod", "noexit.py", cwd=tmp_path)
    r = live("halt", "--name", "other")
    assert (r.status, r.err) == (0, "kernsim: halt: module noexit has no exit function (rmmod "
                                    "cannot remove it): halting with it\n")
