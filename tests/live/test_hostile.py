"""What a live kernel does with hostile modules and hostile users: Python's own
control-flow exceptions raised by module code, signals to the kernel's
process, racing boots, a kill -9, a client that leaves a blocked command."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from live_kernel import Live, reap, live  # noqa: F401 (live: the fixture)
from kernsim.live.client import pid_alive
from kernsim.live.paths import KernelPaths
from kernsim.live.server import BootOptions, KernelServer

RAISER = """from kernsim.linux import *
MODULE_LICENSE("GPL")
def init():
    pr_info("{name} init\\n")
    {init_body}
    return 0
def exit():
    {exit_body}
module_init(init)
module_exit(exit)
"""


def _module(tmp_path: Path, name: str, init_body: str = "pass", exit_body: str = "pass") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(RAISER.format(name=name, init_body=init_body, exit_body=exit_body))
    return path


@pytest.mark.parametrize("exc", ["KeyboardInterrupt", "SystemExit(3)", "__import__('greenlet').GreenletExit"])
def test_python_control_flow_exceptions_in_module_code_are_oopses(live: Live, tmp_path: Path,
                                                                 exc: str) -> None:
    """Module code raising what Python uses for Ctrl-C, exit() or a greenlet's
    end: an oops of that module (its insmod dies, as by die()'s SIGSEGV), the
    kernel goes on."""
    _module(tmp_path, "raiser", init_body=f"raise {exc}")
    live.ok("boot", "--virtual")
    r = live("insmod", "raiser.py", cwd=tmp_path)
    assert (r.status, r.err) == (139, "Segmentation fault\n")
    log = live.ok("dmesg")
    assert "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI" in log
    assert "raiser.py:5!" in log
    assert "%-19s %8d  1" % ("raiser", 16384) in live.ok("lsmod")  # stuck "Loading", as after any oops
    live.ok("halt")


def test_rmmod_killed_by_its_modules_oops_exits_as_the_shell_shows_it(live: Live, tmp_path: Path) -> None:
    """An oops in the exit function kills rmmod with SIGSEGV: the shell says
    'Segmentation fault' and $? is 139, and the other names are not tried."""
    _module(tmp_path, "badexit", exit_body="raise RuntimeError('boom')")
    _module(tmp_path, "other")
    live.ok("boot", "--virtual")
    live.ok("insmod", "other.py", cwd=tmp_path)
    live.ok("insmod", "badexit.py", cwd=tmp_path)
    r = live("rmmod", "badexit", "other")
    assert (r.status, r.err) == (139, "Segmentation fault\n")
    assert live.ok("lsmod").splitlines()[1:] == ["%-19s %8d  -1" % ("badexit", 16384),
                                                  "%-19s %8d  0" % ("other", 16384)]
    live.ok("halt")


def test_a_module_cannot_end_or_rewire_the_kernels_process(live: Live, tmp_path: Path) -> None:
    """os._exit() in a kthread and signal.signal() in a module's body are that
    module's faults; the kernel keeps running and its SIGTERM still halts it."""
    (tmp_path / "sigmod.py").write_text(
        "from kernsim.linux import *\nimport signal\nMODULE_LICENSE('GPL')\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nmodule_init(lambda: 0)\n")
    (tmp_path / "exiter.py").write_text(
        "from kernsim.linux import *\nimport os\nMODULE_LICENSE('GPL')\n"
        "def thr(data):\n    msleep(100)\n    os._exit(0)\n"
        "module_init(lambda: (kthread_run(thr, None, 'exiter'), 0)[1])\n")
    live.ok("boot", "--virtual")
    r = live("insmod", "sigmod.py", cwd=tmp_path)
    assert r.status == 1 and "Invalid module format" in r.err
    live.ok("insmod", "exiter.py", cwd=tmp_path)
    live.ok("sleep", "1")
    log = live.ok("dmesg")
    assert "os._exit() called from module code" in log and "exiter.py:6!" in log
    assert "exiter" in live.ok("lsmod")
    pid = live.kernel_pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    reap(pid)
    assert not pid_alive(pid)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_halt_a_detached_kernel_cleanly(live: Live, tmp_path: Path, sig: int) -> None:
    _module(tmp_path, "plain", exit_body="pr_info('plain exit\\n')")
    live.ok("boot", "--virtual")
    live.ok("insmod", "plain.py", cwd=tmp_path)
    pid = live.kernel_pid()
    assert pid is not None
    os.kill(pid, sig)
    reap(pid)
    assert not pid_alive(pid)
    # A clean halt: no crash log left for the next boot to report.
    assert sorted(p.name for p in (live.root / "kernsim").iterdir()) == ["default.lock", "default.out"]
    assert "died without halting" not in live.ok("boot", "--virtual")
    live.ok("halt")


def test_a_kernel_that_stops_without_halting_keeps_its_log_for_pstore(tmp_path: Path) -> None:
    """Whatever ends the serving other than a halt (a bug of kernsim's) must
    leave the log behind: it is all the user has of the kernel's last words."""
    root = tmp_path / "rt"
    root.mkdir(mode=0o700)
    paths = KernelPaths.of("crashy", root)
    server = KernelServer(paths, BootOptions(virtual=True))
    server.close()  # no halt came first
    assert "] Linux version " in paths.log.read_text()


def test_racing_boots_start_one_kernel(live: Live) -> None:
    procs = [live.process("boot", "--virtual") for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    booted = [o for o, _ in outs if "booted (pid" in o]
    running = [o for o, _ in outs if "is already running (pid" in o]
    assert len(booted) == 1 and len(running) == 3, outs
    pid = live.kernel_pid()
    assert all(f"(pid {pid}," in o for o in booted + running)
    assert not any("died without halting" in o for o, _ in outs)
    live.ok("halt")
    reap(pid)
    assert not pid_alive(pid)


def test_boot_after_kill_9_of_a_kernel_that_is_still_a_zombie(live: Live) -> None:
    """The killed kernel's process is a zombie until its parent collects it;
    it holds nothing, so the next boot goes on (and reports it as dead)."""
    proc = live.process("boot", "--virtual", "--foreground")  # our child: a zombie until waited for
    deadline = time.monotonic() + 30
    while live.kernel_pid() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = live.kernel_pid()
    assert pid == proc.pid
    proc.kill()
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)  # a zombie is not alive
    assert proc.returncode is None  # not collected: still a zombie
    out = live.ok("boot", "--virtual")
    assert "booted (pid" in out
    assert f"the previous kernel 'default' (pid {pid}) died without halting" in out
    proc.wait()
    proc.communicate()
    live.ok("halt")


def test_a_virtual_kernel_stops_running_a_blocked_command_when_its_client_goes(live: Live,
                                                                               tmp_path: Path) -> None:
    """A huge hung-task timeout would keep a virtual kernel simulating a
    blocked rmmod for a very long time: Ctrl-C on the client stops it, and the
    kernel answers at once."""
    live.ok("boot", "--virtual", "--hung-task-timeout", "100000000")
    live.ok("insmod", str(Path(__file__).parents[2] / "examples" / "seed" / "wait_event.py"))
    proc = live.process("rmmod", "wait_event")
    time.sleep(1.0)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    start = time.monotonic()
    out = live.ok("ps", "-e", "-o", "stat,comm")
    assert time.monotonic() - start < 5
    assert "D    rmmod" in out
    # SIGTERM ends the kernel even while it runs a command.
    _module(tmp_path, "sleepy", exit_body="msleep(1000000000)")
    live.ok("insmod", "sleepy.py", cwd=tmp_path)
    proc = live.process("rmmod", "sleepy")
    time.sleep(0.5)
    pid = live.kernel_pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert "kernsim: the kernel halted while rmmod" in err
    reap(pid)
    assert not pid_alive(pid)


def test_a_hung_task_timeout_beyond_the_kernels_maximum_is_a_usage_error(live: Live) -> None:
    r = live("boot", "--virtual", "--hung-task-timeout", str(2**63))
    assert r.status == 2
    assert r.err == ("kernsim: error: argument --hung-task-timeout: at most 36893488147419103 seconds at "
                     "HZ=250 (the kernel's hung_task_timeout_max), not 9223372036854775808 "
                     "(see 'kernsim boot --help')\n")


def test_a_thread_started_by_module_code_does_not_keep_a_halted_kernel_alive(live: Live,
                                                                              tmp_path: Path) -> None:
    _module(tmp_path, "threader",
            init_body="import threading, time; threading.Thread(target=time.sleep, args=(3600,)).start()")
    live.ok("boot", "--virtual")
    pid = live.kernel_pid()
    live.ok("insmod", "threader.py", cwd=tmp_path)
    live.ok("halt")
    assert pid is not None and not pid_alive(pid)


def test_the_watchdogs_stop_is_told_to_the_command_that_ran_the_module_code(live: Live,
                                                                            tmp_path: Path) -> None:
    _module(tmp_path, "spinner", init_body="while True: pass")
    live.ok("boot", "--virtual")
    r = live("insmod", "spinner.py", cwd=tmp_path)
    assert r.status == 137
    note, killed = r.err.splitlines()
    assert re.fullmatch(r"kernsim: insmod \(pid \d+\) ran module code for 2 s of wall time without "
                        r"calling the kernel: kernsim stopped it \(a real kernel would leave it "
                        r"spinning\)", note), note
    assert killed == "Killed"
    assert "watchdog: BUG: soft lockup - CPU#0 stuck for " in live.ok("dmesg")
    live.ok("halt")
