"""Spinlocks on kernsim's one CPU (include/linux/spinlock.h, kernel/locking/qspinlock.c).

A task finds a spinlock taken only if the holder was overtaken at a
scheduling point; the spinner then lets the holder run on (as the holder's
own CPU would), gets the lock handed over in arrival order (qspinlock's
queue), and busy-waits -- time passing, timers firing, the soft-lockup
detector watching -- when the holder cannot run.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from conftest import in_kernel

from kernsim._core._policy import RandomPolicy
from kernsim.linux import (
    DECLARE_WAIT_QUEUE_HEAD,
    DEFINE_SPINLOCK,
    get_current,
    jiffies,
    kthread_run,
    msleep,
    pr_debug,
    schedule_timeout_uninterruptible,
    spin_is_locked,
    spin_lock,
    spin_lock_bh,
    spin_lock_init,
    spin_lock_irq,
    spin_lock_irqsave,
    spin_trylock,
    spin_unlock,
    spin_unlock_bh,
    spin_unlock_irq,
    spin_unlock_irqrestore,
    spinlock_t,
    wait_event_lock_irq,
    wake_up,
)


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


def spawn(fn: Callable[[], Any], name: str = "helper") -> Any:
    return kthread_run(lambda _d: (fn(), 0)[1], None, name)


def test_lock_unlock_trylock_and_the_preempt_count() -> None:
    def fn() -> list[Any]:
        me = get_current()
        s, t = DEFINE_SPINLOCK("s"), spinlock_t("t")
        out: list[Any] = [spin_is_locked(s), me.preempt_count]
        spin_lock(s)
        out += [spin_is_locked(s), s.owner is me, me.preempt_count, spin_trylock(s)]
        spin_unlock(s)
        out += [spin_is_locked(s), s.owner, me.preempt_count, spin_trylock(s), me.preempt_count]
        spin_unlock(s)
        spin_lock_bh(s)
        out.append(hex(me.preempt_count))            # SOFTIRQ_LOCK_OFFSET
        spin_unlock_bh(s)
        flags = spin_lock_irqsave(s)
        inner = spin_lock_irqsave(t)                 # interrupts already off
        out += [hex(flags), hex(inner), me.preempt_count, [h.mode for h in me.held_locks]]
        spin_unlock_irqrestore(t, inner)
        spin_unlock_irqrestore(s, flags)
        spin_lock_irq(s)
        spin_unlock_irq(s)
        spin_lock(s)
        spin_lock_init(s)                            # unlocked again
        out += [spin_is_locked(s), me.preempt_count]
        me.held_locks.clear()
        me.preempt_count = 0
        return out

    assert run(fn) == [0, 0, 1, True, 1, 0, 0, None, 0, 1, 1, "0x201",
                       "0x246", "0x46", 2, ["irqsave", "irqsave"], 0, 1]


def test_a_spinlock_is_never_a_sleep() -> None:
    def fn() -> tuple[int, int]:
        me = get_current()
        s = DEFINE_SPINLOCK("s")
        schedule_timeout_uninterruptible(1)
        j0, n0 = int(jiffies), me.nvcsw
        for _ in range(100):
            spin_lock(s)
            spin_unlock(s)
        return int(jiffies) - j0, me.nvcsw - n0

    assert run(fn) == (0, 0)


def _counter(locked: bool, seed: int) -> tuple[int, int]:
    """Three tasks increment a counter 50 times each with a kernel call inside
    the critical section; (final count, most spinners seen at once)."""
    def fn() -> tuple[int, int]:
        s = DEFINE_SPINLOCK("s")
        box = [0, 0]

        def body() -> None:
            for _ in range(50):
                if locked:
                    spin_lock(s)
                c = box[0]
                pr_debug("in between\n")          # a scheduling point inside
                box[1] = max(box[1], len(s.spinners))
                box[0] = c + 1
                if locked:
                    spin_unlock(s)

        for i in range(3):
            spawn(body, f"w{i}")
        msleep(50)
        return box[0], box[1]

    return run(fn, policy=RandomPolicy(seed))  # type: ignore[no-any-return]


def test_spinlocks_exclude_under_the_random_policy_and_the_spinners_queue() -> None:
    results = [_counter(True, seed) for seed in range(4)]
    assert [count for count, _ in results] == [150] * 4
    assert max(spinners for _, spinners in results) >= 1      # there was contention
    assert any(_counter(False, seed)[0] < 150 for seed in range(4))


def test_a_spinner_waits_for_a_sleeping_holder_and_gets_the_lock_in_arrival_order() -> None:
    """The holder sleeps with the lock held (a bug, reported); the spinners
    busy-wait, in the order they came, and get it in that order."""
    def fn() -> dict[str, Any]:
        s = DEFINE_SPINLOCK("s")
        got: list[str] = []
        me = get_current()
        spin_lock(s)
        b = spawn(lambda: (spin_lock(s), got.append("b"), spin_unlock(s)), "b")
        msleep(10)                              # BUG: scheduling while atomic
        c = spawn(lambda: (spin_lock(s), got.append("c"), spin_unlock(s)), "c")
        msleep(10)
        out = {"spinners": [t.comm for t in s.spinners], "states": [b.state_letter, c.state_letter],
               "owner": s.owner is me}
        spin_unlock(s)
        out["handed"] = s.owner is b
        msleep(10)
        out["got"] = got
        return out

    out, k = in_kernel(fn)
    assert out == {"spinners": ["b", "c"], "states": ["R", "R"], "owner": True, "handed": True,
                   "got": ["b", "c"]}
    assert any(r.text.startswith("BUG: scheduling while atomic: test/") for r in k.log_records())


def test_a_spinner_of_a_holder_that_never_lets_go_is_a_soft_lockup() -> None:
    def fn() -> list[str]:
        s = DEFINE_SPINLOCK("s")
        spin_lock(s)
        spawn(lambda: spin_lock(s), "spinner")
        msleep(30_000)
        spin_unlock(s)
        msleep(10)
        return [t.comm for t in s.spinners]

    spinners, k = in_kernel(fn, seconds=40)
    assert spinners == []
    texts = [r.text for r in k.log_records()]
    lockup = [t for t in texts if t.startswith("watchdog: BUG: soft lockup")]
    assert len(lockup) == 1    # at the first 4-s sample 20 s after it began to spin
    assert re.fullmatch(r"watchdog: BUG: soft lockup - CPU#0 stuck for 2[234]s! \[spinner:101\]", lockup[0])
    i = texts.index(lockup[0])
    assert "RIP: 0010:native_queued_spin_lock_slowpath+0x" in texts[i + 4]


def test_wait_event_lock_irq_drops_the_lock_only_around_the_sleep() -> None:
    def fn() -> dict[str, Any]:
        s = DEFINE_SPINLOCK("s")
        wq = DECLARE_WAIT_QUEUE_HEAD("wq")
        state = {"ready": False, "held_in_cond": [], "waker_got_it": None}
        waiter_box: list[Any] = []

        def cond() -> bool:
            state["held_in_cond"].append(s.owner is waiter_box[0])
            return bool(state["ready"])

        def waiter() -> None:
            waiter_box.append(get_current())
            spin_lock_irq(s)
            wait_event_lock_irq(wq, cond, s)
            state["held_on_return"] = s.owner is get_current()
            spin_unlock_irq(s)

        w = spawn(waiter, "waiter")
        msleep(5)
        state["waiting"] = (w.state_letter, spin_is_locked(s))
        spin_lock_irq(s)                        # free while the waiter sleeps
        state["ready"] = True
        spin_unlock_irq(s)
        wake_up(wq)
        msleep(5)
        return state

    state, k = in_kernel(fn)
    assert state["waiting"] == ("D", 0)
    assert state["held_in_cond"] == [True, True, True]
    assert state["held_on_return"] is True
    assert not any("BUG" in r.text for r in k.log_records())
