"""Python modules as a real 6.7 kernel and kmod 30 treat them: failed loads,
unremovable modules, taints, odd init return values, oopses, realtime runs.

The expected texts are the kernel's and kmod's own format strings
(kernel/module/main.c, kernel/panic.c, lib/bug.c, arch/x86/kernel/dumpstack.c,
arch/x86/mm/fault.c; kmod tools/insmod.c, tools/rmmod.c, tools/log.c,
libkmod/libkmod-module.c).  Where kernsim differs from them, the test states
the real behaviour and is marked xfail(strict=True).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import Run, in_kernel, run_file
from kernsim._core._module import MODULE_STATE_LIVE
from kernsim.cli import main
from kernsim.image import open_image
from kernsim.linux import (
    DECLARE_WAIT_QUEUE_HEAD,
    DECLARE_WAIT_QUEUE_HEAD_ONSTACK,
    jiffies,
    kthread_run,
    msleep,
    wait_event,
    wake_up,
)
from kernsim.session import Session, SessionOptions

HEADER = "from kernsim.linux import *\n"
TAINTED_OE = "Tainted: G           OE      "   # print_tainted(): G, 11 blanks, O, E, 5 blanks
KERN_WARNING, KERN_NOTICE = 4, 5                # pr_warn, pr_notice


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(source))
    return path


def session(path: Path, **options: Any) -> tuple[Session, Run]:
    """Run a whole session and keep its kernel, to look at what is still loaded."""
    stderr: list[str] = []
    s = Session(open_image(str(path)), SessionOptions(**options), stderr=stderr.append,
                argument=str(path))
    try:
        result = s.run()
    finally:
        s.close()
    return s, Run(result, stderr)


def oops_block(run: Run, first: str) -> list[str]:
    """The texts of the report that starts with the record *first*, to its end marker."""
    texts = run.texts
    start = texts.index(first)
    return texts[start:texts.index("---[ end trace 0000000000000000 ]---", start) + 1]


def frame(fn: str, mod: str) -> str:
    """A call-trace line of a module function: `` fn+0x../0x.. [mod]``."""
    return rf" {fn}\+0x[0-9a-f]+/0x[0-9a-f]+ \[{mod}\]"


# -- 1. init returns -ENOMEM -------------------------------------------------------

ENOMEM_SRC = """
MODULE_LICENSE("GPL")
def my_init():
    return -ENOMEM
def my_exit():
    pr_info("exit\\n")
module_init(my_init)
module_exit(my_exit)
"""


def test_init_returning_enomem_fails_insmod_on_stderr(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "nomem", ENOMEM_SRC)
    assert main(["run", str(path), "--for", "1"]) == 1
    out, err = capsys.readouterr()
    assert err == f"insmod: ERROR: could not insert module {path}: Cannot allocate memory\n"
    assert "insmod: ERROR" not in out  # the dmesg goes to stdout, the tool's line to stderr


def test_init_returning_enomem_leaves_nothing_loaded(tmp_path: Path) -> None:
    s, run = session(write(tmp_path, "nomem", ENOMEM_SRC), seconds=1)
    assert s.kernel.modules == {}
    assert run.stderr == [f"insmod: ERROR: could not insert module {tmp_path / 'nomem.py'}: "
                          f"Cannot allocate memory"]  # and no rmmod is attempted
    assert "exit" not in run.texts
    assert run.result.exit_code != 0 and run.result.outcome == "load-failed"


# -- 2. a module without module_exit -------------------------------------------------

NO_EXIT_SRC = """
MODULE_LICENSE("GPL")
def my_init():
    return 0
module_init(my_init)
"""


def test_rmmod_of_a_module_without_exit_fails_with_ebusy_and_it_stays_loaded(tmp_path: Path) -> None:
    s, run = session(write(tmp_path, "noexit", NO_EXIT_SRC), seconds=1)
    assert len(run.stderr) == 2
    first, second = run.stderr
    # libkmod's logger (tools/log.c) and then rmmod's own line
    assert re.fullmatch(r"rmmod: ERROR: \.\./libkmod/libkmod-module\.c:\d+ kmod_module_remove_module\(\) "
                        r"could not remove 'noexit': Device or resource busy", first)
    assert second == "rmmod: ERROR: could not remove module noexit: Device or resource busy"
    assert s.kernel.modules["noexit"].state == MODULE_STATE_LIVE
    assert run.result.exit_code == 1 and run.result.outcome == "rmmod-failed"


def test_rmmod_error_names_kmod_30s_libkmod_line(run_source: Callable[..., Run]) -> None:
    run = run_source(NO_EXIT_SRC, name="noexit", seconds=1)
    assert run.stderr[0] == ("rmmod: ERROR: ../libkmod/libkmod-module.c:856 "
                             "kmod_module_remove_module() could not remove 'noexit': "
                             "Device or resource busy")


# -- 3. taints on load ---------------------------------------------------------------

def test_out_of_tree_unsigned_module_taint_lines_in_6_7_order(run_source: Callable[..., Run]) -> None:
    run = run_source('MODULE_LICENSE("GPL")\nmodule_init(lambda: 0)\nmodule_exit(lambda: None)\n',
                     name="oot", seconds=1)
    recs = [r for r in run.result.records if r.text.startswith("oot: ") or "taint" in r.text]
    assert [(r.level, r.text) for r in recs] == [
        (KERN_WARNING, "oot: loading out-of-tree module taints kernel."),
        (KERN_NOTICE, "oot: module verification failed: signature and/or required key missing "
                      "- tainting kernel"),
    ]


def test_module_without_license_taints_proprietary(run_source: Callable[..., Run]) -> None:
    run = run_source("module_init(lambda: 0)\nmodule_exit(lambda: None)\n", name="nolic", seconds=1)
    recs = [r for r in run.result.records if r.text.startswith("nolic: ") or "taint" in r.text]
    assert [(r.level, r.text) for r in recs] == [
        (KERN_WARNING, "nolic: loading out-of-tree module taints kernel."),
        (KERN_WARNING, "nolic: module license 'unspecified' taints kernel."),
        (KERN_WARNING, "Disabling lock debugging due to kernel taint"),
        (KERN_NOTICE, "nolic: module verification failed: signature and/or required key missing "
                      "- tainting kernel"),
    ]
    assert run.result.exit_code == 0


# -- 4. init returns a positive value ----------------------------------------------

def test_positive_init_return_is_suspicious_but_loads(run_source: Callable[..., Run]) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        def my_init():
            return 5
        def my_exit():
            pr_info("bye\\n")
        module_init(my_init)
        module_exit(my_exit)
    """, name="five", seconds=1)
    warning = ("do_init_module: 'five'->init suspiciously returned 5, it should follow 0/-E "
               "convention\ndo_init_module: loading module anyway...")
    rec = next(r for r in run.result.records if r.text == warning)   # one record, two lines
    assert rec.level == KERN_WARNING
    after = run.after(warning)                                       # dump_stack()
    assert re.fullmatch(r"CPU: 0 PID: \d+ Comm: insmod " + TAINTED_OE + r"\S+ #1", after[0])
    assert after[1].startswith("Hardware name: ")
    assert after[2:4] == ["Call Trace:", " <TASK>"]
    assert "bye" in run.texts and run.stderr == [] and run.result.exit_code == 0


# -- 5. exceptions: in init, in exit, in a kthread -----------------------------------

RAISES = """
MODULE_LICENSE("GPL")
t = None
def ticker(data):
    while not kthread_should_stop():
        pr_info("tick\\n")
        msleep(1000)
    return 0
def bad(data):
    msleep(1500)
    {thread_body}
def my_init():
    global t
    t = kthread_run(ticker, None, "ticker")
    {init_body}
    return 0
def my_exit():
    kthread_stop(t)
    {exit_body}
module_init(my_init)
module_exit(my_exit)
"""
BOOM = 'raise RuntimeError("boom")'


def raising(where: str) -> str:
    bodies = {"thread_body": "return 0", "init_body": "pass", "exit_body": "pass"}
    bodies[f"{where}_body"] = BOOM
    src = RAISES.format(**bodies)
    if where == "thread":
        src = src.replace('t = kthread_run(ticker, None, "ticker")',
                          't = kthread_run(ticker, None, "ticker")\n    kthread_run(bad, None, "bad")')
    return src


@pytest.mark.parametrize("where, fn, comm", [
    ("init", "my_init", "insmod"),
    ("exit", "my_exit", "rmmod"),
    ("thread", "bad", "bad"),
])
def test_an_exception_is_an_invalid_opcode_oops(run_source: Callable[..., Run], tmp_path: Path,
                                                where: str, fn: str, comm: str) -> None:
    run = run_source(raising(where), name=f"raise_{where}", seconds=3)
    report = oops_block(run, "------------[ cut here ]------------")
    line = next(i for i, ln in enumerate((HEADER + raising(where)).splitlines(), 1) if BOOM in ln)
    assert f"kernel BUG at {tmp_path / f'raise_{where}.py'}:{line}!" in report
    header = report.index("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI")
    assert re.fullmatch(rf"CPU: 0 PID: \d+ Comm: {comm} " + TAINTED_OE + r"\S+ #1", report[header + 1])
    assert report[header + 2].startswith("Hardware name: ")
    assert re.fullmatch(rf"RIP: 0010:{fn}\+0x[0-9a-f]+/0x[0-9a-f]+ \[raise_{where}\]",
                        report[header + 3])
    trace = report.index("Call Trace:")
    assert report[trace + 1] == " <TASK>"
    assert re.fullmatch(frame(fn, f"raise_{where}"), report[trace + 2])
    state = {"init": "+", "exit": "-", "thread": ""}[where]
    assert f"Modules linked in: raise_{where}(OE{state})" in report
    assert run.result.faults == 1 and run.result.exit_code == 1


def test_an_oops_in_init_kills_insmod_and_the_module_stays_loading(run_source: Callable[..., Run]) -> None:
    run = run_source(raising("init"), name="raise_init", seconds=3)
    # do_trap -> die() -> make_task_dead(SIGSEGV): the shell reports the signal
    assert run.stderr == ["Segmentation fault", "rmmod: ERROR: Module raise_init is in use"]
    assert run.texts.count("tick") == 3  # its other thread runs on: at 1, 2.016 and 3.040 s


def test_an_oops_in_exit_kills_rmmod(run_source: Callable[..., Run]) -> None:
    run = run_source(raising("exit"), name="raise_exit", seconds=3)
    assert run.stderr[0] == "Segmentation fault"


def test_a_kthread_oops_leaves_the_kernel_and_the_other_threads_running(
        run_source: Callable[..., Run]) -> None:
    run = run_source(raising("thread"), name="raise_thread", seconds=3)
    oops_at = run.time_of("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI")
    ticks = [r.ts / 1e9 for r in run.result.records if r.text == "tick"]
    assert any(t > oops_at for t in ticks)
    assert not any(ln in ("Segmentation fault", "Killed") for ln in run.stderr)  # no tool died
    assert run.result.outcome == "ok"  # rmmod's kthread_stop of the ticker worked


# -- 6. None where an object is needed -----------------------------------------------

NULL_SRC = """
MODULE_LICENSE("GPL")
obj = None
def bad(data):
    msleep(100)
    {stmt}
    return 0
def my_init():
    kthread_run(bad, None, "bad")
    return 0
def my_exit():
    pass
module_init(my_init)
module_exit(my_exit)
"""


@pytest.mark.parametrize("stmt, access, code", [
    ("x = obj.count", "read access", 0x0000),
    ("obj.count = 1", "write access", 0x0002),  # a store through NULL: X86_PF_WRITE
    ("obj()", "instruction fetch", 0x0010),     # a call through a NULL pointer: X86_PF_INSTR
], ids=["read", "write", "call"])
def test_none_is_a_null_pointer_dereference(run_source: Callable[..., Run], stmt: str, access: str,
                                            code: int) -> None:
    run = run_source(NULL_SRC.format(stmt=stmt), name="nullmod", seconds=1)
    report = oops_block(run, "BUG: kernel NULL pointer dereference, address: 0000000000000000")
    assert report[1:5] == [
        f"#PF: supervisor {access} in kernel mode",
        f"#PF: error_code(0x{code:04x}) - not-present page",
        "PGD 0 P4D 0 ",
        f"Oops: {code:04x} [#1] PREEMPT SMP NOPTI",
    ]
    assert re.fullmatch(r"CPU: 0 PID: \d+ Comm: bad " + TAINTED_OE + r"\S+ #1", report[5])
    assert any(re.fullmatch(frame("bad", "nullmod"), ln) for ln in report)
    assert report[-3:] == ["Modules linked in: nullmod(OE)", "CR2: 0000000000000000",
                           "---[ end trace 0000000000000000 ]---"]


def test_a_null_dereference_in_init_kills_insmod_with_sigkill(run_source: Callable[..., Run]) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        obj = None
        def my_init():
            obj.count += 1
            return 0
        module_init(my_init)
        module_exit(lambda: None)
    """, name="nullinit", seconds=1)
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in run.texts
    assert run.stderr[0] == "Killed"


# -- 7. --realtime -------------------------------------------------------------------

SLEEPER_SRC = """
MODULE_LICENSE("GPL")
def fn(data):
    for n in range(3):
        msleep(100)
        pr_info("slept %d\\n", n)
    return 0
def my_init():
    kthread_run(fn, None, "sleeper")
    return 0
def my_exit():
    pr_info("exit\\n")
module_init(my_init)
module_exit(my_exit)
"""


def test_realtime_takes_the_simulated_time_and_prints_the_same_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "sleeper", SLEEPER_SRC)
    virtual = run_file(path, seconds=0.5)
    start = time.monotonic()
    real = run_file(path, seconds=0.5, realtime=True)
    wall = time.monotonic() - start
    assert 0.25 <= wall <= 3.0
    assert wall >= 0.9 * real.result.uptime  # it never runs ahead of the wall clock
    assert [t for i, t in enumerate(real.texts) if i != 1] == \
        [t for i, t in enumerate(virtual.texts) if i != 1]  # line 1 names the clock
    assert "slept 2" in real.texts and real.result.exit_code == 0


# -- 8. DECLARE_WAIT_QUEUE_HEAD_ONSTACK ----------------------------------------------

@pytest.mark.parametrize("declare", [DECLARE_WAIT_QUEUE_HEAD, DECLARE_WAIT_QUEUE_HEAD_ONSTACK],
                         ids=["static", "onstack"])
def test_onstack_wait_queue_head_works_with_wait_event(declare: Callable[[str], Any]) -> None:
    def fn() -> tuple[int, bool]:
        wq = declare("wq")
        done: list[bool] = []

        def waker(data: Any) -> int:
            msleep(100)
            done.append(True)
            wake_up(wq)
            return 0

        start = int(jiffies)
        kthread_run(waker, None, "waker")
        wait_event(wq, lambda: bool(done))
        return int(jiffies) - start, bool(done)

    (elapsed, woke), _ = in_kernel(fn, seconds=5)
    assert woke
    assert 25 <= elapsed <= 40  # msleep(100) at HZ=250: 26 jiffies, plus the wheel's granule


def test_a_division_by_zero_is_x86s_divide_error(run_source: Callable[..., Run]) -> None:
    """#DE: die("divide error"): no "cut here", no "kernel BUG at" line."""
    run = run_source("""
        MODULE_LICENSE("GPL")
        def fn(data):
            n = 0
            return 10 // n
        def my_init():
            kthread_run(fn, None, "divider")
            return 0
        module_init(my_init)
        module_exit(lambda: None)
    """, name="divmod", seconds=1)
    report = oops_block(run, "divide error: 0000 [#1] PREEMPT SMP NOPTI")
    assert re.fullmatch(r"CPU: 0 PID: \d+ Comm: divider " + TAINTED_OE + r"\S+ #1", report[1])
    assert not any("cut here" in t or "kernel BUG at" in t for t in run.texts)
    assert any(re.fullmatch(frame("fn", "divmod"), ln) for ln in report)


def test_a_non_gpl_python_module_cannot_use_gpl_only_exports(run_source: Callable[..., Run]) -> None:
    run = run_source("""
        MODULE_LICENSE("Proprietary")
        def fn(d):
            kthread_parkme()
            return 0
        module_init(lambda: 0)
        module_exit(lambda: None)
    """, name="parkp", seconds=1)
    assert "parkp: Unknown symbol kthread_parkme (err -2)" in run.texts
    assert run.stderr[0].endswith("Unknown symbol in module")
    gpl = run_source("""
        MODULE_LICENSE("Dual MIT/GPL")
        def fn(d):
            kthread_parkme()
            return 0
        module_init(lambda: 0)
        module_exit(lambda: None)
    """, name="parkg", seconds=1)
    assert gpl.result.exit_code == 0


def test_a_warning_or_a_hung_task_makes_the_exit_status_1(run_source: Callable[..., Run]) -> None:
    warned = run_source("""
        MODULE_LICENSE("GPL")
        def init():
            WARN_ON(1)
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, name="warner", seconds=1)
    assert warned.result.outcome == "ok" and warned.result.exit_code == 1
    abba = run_source("""
        MODULE_LICENSE("GPL")
        a = DEFINE_MUTEX("a")
        b = DEFINE_MUTEX("b")
        def one(d):
            mutex_lock(a); msleep(10); mutex_lock(b)
            return 0
        def two(d):
            mutex_lock(b); msleep(10); mutex_lock(a)
            return 0
        def init():
            kthread_run(one, None, "one")
            kthread_run(two, None, "two")
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, name="abba", seconds=30, hung_task_timeout=10)
    assert any(t.startswith("INFO: task one:") for t in abba.texts)
    assert abba.result.exit_code == 1


# -- a module body that never ends, or exits -----------------------------------------


def test_a_module_body_that_never_returns_is_a_soft_lockup_of_insmod(tmp_path: Path) -> None:
    """The watchdog stops a body stuck in a loop as it stops any module code:
    a soft lockup report, insmod killed, nothing loaded -- never kernsim's
    own exception name as a 'load error'."""
    path = write(tmp_path, "bodyloop", 'MODULE_LICENSE("GPL")\nwhile True:\n    pass\n')
    s, run = session(path, stuck_wall_seconds=0.5)
    assert any(t.startswith("watchdog: BUG: soft lockup - CPU#0 stuck for ") and "[insmod:" in t
               for t in run.texts)
    assert run.stderr[-1] == "Killed"
    assert not any("StuckInModuleCode" in line for line in run.stderr + run.texts)
    assert "bodyloop" not in s.kernel.modules


def test_a_module_body_raising_systemexit_is_a_load_error(tmp_path: Path) -> None:
    path = write(tmp_path, "bodyexit", 'MODULE_LICENSE("GPL")\nraise SystemExit(2)\n')
    _, run = session(path)
    assert run.stderr == [f"{path}:3: error while loading: SystemExit: 2",
                          f"insmod: ERROR: could not insert module {path}: Invalid module format"]


@pytest.mark.parametrize("where", ["init", "thread"])
def test_a_keyboardinterrupt_raised_by_module_code_is_an_oops_in_kernsim_run(tmp_path: Path,
                                                                              where: str) -> None:
    """`raise KeyboardInterrupt` in module code is that module's fault (an oops),
    not the user's Ctrl-C: kernsim run goes on to rmmod and says so."""
    body = {"init": "raise KeyboardInterrupt",
            "thread": "kthread_run(lambda data: (msleep(100), exec('raise KeyboardInterrupt')), None, 'kbi')"}
    path = write(tmp_path, "kbint", f"""\
        MODULE_LICENSE("GPL")
        def init():
            {body[where]}
            return 0
        module_init(init)
        module_exit(lambda: pr_info("kbint exit\\n"))
        """)
    p = subprocess.run([sys.executable, "-m", "kernsim", "run", str(path), "--for", "1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode not in (0, 130), (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert "] KeyboardInterrupt\n" in p.stdout
    assert re.search(r"kernel BUG at .*kbint\.py:\d+!", p.stdout), p.stdout


def test_ctrl_c_during_a_python_module_run_exits_130_quietly(tmp_path: Path) -> None:
    path = write(tmp_path, "sleeper", """\
        MODULE_LICENSE("GPL")
        def loop(data):
            while not kthread_should_stop():
                msleep(100)
            return 0
        th = None
        def init():
            global th
            th = kthread_run(loop, None, "sleeper")
            return 0
        def exit():
            kthread_stop(th)
        module_init(init)
        module_exit(exit)
        """)
    p = subprocess.Popen([sys.executable, "-m", "kernsim", "run", str(path), "--realtime", "--for", "10"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in out


def test_os_exit_in_module_code_is_an_oops_not_the_end_of_kernsim_run(tmp_path: Path) -> None:
    """A real module cannot call exit(); a Python one calling os._exit() would
    end the process that is the kernel, and kernsim run would exit 0."""
    path = write(tmp_path, "osexit", """\
        import os
        MODULE_LICENSE("GPL")
        def init():
            os._exit(7)
        module_init(init)
        """)
    p = subprocess.run([sys.executable, "-m", "kernsim", "run", str(path), "--for", "1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "os._exit() called from module code: it would end the whole kernel" in p.stdout
    assert re.search(r"kernel BUG at .*osexit\.py:5!", p.stdout), p.stdout


# -- task->flags, as ps's F column shows them -------------------------------------------

FLAGS_SRC = """
MODULE_LICENSE("GPL")
from kernsim._core._current import cur
from kernsim.procfs import task_stats

def show(when):
    for t in task_stats(cur.k):
        pr_info("%s %d %s %x F=%o\\n", when, t.pid, t.comm, t.flags, (t.flags >> 6) & 7)

def fn(data):
    while not kthread_should_stop():
        msleep(10)
    return 0

def my_init():
    global th
    th = kthread_run(fn, None, "flagged")
    msleep(1)
    show("init")
    return 0

def my_exit():
    show("exit")
    kthread_stop(th)
module_init(my_init)
module_exit(my_exit)
"""


def test_task_flags_are_the_kernels_and_ps_shows_F_1_for_kthreads_4_for_root_tools(
        run_source: Callable[..., Run]) -> None:
    """include/linux/sched.h PF_*; copy_process() sets PF_FORKNOEXEC (0x40) on
    every new task and kthreadd PF_NOFREEZE on itself, which its children
    inherit with PF_KTHREAD: 0x208040, procps's pr_flag() ``(flags >> 6) & 7``
    = 1.  An exec'd program drops PF_FORKNOEXEC and gets PF_RANDOMIZE
    (0x400000); capable() that succeeds sets PF_SUPERPRIV (0x100): init, and
    root's insmod/rmmod after init_module/delete_module's capable(CAP_SYS_MODULE)."""
    run = run_source(FLAGS_SRC, seconds=1)
    rows = {tuple(t.split()[:3]): t.split()[3:] for t in run.texts if t.startswith(("init ", "exit "))}
    assert rows[("init", "1", "init")] == ["400100", "F=4"]
    assert rows[("init", "2", "kthreadd")] == ["208040", "F=1"]
    flagged = next(v for k, v in rows.items() if k[0] == "init" and k[2] == "flagged")
    assert flagged == ["208040", "F=1"]
    assert next(v for k, v in rows.items() if k[0] == "init" and k[2] == "insmod") == ["400100", "F=4"]
    assert next(v for k, v in rows.items() if k[0] == "exit" and k[2] == "rmmod") == ["400100", "F=4"]


def test_a_python_thread_started_by_a_module_does_not_keep_kernsim_run_alive(tmp_path: Path) -> None:
    """The kernel is gone once the run ends: a threading.Thread of the module's
    (non-daemon, sleeping 30 s) must not hold the process, as Python's own
    shutdown would."""
    path = write(tmp_path, "pythread", """\
        import threading, time
        MODULE_LICENSE("GPL")
        def init():
            threading.Thread(target=time.sleep, args=(30,)).start()
            return 0
        module_init(init)
        module_exit(lambda: pr_info("pythread exit\\n"))
        """)
    start = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "kernsim", "run", str(path), "--for", "1"],
                       capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 15
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("] pythread exit\n")


def test_module_code_cannot_fork_signal_or_exit_the_kernels_process_from_a_thread(tmp_path: Path) -> None:
    """os.fork() and signal.alarm() in init are oopses like os._exit(); a Python
    thread the module started is module code too: its os._exit() is refused
    and the thread's end is one line, not a traceback or the process's end."""
    path = write(tmp_path, "forker", """\
        import os, signal, threading, time
        MODULE_LICENSE("GPL")
        def init():
            threading.Thread(target=lambda: (time.sleep(0.1), os._exit(9))).start()
            try:
                os.fork()
            except Exception as exc:
                pr_info("fork: %s\\n", type(exc).__name__)
            signal.alarm(1)
            return 0
        module_init(init)
        """)
    p = subprocess.run([sys.executable, "-m", "kernsim", "run", str(path), "--realtime", "--for", "1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "] fork: ProcessCall\n" in p.stdout
    assert "signal.alarm() called from module code" in p.stdout
    assert "Traceback" not in p.stderr
    assert ("died: ProcessCall: os._exit() called from module code: it would end the whole kernel"
            in p.stderr)


def test_kernsim_run_escapes_control_characters_as_dmesg_does(tmp_path: Path) -> None:
    """util-linux's safe_fwrite(): a module's ESC or BEL never reaches the
    terminal raw, in kernsim run's output as in kernsim dmesg's."""
    path = write(tmp_path, "esc", """\
        MODULE_LICENSE("GPL")
        module_init(lambda: (pr_info("esc \\x1b[31mred\\x07 bell\\n"), pr_info("two\\nlines\\n"), 0)[2])
        module_exit(lambda: None)
        """)
    p = subprocess.run([sys.executable, "-m", "kernsim", "run", str(path), "--for", "0.1"],
                       capture_output=True, text=True, timeout=60)
    assert "] esc \\x1b[31mred\\x07 bell\n" in p.stdout
    assert "\x1b" not in p.stdout and "\x07" not in p.stdout
    assert "] two\n               lines\n" in p.stdout
