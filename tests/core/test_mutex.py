"""Mutexes (kernel/locking/mutex.c, include/linux/mutex.h) through the Python facade.

``__mutex_lock_common()`` (6.1 - 6.7), the part kernsim follows::

    if (__mutex_trylock(lock)) -> acquired            /* the fast path, before queueing */
    __mutex_add_waiter(lock, &waiter, &lock->wait_list)   /* FIFO, at the tail */
    for (;;) {
        if (__mutex_trylock(lock)) goto acquired;      /* before the signal check */
        if (signal_pending_state(state, current)) { ret = -EINTR; goto err; }
        set_current_state(state); schedule_preempt_disabled();
    }

and ``__mutex_unlock_slowpath()`` clears the owner and wakes the first waiter.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import in_kernel

from kernsim._core._export import EXPORTS
from kernsim._core._policy import RandomPolicy
from kernsim._core._task import TIF_SIGPENDING
from kernsim.linux import (
    DEFINE_MUTEX,
    EINTR,
    TASK_INTERRUPTIBLE,
    TASK_WAKEKILL,
    get_current,
    jiffies,
    kthread_run,
    kthread_stop,
    msleep,
    mutex,
    mutex_init,
    mutex_is_locked,
    mutex_lock,
    mutex_lock_interruptible,
    mutex_lock_killable,
    mutex_trylock,
    mutex_unlock,
    pr_debug,
    schedule_timeout_uninterruptible,
    wake_up_state,
)

SIGKILL = 9


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


def spawn(fn: Callable[[], Any], name: str = "helper") -> Any:
    return kthread_run(lambda _d: (fn(), 0)[1], None, name)


def test_trylock_lock_unlock_and_the_owner() -> None:
    def fn() -> list[Any]:
        me = get_current()
        m = DEFINE_MUTEX("m")
        out: list[Any] = [mutex_is_locked(m), m.owner]
        out += [mutex_trylock(m), mutex_is_locked(m), m.owner is me, mutex_trylock(m)]
        mutex_unlock(m)
        out += [mutex_is_locked(m), m.owner, me.held_locks]
        mutex_lock(m)
        out += [m.owner is me, [h.lock for h in me.held_locks] == [m]]
        mutex_init(m)                              # re-initialised: unlocked again
        out.append(mutex_is_locked(m))
        me.held_locks.clear()
        return out

    assert run(fn) == [False, None, 1, True, True, 0, False, None, [], True, True, False]


def test_a_free_mutex_is_taken_without_sleeping() -> None:
    def fn() -> tuple[int, int, int]:
        me = get_current()
        m = mutex()
        schedule_timeout_uninterruptible(1)
        j0, n0 = int(jiffies), me.nvcsw
        r = mutex_lock_interruptible(m)
        mutex_unlock(m)
        return r, int(jiffies) - j0, me.nvcsw - n0

    assert run(fn) == (0, 0, 0)


def test_waiters_sleep_in_d_and_get_the_mutex_in_fifo_order() -> None:
    def fn() -> dict[str, Any]:
        m = DEFINE_MUTEX("m")
        got: list[str] = []
        mutex_lock(m)
        tasks = []
        for name in ("w1", "w2", "w3"):
            def body(n: str = name) -> None:
                mutex_lock(m)
                got.append(n)
                msleep(1)
                mutex_unlock(m)
            tasks.append(spawn(body, name))
            msleep(2)
        out = {"states": [t.state_letter for t in tasks], "queue": [t.comm for t in m.waiters],
               "blocked_on": [t.blocked_on is m for t in tasks]}
        switches = [t.nvcsw for t in tasks[1:]]
        mutex_unlock(m)
        msleep(1)
        # only the first waiter was woken
        out["first"] = (list(got), [t.nvcsw for t in tasks[1:]] == switches)
        msleep(20)
        out["got"] = got
        out["after"] = (mutex_is_locked(m), m.waiters, [t.blocked_on for t in tasks])
        return out

    out = run(fn)
    assert out["states"] == ["D", "D", "D"]
    assert out["queue"] == ["w1", "w2", "w3"]
    assert out["blocked_on"] == [True, True, True]
    assert out["first"] == (["w1"], True)
    assert out["got"] == ["w1", "w2", "w3"]
    assert out["after"] == (False, [], [None, None, None])


def test_mutex_lock_interruptible_sleeps_in_s_and_kthread_stop_gives_eintr() -> None:
    def fn() -> tuple[str, list[Any], int, bool, Any]:
        m = DEFINE_MUTEX("m")
        res: list[Any] = []
        mutex_lock(m)

        def worker(_d: Any) -> int:
            res.append(mutex_lock_interruptible(m))
            res.append(mutex_lock_interruptible(m))  # the stop stays pending: at once
            return 5

        t = kthread_run(worker, None, "worker")
        msleep(10)
        letter = t.state_letter
        stopped = kthread_stop(t)
        return letter, res, stopped, mutex_is_locked(m), m.waiters

    letter, res, stopped, locked, waiters = run(fn)
    assert letter == "S"
    assert res == [-EINTR, -EINTR] == [-4, -4]
    assert (stopped, locked, waiters) == (5, True, [])


def test_a_woken_waiter_takes_the_free_mutex_before_it_looks_at_signals() -> None:
    """Unlocked, then stopped before it ran: the trylock comes first, so it
    returns 0 holding the mutex -- the wake-up is not lost."""
    def fn() -> tuple[list[Any], bool]:
        m = DEFINE_MUTEX("m")
        res: list[Any] = []
        mutex_lock(m)

        def worker(_d: Any) -> int:
            res.append(mutex_lock_interruptible(m))
            res.append(m.owner is get_current())
            mutex_unlock(m)
            return 0

        t = kthread_run(worker, None, "worker")
        msleep(10)
        mutex_unlock(m)        # wakes the worker; it has not run yet
        kthread_stop(t)        # ... and now a signal is pending too
        return res, mutex_is_locked(m)

    assert run(fn) == ([0, True], False)


def test_killable_ignores_kthread_stop_but_not_sigkill() -> None:
    def fn() -> tuple[str, list[Any]]:
        m = DEFINE_MUTEX("m")
        got: list[Any] = []
        mutex_lock(m)
        v = spawn(lambda: got.append(mutex_lock_killable(m)), "victim")
        msleep(5)
        letter = v.state_letter
        v.tif |= 1 << 17                         # TIF_NOTIFY_SIGNAL: not fatal
        wake_up_state(v, TASK_INTERRUPTIBLE | TASK_WAKEKILL)
        msleep(5)
        got.append(("still waiting", list(got)))
        v.signals |= 1 << SIGKILL
        v.tif |= TIF_SIGPENDING
        wake_up_state(v, TASK_INTERRUPTIBLE | TASK_WAKEKILL)
        msleep(5)
        mutex_unlock(m)
        return letter, got

    letter, got = run(fn)
    assert letter == "D"
    assert got == [("still waiting", []), -EINTR]


def test_a_task_that_takes_the_mutex_first_does_not_lose_the_waiters_wake_up() -> None:
    """The kernel lets a running task take a mutex whose first waiter was
    woken but has not run yet; the waiter sleeps again and the next unlock
    wakes it again."""
    def fn() -> tuple[list[str], int, list[Any]]:
        m = DEFINE_MUTEX("m")
        order: list[str] = []
        mutex_lock(m)
        w = spawn(lambda: (mutex_lock(m), order.append("waiter"), mutex_unlock(m)), "waiter")
        msleep(5)
        n0 = w.nvcsw
        mutex_unlock(m)           # wakes the waiter ...
        mutex_lock(m)             # ... but this task takes it first (fifo: still running)
        order.append("stealer")
        msleep(5)                 # the waiter ran, found it taken, and sleeps again
        slept_again = w.nvcsw - n0
        mutex_unlock(m)
        msleep(5)
        return order, slept_again, m.waiters

    order, slept_again, waiters = run(fn)
    assert order == ["stealer", "waiter"]
    assert slept_again == 1          # woken for nothing, so it slept again
    assert waiters == []


def test_lock_and_unlock_are_scheduling_points() -> None:
    """Under the random policy another task may run while the owner is inside
    its critical section (between mutex_lock's point and mutex_unlock's)."""
    assert EXPORTS["mutex_lock"].obj.__wrapped__ is not EXPORTS["mutex_lock"].obj
    seen_held = []
    for seed in range(12):
        def fn() -> bool:
            m = DEFINE_MUTEX("m")
            saw: list[bool] = []
            a = spawn(lambda: (mutex_lock(m), mutex_unlock(m)), "a")
            spawn(lambda: saw.extend(m.owner is a for _ in range(3)), "b")
            msleep(5)
            return any(saw)

        seen_held.append(run(fn, policy=RandomPolicy(seed)))
    assert any(seen_held) and not all(seen_held)


def test_mutual_exclusion_under_the_random_policy() -> None:
    """A read-modify-write with a kernel call in the middle loses updates
    without the mutex, never with it."""
    def counter(locked: bool, seed: int) -> int:
        def fn() -> int:
            m = DEFINE_MUTEX("m")
            box = [0]

            def body() -> None:
                for _ in range(20):
                    if locked:
                        mutex_lock(m)
                    c = box[0]
                    pr_debug("in between\n")     # a kernel call: a scheduling point
                    box[0] = c + 1
                    if locked:
                        mutex_unlock(m)

            for i in range(3):
                spawn(body, f"w{i}")
            msleep(50)
            return box[0]

        return int(run(fn, policy=RandomPolicy(seed)))

    assert all(counter(True, seed) == 60 for seed in range(5))
    assert any(counter(False, seed) < 60 for seed in range(5))


@pytest.mark.parametrize("seed", [1, 7])
def test_the_same_seed_gives_the_same_schedule(seed: int) -> None:
    def fn() -> list[str]:
        m = DEFINE_MUTEX("m")
        log: list[str] = []

        def body(n: str) -> None:
            for i in range(3):
                mutex_lock(m)
                log.append(f"{n}{i}")
                pr_debug("x")
                mutex_unlock(m)

        for n in "abc":
            spawn(lambda n=n: body(n), n)
        msleep(20)
        return log

    a, ka = in_kernel(fn, policy=RandomPolicy(seed))
    b, kb = in_kernel(fn, policy=RandomPolicy(seed))
    assert a == b
    assert ka.decisions.encode() == kb.decisions.encode()
