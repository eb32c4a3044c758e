"""usleep_range, busy waits, wait_event_cmd, wake_up_locked and wait_var_event
(spec §3.4, §5.3; kernel/time/hrtimer.c, include/linux/delay.h,
include/linux/wait.h, include/linux/wait_bit.h)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from conftest import in_kernel, run_file

from kernsim import kbuild
from kernsim.linux import (
    DECLARE_WAIT_QUEUE_HEAD,
    ERESTARTSYS,
    SIGKILL,
    allow_signal,
    fsleep,
    kthread_run,
    mdelay,
    msecs_to_jiffies,
    msleep,
    ndelay,
    send_sig,
    udelay,
    usleep_range,
    wait_event_cmd,
    wait_var_event,
    wait_var_event_killable,
    wait_var_event_timeout,
    wake_up_locked,
    wake_up_process,
    wake_up_var,
    wait_event,
)


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


# -- usleep_range / fsleep: hrtimers, not the timer wheel ----------------------------------

def test_usleep_range_wakes_at_the_end_of_its_window_in_d() -> None:
    """Spec §5.3: an hrtimer window [min, max]; on an idle system it fires at max."""
    def fn() -> tuple[int, int, str]:
        from kernsim._core._current import cur

        k = cur.k
        t0 = k.now
        usleep_range(1000, 2000)
        slept = k.now - t0
        states: list[str] = []

        def sleeper(_: Any) -> int:
            usleep_range(5000, 6000)
            return 0

        t = kthread_run(sleeper, None, "sleeper")
        usleep_range(100, 100)       # let it start and go to sleep
        states.append(t.state_letter)
        t1 = k.now
        fsleep(100)                  # < 20 ms: usleep_range(100, 200)
        return slept, k.now - t1, "".join(states)

    slept, fslept, states = run(fn)
    assert 2_000_000 <= slept < 2_010_000   # µs resolution, no 4 ms jiffy rounding
    assert 200_000 <= fslept < 210_000
    assert states == "D"


def test_usleep_range_sleeps_again_after_an_early_wake_up() -> None:
    def fn() -> int:
        from kernsim._core._current import cur

        k = cur.k
        out: list[int] = []

        def sleeper(_: Any) -> int:
            t0 = k.now
            usleep_range(10_000, 10_000)
            out.append(k.now - t0)
            return 0

        t = kthread_run(sleeper, None, "sleeper")
        udelay(1)
        wake_up_process(t)           # early: it must sleep on to its expiry
        msleep(50)
        return out[0]

    assert 10_000_000 <= run(fn) < 10_050_000


# -- busy waits ------------------------------------------------------------------------------

def test_busy_waits_take_time_without_sleeping() -> None:
    """Spec §5.3: udelay/ndelay/mdelay busy-wait: the task stays R and never sleeps."""
    def fn() -> tuple[int, int, int, int, int]:
        from kernsim._core._current import cur

        k = cur.k
        me = k.current
        t0 = k.now
        udelay(50)
        t1 = k.now
        ndelay(700)
        t2 = k.now
        mdelay(3)
        t3 = k.now
        return t1 - t0, t2 - t1, t3 - t2, me.nvcsw, len(k.rq)

    u, n, m, switches, _ = run(fn)
    assert 50_000 <= u < 52_000 and 700 <= n < 2_700 and 3_000_000 <= m < 3_010_000
    assert switches == 0  # never slept


def test_a_long_mdelay_is_a_soft_lockup() -> None:
    def fn() -> int:
        mdelay(30_000)
        return 0

    _, k = in_kernel(fn, seconds=60)
    assert any(r.text.startswith("watchdog: BUG: soft lockup - CPU#0 stuck for ")
               and r.text.endswith("s! [test:100]") for r in k.log_records())


def test_timers_due_during_a_busy_wait_fire_on_time() -> None:
    """A sleeper whose timer falls due while another task busy-waits runs at
    its time (the other CPU's), not when the busy wait ends."""
    def fn() -> tuple[int, int]:
        from kernsim._core._current import cur

        k = cur.k
        woke: list[int] = []

        def sleeper(_: Any) -> int:
            msleep(10)
            woke.append(k.now)
            return 0

        t0 = k.now
        kthread_run(sleeper, None, "sleeper")
        usleep_range(10, 10)
        mdelay(100)
        return woke[0] - t0, k.now - t0

    woke, end = run(fn)
    assert 10_000_000 < woke < 30_000_000 < 100_000_000 <= end  # msleep(10): 4-5 jiffies


# -- wait_event_cmd, wake_up_locked -------------------------------------------------------------

def test_wait_event_cmd_runs_its_commands_around_each_sleep() -> None:
    def fn() -> list[str]:
        log: list[str] = []
        q = DECLARE_WAIT_QUEUE_HEAD("q")
        flag = [0]

        def waiter(_: Any) -> int:
            wait_event_cmd(q, lambda: flag[0] >= 2, lambda: log.append("unlock"),
                           lambda: log.append("lock"))
            log.append("done")
            return 0

        kthread_run(waiter, None, "waiter")
        for _ in range(2):
            msleep(10)
            flag[0] += 1
            wake_up_locked(q)
        msleep(10)
        return log

    assert run(fn) == ["unlock", "lock", "unlock", "lock", "done"]


# -- wait_var_event / wake_up_var ------------------------------------------------------------

class Counter:
    def __init__(self) -> None:
        self.n = 0


def test_wait_var_event_wakes_only_waiters_of_that_variable() -> None:
    def fn() -> list[str]:
        a, b = Counter(), Counter()
        log: list[str] = []

        def waiter(var: Counter, name: str) -> Callable[[Any], int]:
            def body(_: Any) -> int:
                wait_var_event(var, lambda: var.n > 0)
                log.append(name)
                return 0
            return body

        kthread_run(waiter(a, "a"), None, "wa")
        kthread_run(waiter(b, "b"), None, "wb")
        msleep(10)
        a.n = 1
        wake_up_var(a)
        msleep(10)
        log.append("|")
        b.n = 1
        wake_up_var(a)        # the wrong variable: b's waiter sleeps on
        msleep(10)
        log.append("|")
        wake_up_var(b)
        msleep(10)
        return log

    assert run(fn) == ["a", "|", "|", "b"]


def test_wait_var_event_timeout_and_killable() -> None:
    def fn() -> tuple[int, int]:
        v = Counter()
        r1 = wait_var_event_timeout(v, lambda: v.n > 0, msecs_to_jiffies(20))
        box: list[int] = []

        def victim(_: Any) -> int:
            allow_signal(SIGKILL)
            box.append(wait_var_event_killable(v, lambda: False))
            return 0

        t = kthread_run(victim, None, "victim")
        msleep(5)
        send_sig(SIGKILL, t, 1)
        msleep(5)
        return r1, box[0]

    assert run(fn) == (0, -ERESTARTSYS)


# -- the same from C -------------------------------------------------------------------------

def test_delays_and_wait_event_cmd_from_c(tmp_path: Path) -> None:
    src = tmp_path / "cdelay.c"
    src.write_text("""
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/wait.h>
MODULE_LICENSE("GPL");
static DECLARE_WAIT_QUEUE_HEAD(q);
static int flag;
static int waiter(void *d)
{
	wait_event_cmd(q, flag >= 2, pr_info("unlock\\n"), pr_info("lock\\n"));
	pr_info("done\\n");
	return 0;
}
static int __init c_init(void)
{
	unsigned long j0 = jiffies;
	kthread_run(waiter, NULL, "waiter");
	usleep_range(1000, 2000);
	udelay(100);
	ndelay(10);
	mdelay(2);
	fsleep(5);
	pr_info("slept jiffies=%lu\\n", jiffies - j0);
	flag = 1;
	wake_up_locked(&q);
	msleep(10);
	flag = 2;
	wake_up(&q);
	return 0;
}
static void __exit c_exit(void) { }
module_init(c_init);
module_exit(c_exit);
""")
    ko = kbuild.build_file(src, echo=lambda line: None).modules[0]
    run_ = run_file(ko, seconds=1)
    texts = run_.texts
    i = texts.index("unlock")
    assert texts[i:i + 5] == ["unlock", "lock", "unlock", "lock", "done"] or \
        [t for t in texts[i:] if t in ("unlock", "lock", "done")] == ["unlock", "lock", "unlock",
                                                                      "lock", "done"]
    assert "slept jiffies=1" in texts  # 2 ms + 2.1 ms of delays at HZ=250: one jiffy boundary
    assert run_.result.exit_code == 0


def test_a_constant_udelay_over_20_ms_does_not_link(tmp_path: Path) -> None:
    """The kernel's __bad_udelay() trick: no such symbol, so the module does
    not load (a real build stops at modpost; kernsim's loader refuses it)."""
    src = tmp_path / "bigdelay.c"
    src.write_text("""
#include <linux/module.h>
#include <linux/delay.h>
MODULE_LICENSE("GPL");
static int __init c_init(void) { udelay(30000); return 0; }
module_init(c_init);
""")
    ko = kbuild.build_file(src, echo=lambda line: None).modules[0]
    run_ = run_file(ko, seconds=1)
    assert "bigdelay: Unknown symbol __bad_udelay (err -2)" in run_.texts
    assert run_.stderr[0].endswith("Unknown symbol in module")


def test_wait_var_event_from_c(tmp_path: Path) -> None:
    """The C twin of test_wait_var_event_wakes_only_waiters_of_that_variable."""
    src = tmp_path / "cvar.c"
    src.write_text("""
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/wait_bit.h>
MODULE_LICENSE("GPL");
static int a, b;
static int wait_a(void *d) { wait_var_event(&a, a > 0); pr_info("a\\n"); return 0; }
static int wait_b(void *d) { wait_var_event(&b, b > 0); pr_info("b\\n"); return 0; }
static int __init c_init(void)
{
	kthread_run(wait_a, NULL, "wa");
	kthread_run(wait_b, NULL, "wb");
	msleep(10);
	a = 1;
	wake_up_var(&a);
	msleep(10);
	pr_info("|\\n");
	b = 1;
	wake_up_var(&a);
	msleep(10);
	pr_info("|\\n");
	wake_up_var(&b);
	msleep(10);
	pr_info("timeout=%ld\\n", wait_var_event_timeout(&a, a > 5, 5));
	return 0;
}
static void __exit c_exit(void) { }
module_init(c_init);
module_exit(c_exit);
""")
    ko = kbuild.build_file(src, echo=lambda line: None).modules[0]
    run_ = run_file(ko, seconds=1)
    mine = [t for t in run_.texts if t in ("a", "b", "|") or t.startswith("timeout=")]
    assert mine == ["a", "|", "|", "b", "timeout=0"]
    assert run_.result.exit_code == 0


def test_a_c_mdelay_takes_what_it_says_even_when_long(tmp_path: Path) -> None:
    """C's mdelay() is a loop of udelay(1000) kernel calls: none may cost more
    than its delay (a busy loop's kernel calls get dearer; a delay must not)."""
    src = tmp_path / "md.c"
    src.write_text("""
#include <linux/module.h>
#include <linux/delay.h>
MODULE_LICENSE("GPL");
static int __init c_init(void) { pr_info("a\\n"); mdelay(100); pr_info("b\\n"); return 0; }
static void __exit c_exit(void) { }
module_init(c_init);
module_exit(c_exit);
""")
    ko = kbuild.build_file(src, echo=lambda line: None).modules[0]
    run_ = run_file(ko, seconds=1)
    assert 0.100 <= run_.time_of("b") - run_.time_of("a") < 0.101
