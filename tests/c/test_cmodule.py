"""C modules in the simulated kernel: the tutorial's listings run as their
Python ports do, line for line and time for time; C memory is the kernel's
(wait entries on a sleeping task's stack are written by the waker); faults in
C become the kernel's reports; a bad .ko gets kmod's words."""

from __future__ import annotations

import subprocess
import time
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import SEED, TRANSCRIPTS, Run, run_file
from kernsim import kbuild
from kernsim._core._kernel import Kernel, KernelConfig
from kernsim._core._policy import RandomPolicy, Replay, decode_decisions
from kernsim.cmodule.runtime import runtime
from kernsim.expect import Matcher, read_transcript, search
from kernsim.image import open_image
from kernsim.kmod import insmod, rmmod
from kernsim.session import SessionOptions

NAMES = ["wait_event", "wait_event_timeout", "prepare_to_wait", "prepare_to_wait_exclusive",
         "prepare_to_wait_event", "wait_woken"]
TOL = 32_000_000


@pytest.fixture(scope="module")
def seed_kos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The six listings, built unmodified from a copy of examples/seed."""
    d = tmp_path_factory.mktemp("seed")
    for name in NAMES:
        (d / f"{name}.c").write_bytes((SEED / f"{name}.c").read_bytes())
    (d / "Makefile").write_bytes((SEED / "Makefile").read_bytes())
    result = kbuild.build(d, echo=lambda line: None)
    return {p.stem: p for p in result.modules}


def build(tmp_path: Path, source: str, name: str = "cmod") -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text("#include <linux/module.h>\n#include <linux/kernel.h>\n#include <linux/kthread.h>\n"
                   "#include <linux/delay.h>\nMODULE_LICENSE(\"GPL\");\n" + textwrap.dedent(source))
    return kbuild.build_file(src, echo=lambda line: None).modules[0]


@pytest.mark.parametrize("name", NAMES)
def test_seed_listing_runs_as_its_python_port_does(name: str, seed_kos: dict[str, Path]) -> None:
    c = run_file(seed_kos[name], seconds=6)
    py = run_file(SEED / f"{name}.py", seconds=6)
    assert c.lines == py.lines
    assert c.result.exit_code == 0


@pytest.mark.parametrize("name,seed", [("prepare_to_wait_exclusive", 3), ("wait_event_timeout", 11)])
def test_seed_listing_under_a_random_policy_matches_the_port(name: str, seed: int,
                                                             seed_kos: dict[str, Path]) -> None:
    c = run_file(seed_kos[name], seconds=5, policy=RandomPolicy(seed))
    py = run_file(SEED / f"{name}.py", seconds=5, policy=RandomPolicy(seed))
    assert c.lines == py.lines
    assert c.result.decisions == py.result.decisions


@pytest.mark.parametrize("name", NAMES)
def test_seed_transcript_is_reproduced_by_the_c_listing(name: str, seed_kos: dict[str, Path]) -> None:
    lines = read_transcript(str(TRANSCRIPTS / f"{name}.dmesg"))
    exit_line = next(ln for ln in lines if "exit function" in ln.text)
    seconds = (exit_line.ts - lines[0].ts) / 1e9
    found = search(open_image(str(seed_kos[name])), SessionOptions(seconds=seconds), lines,
                   tolerance_ns=TOL, max_schedules=2000)
    assert found.found, found.best.describe_failure()
    again = run_file(seed_kos[name], seconds=seconds, policy=Replay(decode_decisions(found.replay)))
    matcher = Matcher(lines, TOL)
    for rec in again.result.records:
        matcher.feed(rec)
    assert matcher.done


def test_early_rmmod_hang_shows_the_module_c_frames(seed_kos: dict[str, Path]) -> None:
    run = run_file(seed_kos["wait_event"], seconds=2, hung_task_timeout=10)
    assert run.result.outcome == "hung"
    text = "\n".join(run.texts)
    assert "INFO: task wait_event wait:102 blocked for more than 10 seconds." in text
    assert " wait_thread_fn+0x" in text and "[wait_event]" in text
    assert " kthread_stop+0x66/0x170" in text and " thread_stop+0x" in text
    # As the real kernel's trace (shared/oracle/runs/wait_event_early_rmmod):
    # the exit function tail-calls thread_stop(), so it has no frame of its
    # own, and thread_stop's return address is inside it, not at +0x0.
    lines = [t.strip() for t in run.texts]
    rmmod = lines[lines.index(next(t for t in lines if t.startswith("task:rmmod"))):]
    frames = rmmod[rmmod.index("<TASK>") + 1:rmmod.index("</TASK>")]
    i = next(i for i, f in enumerate(frames) if f.startswith("thread_stop+"))
    assert frames[i - 1] == "kthread_stop+0x66/0x170"
    assert frames[i].endswith("/0x29 [wait_event]") and not frames[i].startswith("thread_stop+0x0/")
    assert frames[i + 1].startswith("__do_sys_delete_module+")


def _commands(ko: Path, *steps: str) -> tuple[list[str], list[str], Kernel]:
    """insmod / rmmod *ko* in turn against one kernel; (log texts, tty lines)."""
    k = Kernel(KernelConfig(hung_task_timeout_secs=0))
    tty: list[str] = []
    image = open_image(str(ko))
    for step in steps:
        done: list[int] = []
        if step == "insmod":
            main: Any = lambda: insmod(k, image, ko.name, "", tty.append)  # noqa: E731
        else:
            main = lambda: rmmod(k, image.name, tty.append)  # noqa: E731
        k.spawn_process(step, main, tty=tty.append, on_exit=lambda t: done.append(t.exit_code),
                        native=True)
        k.run(k.now + 5_000_000_000)
        assert done, f"{step} did not finish"
    texts = [r.text for r in k.log_records()]
    k.close()
    return texts, tty, k


def test_each_load_gets_fresh_globals(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        int i = 0;
        static int __init c_init(void) { i++; pr_info("i = %d\\n", i); return 0; }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    texts, tty, _ = _commands(ko, "insmod", "rmmod", "insmod", "rmmod")
    assert [t for t in texts if t.startswith("i = ")] == ["i = 1", "i = 1"]
    assert tty == []


def test_the_waker_writes_into_the_sleepers_stacked_wait_entry(tmp_path: Path) -> None:
    """DEFINE_WAIT + prepare_to_wait on the waiter's stack; wake_up's
    autoremove_wake_function unlinks that entry -- memory of another task's
    stack -- so the waiter sees it off the queue when it runs again."""
    ko = build(tmp_path, """
        static DECLARE_WAIT_QUEUE_HEAD(wq);
        static int flag;
        static struct task_struct *waiter, *waker;
        static int wait_fn(void *d)
        {
            DEFINE_WAIT(wait);
            prepare_to_wait(&wq, &wait, TASK_UNINTERRUPTIBLE);
            pr_info("queued: %d active: %d\\n", !list_empty(&wait.entry), waitqueue_active(&wq));
            if (!flag)
                schedule();
            pr_info("woken: queued %d active %d\\n", !list_empty(&wait.entry), waitqueue_active(&wq));
            finish_wait(&wq, &wait);
            while (!kthread_should_stop())
                msleep(10);
            return 7;
        }
        static int wake_fn(void *d)
        {
            msleep(20);
            flag = 1;
            wake_up(&wq);
            while (!kthread_should_stop())
                msleep(10);
            return 8;
        }
        static int __init c_init(void)
        {
            waiter = kthread_run(wait_fn, NULL, "waiter");
            waker = kthread_run(wake_fn, NULL, "waker");
            return 0;
        }
        static void __exit c_exit(void)
        {
            pr_info("results %d %d\\n", kthread_stop(waker), kthread_stop(waiter));
        }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert run.result.exit_code == 0
    assert "queued: 1 active: 1" in run.texts
    assert "woken: queued 0 active 0" in run.texts
    assert "results 8 7" in run.texts


def test_completions_from_c(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        #include <linux/completion.h>
        static DECLARE_COMPLETION(ready);
        static struct completion *onstack;
        static int fn(void *d)
        {
            msleep(100);
            complete(&ready);
            msleep(100);
            complete_all(onstack);
            return 0;
        }
        static int __init c_init(void)
        {
            DECLARE_COMPLETION_ONSTACK(later);
            unsigned long left;
            onstack = &later;
            kthread_run(fn, NULL, "completer");
            pr_info("done before: %d\\n", completion_done(&ready));
            left = wait_for_completion_timeout(&ready, msecs_to_jiffies(1000));
            pr_info("left > 0: %d, try again: %d\\n", left > 0, try_wait_for_completion(&ready));
            wait_for_completion(&later);
            pr_info("later done: %d %d\\n", completion_done(&later), later.done == UINT_MAX);
            return 0;
        }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert run.result.exit_code == 0
    assert ["done before: 0", "left > 0: 1, try again: 0", "later done: 1 1"] == \
        [t for t in run.texts if t.startswith(("done before", "left", "later"))]
    assert run.time_of("later done: 1 1") - run.time_of("left > 0: 1, try again: 0") > 0.09


def test_kthread_stop_of_a_c_thread_that_never_ran_is_eintr(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int fn(void *d) { pr_info("ran\\n"); return 0; }
        static int __init c_init(void)
        {
            struct task_struct *t = kthread_create(fn, NULL, "never%d", 1);
            if (IS_ERR(t))
                return PTR_ERR(t);
            pr_info("%s %d\\n", t->comm, kthread_stop(t));
            return 0;
        }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "never1 -4" in run.texts
    assert "ran" not in run.texts


def test_a_null_dereference_in_a_c_kthread_is_an_oops_and_the_kernel_goes_on(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int *volatile ptr;
        static int crash_fn(void *data) { msleep(10); return *ptr; }
        static int __init c_init(void) { kthread_run(crash_fn, NULL, "crasher"); return 0; }
        static void __exit c_exit(void) { pr_info("exit ran\\n"); }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    text = "\n".join(run.texts)
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in text
    assert "Comm: crasher" in text
    assert "RIP: 0010:crash_fn+0x" in text
    assert run.texts[-1] == "exit ran"
    assert run.result.exit_code == 1


def test_a_crash_in_c_init_kills_insmod_and_leaves_the_module_loading(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int *volatile ptr;
        static int __init c_init(void) { return *ptr; }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "Comm: insmod" in "\n".join(run.texts)
    # page_fault_oops() ends the task with SIGKILL (a BUG() would be die()'s SIGSEGV)
    assert "Killed" in run.stderr
    assert run.result.exit_code == 1


def test_bug_on_warn_on_in_c_are_the_kernels_reports(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int fn(void *d)
        {
            if (WARN_ON(1))
                pr_info("warned\\n");
            BUG_ON(d == NULL);
            return 0;
        }
        static int __init c_init(void) { kthread_run(fn, NULL, "checker"); return 0; }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    texts = run.texts
    warn = next(t for t in texts if t.startswith("WARNING: CPU: 0 PID: "))
    assert f"{tmp_path / 'cmod.c'}:9 fn+0x" in warn and warn.endswith("[cmod]")
    assert texts.index("warned") > texts.index(warn)
    assert f"kernel BUG at {tmp_path / 'cmod.c'}:11!" in texts
    assert any(t.startswith("invalid opcode: 0000 [#1]") for t in texts)
    # W was added after the warning printed; D is added after the oops prints.
    assert any(t.startswith("CPU: 0 PID: 101 Comm: checker Tainted: G        W  OE ") for t in texts)


def test_an_unsupported_conversion_in_c_stops_the_message_with_a_warning(tmp_path: Path) -> None:
    """lib/vsprintf.c: %n is "any other invalid or unsupported format specifier":
    WARN_ONCE from format_decode() called by printk, and the text before it."""
    ko = build(tmp_path, """
        static int count;
        static int __init c_init(void)
        {
            pr_info("a=%d %n b=%d\\n", 1, &count, 2);
            pr_info("n=%d\\n", 3);
            return 0;
        }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    texts = run_file(ko, seconds=1).texts
    assert "Please remove unsupported %n in format string" in texts
    warn = next(t for t in texts if t.startswith("WARNING: CPU: 0 PID: "))
    assert " at lib/vsprintf.c:" in warn and " format_decode+0x" in warn
    trace = [t.strip() for t in texts[texts.index("Call Trace:") + 2:]]
    assert trace[3].startswith("_printk+") and trace[4].startswith("c_init+") and trace[4].endswith("[cmod]")
    assert texts[texts.index("a=1 ") + 1] == "n=3"


def test_panic_in_c_stops_the_kernel(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int __init c_init(void) { panic("bad %d", 42); return 0; }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "Kernel panic - not syncing: bad 42" in run.texts
    assert "---[ end Kernel panic - not syncing: bad 42 ]---" in run.texts
    assert run.result.outcome == "panic" and run.result.exit_code == 1


def test_an_unknown_kernel_symbol_fails_the_load_as_the_kernel_does(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        extern void kernsim_has_no_such_function(void);
        static int __init c_init(void) { kernsim_has_no_such_function(); return 0; }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "cmod: Unknown symbol kernsim_has_no_such_function (err -2)" in run.texts
    assert f"insmod: ERROR: could not insert module {ko}: Unknown symbol in module" in run.stderr
    assert run.result.exit_code == 1


def test_a_garbled_ko_is_an_invalid_module_format(tmp_path: Path) -> None:
    ko = tmp_path / "junk.ko"
    ko.write_bytes(b"\x7fELF" + bytes(range(200)))
    run = run_file(ko, seconds=1)
    assert f"insmod: ERROR: could not insert module {ko}: Invalid module format" in run.stderr
    assert run.result.exit_code == 1


def test_the_structures_python_writes_have_the_compilers_layout(tmp_path: Path) -> None:
    from kernsim._core._cdecl import INCLUDE_DIR

    probe = tmp_path / "probe.c"
    probe.write_text(textwrap.dedent("""
        #include <linux/sched.h>
        #include <linux/wait.h>
        #define P(t, f) (int)__builtin_offsetof(t, f)
        int layout[] = {
            sizeof(struct wait_queue_entry), P(struct wait_queue_entry, private),
            P(struct wait_queue_entry, func), P(struct wait_queue_entry, entry),
            sizeof(struct wait_queue_head), P(struct wait_queue_head, head),
            sizeof(struct task_struct), P(struct task_struct, comm),
        };
    """))
    gcc_inc = subprocess.check_output(["gcc", "-print-file-name=include"], text=True).strip()
    subprocess.run(["gcc", "-c", "-nostdinc", "-isystem", gcc_inc, f"-I{INCLUDE_DIR}", "-D__KERNEL__",
                    "-o", str(tmp_path / "probe.o"), str(probe)], check=True)
    from elftools.elf.elffile import ELFFile

    with open(tmp_path / "probe.o", "rb") as f:
        data = ELFFile(f).get_section_by_name(".data").data()
    got = [int.from_bytes(data[i:i + 4], "little") for i in range(0, 32, 4)]
    ffi = runtime().ffi
    want = [ffi.sizeof("struct wait_queue_entry"), ffi.offsetof("struct wait_queue_entry", "private"),
            ffi.offsetof("struct wait_queue_entry", "func"), ffi.offsetof("struct wait_queue_entry", "entry"),
            ffi.sizeof("struct wait_queue_head"), ffi.offsetof("struct wait_queue_head", "head"),
            ffi.sizeof("struct task_struct"), ffi.offsetof("struct task_struct", "comm")]
    assert got == want


def test_kernsim_run_builds_a_c_file_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kernsim.cli import main

    src = tmp_path / "wait_event.c"
    src.write_bytes((SEED / "wait_event.c").read_bytes())
    assert main(["run", str(src), "--for", "6"]) == 0
    out, err = capsys.readouterr()
    assert f"  CC [M]  {tmp_path}/wait_event.o" in err
    assert f"  LD [M]  {tmp_path}/wait_event.ko" in err
    assert "destroyed threads and completed tasks" in out
    assert isinstance(Run, type)


@pytest.mark.parametrize("kind", ["ko", "py"])
def test_a_reader_that_goes_away_ends_the_run_quietly(seed_kos: dict[str, Path], kind: str) -> None:
    """kernsim run X.ko | head: the run stops with status 141 and no traceback
    (the write fails in a C task's thread, which must not take the CPU with it)."""
    import sys

    module = str(seed_kos["wait_event"]) if kind == "ko" else str(SEED / "wait_event.py")
    p = subprocess.Popen([sys.executable, "-m", "kernsim", "run", module], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.readline()
    p.stdout.close()  # the reader is gone before the module prints
    try:
        code = p.wait(timeout=30)
    finally:
        p.kill()
    assert code == 141
    assert "Traceback" not in p.stderr.read().decode()


def test_parking_signals_exit_and_warn_once_from_c(tmp_path: Path) -> None:
    """The same calls as tests/core/test_park_and_signals.py, through the C headers."""
    ko = build(tmp_path, """
        #include <linux/sched/signal.h>
        #include <linux/sched/task.h>
        #include <linux/completion.h>

        static struct task_struct *worker, *listener, *finisher;
        static DECLARE_COMPLETION(finished);

        static int work(void *data)
        {
            while (!kthread_should_stop()) {
                if (kthread_should_park()) {
                    pr_info("parking\\n");
                    kthread_parkme();
                    pr_info("unparked\\n");
                }
                msleep(10);
            }
            return 7;
        }

        static int listen(void *data)
        {
            unsigned long left;
            allow_signal(SIGUSR1);
            left = msleep_interruptible(1000);
            pr_info("left=%lu pending=%d\\n", left, signal_pending(current));
            pr_info("dequeued=%d\\n", kernel_dequeue_signal());
            pr_info("pending=%d\\n", signal_pending(current));
            while (!kthread_should_stop())
                msleep(10);
            return 0;
        }

        static int finish(void *data)
        {
            kthread_complete_and_exit(&finished, 3);
            return 0;
        }

        static int __init c_init(void)
        {
            int i;
            worker = kthread_run(work, NULL, "worker");
            listener = kthread_run(listen, NULL, "listener");
            finisher = kthread_run(finish, NULL, "finisher");
            get_task_struct(finisher);
            msleep(50);
            pr_info("park=%d\\n", kthread_park(worker));
            pr_info("again=%d\\n", kthread_park(worker));
            kthread_unpark(worker);
            pr_info("sent=%d\\n", send_sig(SIGUSR1, listener, 0));
            wait_for_completion(&finished);
            for (i = 0; i < 3; i++)
                WARN_ON_ONCE(i > 0);
            return 0;
        }

        static void __exit c_exit(void)
        {
            pr_info("worker=%d\\n", kthread_stop(worker));
            kthread_stop(listener);
            pr_info("finisher=%d\\n", kthread_stop(finisher));
            put_task_struct(finisher);
        }

        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    texts = run.texts
    mine = [t for t in texts if t.split("=")[0] in ("park", "again", "sent", "worker", "finisher",
                                                     "dequeued", "pending") or t in ("parking", "unparked")
            or t.startswith("left=")]
    assert mine[:3] == ["parking", "park=0", "again=-16"]
    assert "unparked" in mine and "sent=0" in mine
    left = next(t for t in mine if t.startswith("left="))
    assert left.endswith(" pending=1") and 0 < int(left.split()[0][5:]) < 1000
    assert "dequeued=10" in mine and "pending=0" in mine
    assert mine[-2:] == ["worker=7", "finisher=3"]
    warnings = [t for t in texts if t.startswith("WARNING: CPU: 0 PID:")]
    assert len(warnings) == 2  # kthread_park's WARN_ON_ONCE, and the module's once
    assert run.result.exit_code == 1  # a run with warnings is no clean run


def test_a_c_module_cannot_call_the_c_library(tmp_path: Path) -> None:
    """printf(), system(), exit() are no kernel functions: the kernel refuses
    the module at insmod (and the host is never touched)."""
    marker = tmp_path / "pwned"
    ko = build(tmp_path, f"""
        extern int printf(const char *, ...);
        extern int system(const char *);
        static int __init c_init(void) {{ printf("hi\\n"); system("touch {marker}"); return 0; }}
        static void __exit c_exit(void) {{ }}
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert [t for t in run.texts if "Unknown symbol" in t] == [
        "cmod: Unknown symbol puts (err -2)", "cmod: Unknown symbol system (err -2)"]
    assert run.stderr[0].endswith("Unknown symbol in module")
    assert not marker.exists()


def test_the_kernels_string_functions_are_there(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static char buf[32];
        static int __init c_init(void)
        {
            snprintf(buf, sizeof(buf), "%d-%s", 42, "x");
            pr_info("%s %zu %d\\n", buf, strlen(buf), strcmp(buf, "42-x"));
            return 0;
        }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "42-x 4 0" in run.texts


@pytest.mark.parametrize("body, first, access, code", [
    ("*(volatile int *)0 = 1;", "BUG: kernel NULL pointer dereference, address: 0000000000000000",
     "write access", 0x0002),
    ("(void)*(volatile int *)0;", "BUG: kernel NULL pointer dereference, address: 0000000000000000",
     "read access", 0x0000),
    ("*(volatile int *)0xdeadbeef = 1;", "BUG: unable to handle page fault for address: 00000000deadbeef",
     "write access", 0x0002),
], ids=["null-write", "null-read", "wild-write"])
def test_c_page_faults_say_read_or_write_as_the_kernel_does(tmp_path: Path, body: str, first: str,
                                                             access: str, code: int) -> None:
    ko = build(tmp_path, f"""
        static int fn(void *d) {{ {body} return 0; }}
        static int __init c_init(void) {{ kthread_run(fn, NULL, "faulter"); return 0; }}
        static void __exit c_exit(void) {{ }}
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    i = run.texts.index(first)
    assert run.texts[i + 1] == f"#PF: supervisor {access} in kernel mode"
    assert run.texts[i + 2] == f"#PF: error_code(0x{code:04x}) - not-present page"
    assert run.texts[i + 4] == f"Oops: {code:04x} [#1] PREEMPT SMP NOPTI"


@pytest.mark.parametrize("body, trap", [
    ("volatile int z = 0; return 10 / z;", "divide error"),
    ("__builtin_trap();", "invalid opcode"),
], ids=["divide", "ud2"])
def test_c_traps_are_die_reports_without_a_bug_line(tmp_path: Path, body: str, trap: str) -> None:
    ko = build(tmp_path, f"""
        static int fn(void *d) {{ {body} return 0; }}
        static int __init c_init(void) {{ kthread_run(fn, NULL, "trapper"); return 0; }}
        static void __exit c_exit(void) {{ }}
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert f"{trap}: 0000 [#1] PREEMPT SMP NOPTI" in run.texts
    assert not any(t.startswith("kernel BUG at") or "cut here" in t for t in run.texts)


def test_a_c_loop_that_never_calls_the_kernel_is_stopped_as_a_soft_lockup(tmp_path: Path) -> None:
    """A Python exception cannot interrupt C code: the watchdog signals the
    task's thread and the runtime leaves the module code through its guard."""
    ko = build(tmp_path, """
        static volatile int x;
        static int fn(void *d) { pr_info("spinning\\n"); while (1) x++; return 0; }
        static int __init c_init(void) { kthread_run(fn, NULL, "spinner"); return 0; }
        static void __exit c_exit(void) { pr_info("exit\\n"); }
        module_init(c_init); module_exit(c_exit);
    """)
    start = time.monotonic()
    run = run_file(ko, seconds=1, stuck_wall_seconds=0.3)
    assert time.monotonic() - start < 20
    report = "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [spinner:101]"
    assert run.time_of(report) == 24.0
    assert any(t.startswith("RIP: 0010:fn+0x") and t.endswith("[cmod]") for t in run.texts)
    assert run.texts[-1] == "exit"
    assert run.result.exit_code == 1


def test_ctrl_c_during_a_c_module_run_exits_130_quietly(seed_kos: dict[str, Path]) -> None:
    import signal
    import sys

    p = subprocess.Popen([sys.executable, "-m", "kernsim", "run", str(seed_kos["wait_event"]),
                          "--realtime", "--for", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 130
    assert b"Traceback" not in err


def test_a_c_wait_entry_left_queued_after_its_function_returned_is_list_corruption(
        tmp_path: Path) -> None:
    """The C twin of test_waitqueue's: DEFINE_WAIT lives in check_once()'s frame."""
    ko = build(tmp_path, """
        #include <linux/wait.h>
        static DECLARE_WAIT_QUEUE_HEAD(q);
        static struct task_struct *t;
        static noinline int check_once(void)
        {
            DEFINE_WAIT(wait);
            prepare_to_wait(&q, &wait, TASK_INTERRUPTIBLE);
            return 1;               /* the bug: no finish_wait(&q, &wait) */
        }
        static int sloppy(void *d)
        {
            check_once();
            __set_current_state(TASK_RUNNING);
            while (!kthread_should_stop())
                msleep(10);
            return 0;
        }
        static int waker(void *d) { msleep(20); wake_up(&q); return 0; }
        static int __init c_init(void)
        {
            t = kthread_run(sloppy, NULL, "sloppy");
            kthread_run(waker, NULL, "waker");
            return 0;
        }
        static void __exit c_exit(void) { kthread_stop(t); }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    first = next(t for t in run.texts if "corruption" in t)
    assert first.startswith("list_del corruption. prev->next should be ")
    i = run.texts.index(first)
    assert any("Comm: waker" in t for t in run.texts[i:i + 8])
    assert run.result.exit_code == 1


def test_a_c_wait_entry_finished_properly_is_no_corruption(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        #include <linux/wait.h>
        static DECLARE_WAIT_QUEUE_HEAD(q);
        static int flag;
        static int waiter(void *d)
        {
            DEFINE_WAIT(wait);
            for (;;) {
                prepare_to_wait(&q, &wait, TASK_INTERRUPTIBLE);
                if (flag)
                    break;
                schedule();
            }
            finish_wait(&q, &wait);
            pr_info("woken\\n");
            return 0;
        }
        static int waker(void *d) { msleep(20); flag = 1; wake_up(&q); msleep(5); wake_up(&q); return 0; }
        static int __init c_init(void)
        {
            kthread_run(waiter, NULL, "waiter");
            kthread_run(waker, NULL, "waker");
            return 0;
        }
        static void __exit c_exit(void) { }
        module_init(c_init); module_exit(c_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "woken" in run.texts
    assert not any("corruption" in t for t in run.texts)
    assert run.result.exit_code == 0


def test_a_non_gpl_module_cannot_use_gpl_only_exports(tmp_path: Path) -> None:
    """kthread_park & co. are EXPORT_SYMBOL_GPL: a proprietary module's load
    fails on them, after the taint lines (spec §7.1)."""
    src = tmp_path / "parkp.c"
    src.write_text("""
#include <linux/module.h>
#include <linux/kthread.h>
MODULE_LICENSE("Proprietary");
static struct task_struct *t;
static int fn(void *d) { if (kthread_should_park()) kthread_parkme(); return 0; }
static int __init c_init(void) { t = kthread_run(fn, NULL, "p"); return kthread_park(t); }
module_init(c_init);
""")
    ko = kbuild.build_file(src, echo=lambda line: None).modules[0]
    run = run_file(ko, seconds=1)
    texts = run.texts
    i = texts.index("parkp: module verification failed: signature and/or required key missing - "
                    "tainting kernel")
    assert sorted(texts[i + 1:i + 4]) == sorted(f"parkp: Unknown symbol {s} (err -2)" for s in
                                                ("kthread_should_park", "kthread_parkme", "kthread_park"))
    assert run.stderr[0].endswith("Unknown symbol in module")
