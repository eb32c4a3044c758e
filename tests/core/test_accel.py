"""The C accelerator of the hot path (``_fastpath``) against the Python reference.

The accelerator must be invisible: every run gives byte for byte the output of
the pure-Python kernel (``KERNSIM_PURE=1``), under every policy, including the
stack traces of tasks asleep in it.  And it must be there in an installed
kernsim, or the performance targets silently stop holding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SEED
from kernsim._core import _accel


def kernsim_run(*args: str, pure: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("KERNSIM_PURE", None)
    if pure:
        env["KERNSIM_PURE"] = "1"
    return subprocess.run([sys.executable, "-m", "kernsim", "run", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env=env)


def test_the_accelerator_is_built_and_installed() -> None:
    if os.environ.get("KERNSIM_PURE"):
        pytest.skip("KERNSIM_PURE is set: the Python reference runs")
    assert _accel.FASTPATH is not None, "kernsim._core._fastpath was not built (is a C compiler there?)"
    from kernsim import linux

    for name in ("wait_event", "wake_up", "msleep", "kthread_should_stop"):
        obj = getattr(linux, name)
        fn = getattr(obj, "func", obj)  # a partial binding the macro's arguments, or the function
        assert getattr(fn, "__self__", None) is _accel.FASTPATH, name


@pytest.mark.parametrize("module", ["wait_event", "wait_event_timeout", "prepare_to_wait",
                                    "prepare_to_wait_exclusive", "prepare_to_wait_event",
                                    "wait_woken"])
@pytest.mark.parametrize("policy", [["--policy", "fifo"], ["--policy", "random", "--seed", "7"]])
def test_seed_modules_print_the_same_with_and_without_it(module: str, policy: list[str]) -> None:
    args = [str(SEED / f"{module}.py"), "--for", "6", "--decisions", *policy]
    fast, pure = kernsim_run(*args, pure=False), kernsim_run(*args, pure=True)
    assert fast.returncode == pure.returncode == 0, fast.stderr + pure.stderr
    assert fast.stdout == pure.stdout
    assert fast.stderr == pure.stderr  # the same decisions, so the same replay string


HANGS = """\
from kernsim.linux import *

MODULE_LICENSE("GPL")
wq = DECLARE_WAIT_QUEUE_HEAD("wq")
threads = []

def napper(data):
    msleep(600000)          # D, in schedule_timeout() from msleep()
    return 0

def waiter(data):
    wait_event(wq, lambda: False)   # D, in schedule() from the wait_event loop
    return 0

def waker(data):
    while not kthread_should_stop():
        wake_up(wq)         # wakes the waiter, which sleeps again
        msleep(100)
    return 0

def init():
    for fn, name in ((napper, "napper"), (waiter, "waiter"), (waker, "waker")):
        threads.append(kthread_run(fn, None, name))
    return 0

def exit():
    kthread_stop(threads[2])
    kthread_stop(threads[0])

module_init(init)
module_exit(exit)
"""


def test_hung_task_traces_are_the_same_with_and_without_it(tmp_path: Path) -> None:
    path = tmp_path / "hangs.py"
    path.write_text(HANGS)
    args = [str(path), "--for", "30", "--hung-task-timeout", "10"]
    fast, pure = kernsim_run(*args, pure=False), kernsim_run(*args, pure=True)
    assert fast.stdout == pure.stdout
    assert fast.returncode == pure.returncode
    out = fast.stdout

    def trace(task: str) -> list[str]:
        """The first Call Trace of *task*, symbols only."""
        lines = out[out.index(f"task:{task} "):].splitlines()
        body = lines[lines.index(next(ln for ln in lines if ln.endswith("<TASK>"))) + 1:]
        syms = [ln.split("] ", 1)[1].strip() for ln in body]
        return syms[:syms.index("</TASK>")]

    assert trace("napper")[:5] == ["__schedule+0x34d/0xa00", "schedule+0x5a/0xd0",
                                   "schedule_timeout+0x11a/0x150", "msleep+0x2d/0x40",
                                   trace("napper")[4]]
    assert trace("napper")[4].startswith("napper+") and trace("napper")[4].endswith("[hangs]")
    assert [s.split("+")[0] for s in trace("waiter")][:4] == ["__schedule", "schedule", "waiter",
                                                              "kthread"]

def test_the_core_tests_pass_on_the_python_reference() -> None:
    """The whole core suite once more with the accelerator off (the reference
    must stay correct: it runs wherever the C part could not be built)."""
    if os.environ.get("KERNSIM_PURE"):
        pytest.skip("this run is the pure one already")
    env = dict(os.environ, KERNSIM_PURE="1")
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        "tests/core", "tests/test_seed.py"],
                       capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]


CPU_TIME = """\
from kernsim.image import open_image
from kernsim.session import Session, SessionOptions
from kernsim import procfs

s = Session(open_image(%r), SessionOptions())
k = s.kernel
task = k.spawn_process("insmod", lambda: k.sys_init_module(s.image, ""))
k.run(k.now + 10 * 10**9)
for t in procfs.task_stats(k):
    print(t.name, t.cpu_ns)
"""

BUSY = """\
from kernsim.linux import *
MODULE_LICENSE("GPL")
t = None
def busy(data):
    while not kthread_should_stop():
        mdelay(300)         # on the CPU
        msleep(700)         # off it
    return 0
def sleepy(data):
    while not kthread_should_stop():
        msleep(100)
    return 0
def init():
    kthread_run(busy, None, "busy")
    kthread_run(sleepy, None, "sleepy")
    return 0
module_init(init)
"""


def test_cpu_time_is_the_time_on_the_cpu_with_and_without_it(tmp_path: Path) -> None:
    """ps's TIME and %CPU, sampled at ticks (kernel/sched/cputime.c,
    account_process_tick): a thread that busy-waits 30 % of the time is
    charged 30 % of the ticks; one woken by a timer at a tick, which blocks
    again before the next, none -- the tick found the CPU idle.  The
    accelerated switch accounts it as the Python one does."""
    (tmp_path / "busy.py").write_text(BUSY)
    script = CPU_TIME % str(tmp_path / "busy.py")
    outs = []
    for pure in (False, True):
        env = {k: v for k, v in os.environ.items() if k != "KERNSIM_PURE"}
        if pure:
            env["KERNSIM_PURE"] = "1"
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, cwd=REPO, env=env)
        assert r.returncode == 0, r.stderr
        outs.append(dict(line.rsplit(" ", 1) for line in r.stdout.splitlines()))
    assert outs[0] == outs[1]
    cpu = {name: int(ns) for name, ns in outs[0].items()}
    tick = 4_000_000  # TICK_NSEC at HZ=250
    assert cpu["busy"] % tick == 0 and 2.9e9 <= cpu["busy"] <= 3.1e9  # 10 rounds of 300 ms
    assert cpu["sleepy"] == 0
    assert cpu["init"] == 0
