"""Lock misuse, reported in the kernel's words (kernel/sched/core.c
__schedule_bug, kernel/locking/lockdep.c print_deadlock_bug,
print_unlock_imbalance_bug, print_held_locks_bug), and the deadlocks the
hung-task and soft-lockup detectors find.

The expected lines are the kernel's format strings; kernsim's own parts are
the lock addresses (per kernel, in order of first use) and the frame offsets,
matched loosely.
"""

from __future__ import annotations

import re
from typing import Callable

from conftest import Run

from kernsim._core._policy import RandomPolicy

TAINT = r"Tainted: G {11}OE {5}"   # print_tainted(): 19 flag columns
FRAME = r"\+0x[0-9a-f]+/0x[0-9a-f]+"
ADDR = r"ffff888003a[0-9a-f]{5}"

SLEEPER = """
MODULE_LICENSE("GPL")
s = DEFINE_SPINLOCK("s")

def fn(data):
    spin_lock{bh}(s)
    msleep(10)
    spin_unlock{bh}(s)
    pr_info("slept\\n")
    return 0

def my_init():
    kthread_run(fn, None, "sleeper")
    return 0

def my_exit():
    pass

module_init(my_init)
module_exit(my_exit)
"""


def block(texts: list[str], first: str, n: int) -> list[str]:
    """*n* records from the one matching regex *first*."""
    i = next(i for i, t in enumerate(texts) if re.fullmatch(first, t))
    return texts[i:i + n]


def assert_lines(got: list[str], patterns: list[str]) -> None:
    assert len(got) == len(patterns), "\n".join(got)
    for g, p in zip(got, patterns):
        assert re.fullmatch(p, g, re.S), f"{g!r} !~ {p!r}"


def test_sleeping_with_a_spinlock_held_is_scheduling_while_atomic(run_source: Callable[..., Run]) -> None:
    run = run_source(SLEEPER.replace("{bh}", ""), seconds=1)
    texts = run.texts
    assert_lines(block(texts, r"BUG: scheduling while atomic: .*", 16), [
        r"BUG: scheduling while atomic: sleeper/101/0x00000002",
        r"1 lock held by sleeper/101:",
        rf" #0: {ADDR} \(s\)\{{\+\.\+\.\}}-\{{2:2\}}, at: fn{FRAME} \[mod\]",
        r"Modules linked in: mod\(OE\+?\)",
        rf"CPU: 0 PID: 101 Comm: sleeper {TAINT} 6\.7\.9-kernsim #1",
        r"Hardware name: .*",
        r"Call Trace:",
        r" <TASK>",
        r" __schedule\+0x34d/0xa00",
        r" schedule\+0x5a/0xd0",
        r" schedule_timeout\+0x11a/0x150",
        r" msleep\+0x2d/0x40",
        rf" fn{FRAME} \[mod\]",
        r" kthread\+0xda/0x100",
        r" ret_from_fork\+0x31/0x50",
        r" ret_from_fork_asm\+0x1b/0x30",
    ])
    # the task sleeps all the same, and the kernel is tainted W from then on
    assert "slept" in texts
    assert run.result.exit_code == 1
    assert any("kernel reported 1 fault" in line for line in run.stderr)


def test_a_bh_spinlock_counts_softirq_disable_in_the_preempt_count(run_source: Callable[..., Run]) -> None:
    run = run_source(SLEEPER.replace("{bh}", "_bh"), seconds=1)
    assert_lines(block(run.texts, r"BUG: scheduling while atomic: .*", 3), [
        r"BUG: scheduling while atomic: sleeper/101/0x00000202",
        r"1 lock held by sleeper/101:",
        rf" #0: {ADDR} \(s\)\{{\+\.\.\.\}}-\{{2:2\}}, at: fn{FRAME} \[mod\]",
    ])


RECURSIVE = """
MODULE_LICENSE("GPL")
m = DEFINE_MUTEX("m")

def fn(data):
    mutex_lock(m)
    pr_info("once\\n")
    mutex_lock(m)
    pr_info("twice\\n")
    return 0

def my_init():
    kthread_run(fn, None, "again")
    return 0

module_init(my_init)
"""


def test_taking_a_held_mutex_again_is_possible_recursive_locking_then_a_hung_task(
        run_source: Callable[..., Run]) -> None:
    run = run_source(RECURSIVE, seconds=25, hung_task_timeout=10)
    texts = run.texts
    start = texts.index("WARNING: possible recursive locking detected") - 2
    assert_lines(texts[start:start + 30], [
        r"",
        r"============================================",
        r"WARNING: possible recursive locking detected",
        rf"6\.7\.9-kernsim #1 {TAINT}",
        r"--------------------------------------------",
        r"again/101 is trying to acquire lock:",
        rf"{ADDR} \(m\)\{{\+\.\+\.\}}-\{{3:3\}}, at: fn{FRAME} \[mod\]",
        r"\nbut task is already holding lock:",
        rf"{ADDR} \(m\)\{{\+\.\+\.\}}-\{{3:3\}}, at: fn{FRAME} \[mod\]",
        r"\nother info that might help us debug this:",
        r" Possible unsafe locking scenario:\n",
        r"       CPU0",
        r"       ----",
        r"  lock\(m\);",
        r"  lock\(m\);",
        r"\n \*\*\* DEADLOCK \*\*\*\n",
        r" May be due to missing lock nesting notation\n",
        r"1 lock held by again/101:",
        rf" #0: {ADDR} \(m\)\{{\+\.\+\.\}}-\{{3:3\}}, at: fn{FRAME} \[mod\]",
        r"\nstack backtrace:",
        rf"CPU: 0 PID: 101 Comm: again {TAINT} 6\.7\.9-kernsim #1",
        r"Hardware name: .*",
        r"Call Trace:",
        r" <TASK>",
        rf" mutex_lock{FRAME}",
        rf" fn{FRAME} \[mod\]",
        r" kthread\+0xda/0x100",
        r" ret_from_fork\+0x31/0x50",
        r" ret_from_fork_asm\+0x1b/0x30",
        r" </TASK>",
    ])
    assert "once" in texts[:start]
    # the acquire and the held lock name two different lines of fn
    acquire, held = texts[start + 6].split(" at: ")[1], texts[start + 8].split(" at: ")[1]
    assert acquire != held
    assert "twice" not in texts
    hung = block(texts, r"INFO: task again:101 blocked for more than \d+ seconds\.", 14)
    assert [t.strip().split("+")[0] for t in hung[6:12]] == [
        "__schedule", "schedule", "schedule_preempt_disabled", "__mutex_lock.constprop.0",
        "__mutex_lock_slowpath", "mutex_lock"]


UNLOCK_OTHERS = """
MODULE_LICENSE("GPL")
m = DEFINE_MUTEX("m")

def holder(data):
    mutex_lock(m)
    msleep(1000)
    return 0

def stranger(data):
    msleep(10)
    mutex_unlock(m)
    pr_info("locked after: %d\\n", mutex_is_locked(m))
    mutex_unlock(m)
    return 0

def my_init():
    kthread_run(holder, None, "holder")
    kthread_run(stranger, None, "stranger")
    return 0

module_init(my_init)
"""


def test_unlocking_a_mutex_held_by_another_task_is_a_bad_unlock_balance(
        run_source: Callable[..., Run]) -> None:
    run = run_source(UNLOCK_OTHERS, seconds=2)
    texts = run.texts
    start = texts.index("WARNING: bad unlock balance detected!") - 2
    assert_lines(texts[start:start + 20], [
        r"",
        r"=====================================",
        r"WARNING: bad unlock balance detected!",
        rf"6\.7\.9-kernsim #1 {TAINT}",
        r"-------------------------------------",
        r"stranger/102 is trying to release lock \(m\) at:",
        rf"\[<ffffffffc0a05[0-9a-f]{{3}}>\] stranger{FRAME} \[mod\]",
        r"but there are no more locks to release!",
        r"\nother info that might help us debug this:",
        r"no locks held by stranger/102\.",
        r"\nstack backtrace:",
        rf"CPU: 0 PID: 102 Comm: stranger {TAINT} 6\.7\.9-kernsim #1",
        r"Hardware name: .*",
        r"Call Trace:",
        r" <TASK>",
        rf" mutex_unlock{FRAME}",
        rf" stranger{FRAME} \[mod\]",
        r" kthread\+0xda/0x100",
        r" ret_from_fork\+0x31/0x50",
        r" ret_from_fork_asm\+0x1b/0x30",
    ])
    # the mutex is released all the same; lockdep is off after its first report
    assert "locked after: 0" in texts
    assert texts.count("WARNING: bad unlock balance detected!") == 1
    # the holder exits holding nothing (its lock was released under it): no report
    assert not any("still has locks held" in t for t in texts)


def test_after_the_first_report_lockdep_is_off(run_source: Callable[..., Run]) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        s = DEFINE_SPINLOCK("s")
        def fn(data):
            spin_unlock(s)             # bad unlock balance: lockdep turns itself off
            spin_lock(s)
            msleep(1)                  # still a BUG, but lockdep shows no locks
            spin_unlock(s)
            spin_unlock(s)             # no second lockdep report
            return 0
        def my_init():
            kthread_run(fn, None, "fn")
            return 0
        module_init(my_init)
    """, seconds=1)
    texts = run.texts
    assert texts.count("WARNING: bad unlock balance detected!") == 1
    assert block(texts, r"BUG: scheduling while atomic: .*", 2) == [
        "BUG: scheduling while atomic: fn/101/0x00000002", "INFO: lockdep is turned off."]


def test_a_proprietary_module_turns_lock_debugging_off(run_source: Callable[..., Run]) -> None:
    run = run_source("""
        MODULE_LICENSE("Proprietary")
        m = DEFINE_MUTEX("m")
        def my_init():
            mutex_unlock(m)
            return 0
        module_init(my_init)
    """, seconds=1)
    assert "Disabling lock debugging due to kernel taint" in run.texts
    assert not any("bad unlock balance" in t for t in run.texts)


def test_a_thread_that_ends_holding_a_mutex_is_reported_and_its_waiters_hang(
        run_source: Callable[..., Run]) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        m = DEFINE_MUTEX("m")
        def leaker(data):
            mutex_lock(m)
            return 0
        def waiter(data):
            msleep(10)
            mutex_lock(m)
            return 0
        def my_init():
            kthread_run(leaker, None, "leaker")
            kthread_run(waiter, None, "waiter")
            return 0
        module_init(my_init)
    """, seconds=25, hung_task_timeout=10)
    texts = run.texts
    assert_lines(block(texts, r"WARNING: leaker/101 still has locks held!", 5), [
        r"WARNING: leaker/101 still has locks held!",
        rf"6\.7\.9-kernsim #1 {TAINT}",
        r"------------------------------------",
        r"1 lock held by leaker/101:",
        rf" #0: {ADDR} \(m\)\{{\+\.\+\.\}}-\{{3:3\}}, at: leaker{FRAME} \[mod\]",
    ])
    assert texts[texts.index("WARNING: leaker/101 still has locks held!") - 1] == "===================================="
    assert any(re.fullmatch(r"INFO: task waiter:102 blocked for more than \d+ seconds\.", t) for t in texts)


ABBA = """
MODULE_LICENSE("GPL")
a = DEFINE_MUTEX("a")
b = DEFINE_MUTEX("b")

def ab(data):
    mutex_lock(a)
    msleep(10)
    mutex_lock(b)
    pr_info("ab has both\\n")
    return 0

def ba(data):
    mutex_lock(b)
    msleep(10)
    mutex_lock(a)
    pr_info("ba has both\\n")
    return 0

def my_init():
    kthread_run(ab, None, "ab")
    kthread_run(ba, None, "ba")
    return 0

module_init(my_init)
"""


def test_an_abba_deadlock_is_found_by_the_hung_task_detector(run_source: Callable[..., Run]) -> None:
    run = run_source(ABBA, seconds=30, hung_task_timeout=10)
    texts = run.texts
    assert not any("has both" in t for t in texts)
    for comm, pid in (("ab", 101), ("ba", 102)):
        hung = block(texts, rf"INFO: task {comm}:{pid} blocked for more than \d+ seconds\.", 14)
        assert hung[3].startswith(f"task:{comm:<15} state:D ")
        assert [t.strip().split("+")[0] for t in hung[6:13]] == [
            "__schedule", "schedule", "schedule_preempt_disabled", "__mutex_lock.constprop.0",
            "__mutex_lock_slowpath", "mutex_lock", comm]
    assert run.result.exit_code == 1


def test_taking_a_held_spinlock_again_is_reported_then_spins_into_a_soft_lockup(
        run_source: Callable[..., Run]) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        s = DEFINE_SPINLOCK("s")
        def fn(data):
            spin_lock(s)
            spin_lock(s)
            return 0
        def my_init():
            kthread_run(fn, None, "spinner")
            return 0
        module_init(my_init)
    """, seconds=30, hung_task_timeout=0)
    texts = run.texts
    assert "WARNING: possible recursive locking detected" in texts
    assert "  lock(s);" in texts
    lockups = [t for t in texts if t.startswith("watchdog: BUG: soft lockup")]
    assert lockups and re.fullmatch(r"watchdog: BUG: soft lockup - CPU#0 stuck for 2[234]s! \[spinner:101\]",
                                    lockups[0])


CONTENDED = """
MODULE_LICENSE("GPL")
m = DEFINE_MUTEX("m")
s = DEFINE_SPINLOCK("s")
count = ATOMIC_INIT(0)
threads = []

def fn(data):
    for i in range(4):
        mutex_lock(m)
        pr_info("%s has m (%d)\\n", current.comm, i)
        msleep(1)
        mutex_unlock(m)
        flags = spin_lock_irqsave(s)
        atomic_inc(count)
        spin_unlock_irqrestore(s, flags)
    while not kthread_should_stop():
        msleep(10)
    return 0

def my_init():
    for n in range(3):
        threads.append(kthread_run(fn, None, "w%d", n))
    return 0

def my_exit():
    for t in threads:
        kthread_stop(t)
    pr_info("count %d\\n", atomic_read(count))

module_init(my_init)
module_exit(my_exit)
"""


def test_the_same_seed_gives_the_same_output(run_source: Callable[..., Run]) -> None:
    runs = [run_source(CONTENDED, seconds=1, policy=RandomPolicy(seed)) for seed in (4, 4, 9)]
    assert runs[0].lines == runs[1].lines
    assert runs[0].result.decisions == runs[1].result.decisions
    assert runs[0].lines != runs[2].lines
    for run in runs:
        assert "count 12" in run.texts and run.result.exit_code == 0


def test_a_thread_that_ends_holding_a_spinlock(run_source: Callable[..., Run]) -> None:
    """do_exit()'s lockdep check, then the last schedule() is scheduling while
    atomic; after an oops, make_task_dead()'s notes instead."""
    run = run_source("""
        MODULE_LICENSE("GPL")
        s = DEFINE_SPINLOCK("s")
        t = DEFINE_SPINLOCK("t")
        def leaver(data):
            spin_lock(s)
            return 0
        def crasher(data):
            flags = spin_lock_irqsave(t)
            return None.boom
        def my_init():
            kthread_run(leaver, None, "leaver")
            kthread_run(crasher, None, "crasher")
            return 0
        module_init(my_init)
    """, seconds=1)
    texts = run.texts
    i = texts.index("WARNING: leaver/101 still has locks held!")
    j = texts.index("BUG: scheduling while atomic: leaver/101/0x00000002")
    assert i < j and texts[j + 1] == "INFO: lockdep is turned off."
    end = texts.index("---[ end trace 0000000000000000 ]---")
    assert texts[end + 2:end + 4] == ["note: crasher[102] exited with irqs disabled",
                                      "note: crasher[102] exited with preempt_count 1"]
