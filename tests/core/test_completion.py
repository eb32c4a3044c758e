"""Completions (spec §3.5; kernel/sched/completion.c, include/linux/completion.h).

``do_wait_for_common`` (6.1 - 6.7)::

    if (!x->done) {
        do {
            if (signal_pending_state(state, current)) { timeout = -ERESTARTSYS; break; }
            __prepare_to_swait(&x->wait, &wait);        /* FIFO, at the tail */
            __set_current_state(state);
            timeout = action(timeout);                  /* schedule_timeout() */
        } while (!x->done && timeout);
        __finish_swait(&x->wait, &wait);
        if (!x->done)
            return timeout;
    }
    if (x->done != UINT_MAX)
        x->done--;
    return timeout ?: 1;
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import in_kernel

from kernsim._core._task import TIF_NOTIFY_SIGNAL, TIF_SIGPENDING
from kernsim.linux import (
    DECLARE_COMPLETION,
    DECLARE_COMPLETION_ONSTACK,
    ERESTARTSYS,
    TASK_INTERRUPTIBLE,
    TASK_WAKEKILL,
    complete,
    complete_all,
    completion_done,
    get_current,
    init_completion,
    jiffies,
    kthread_run,
    kthread_stop,
    msleep,
    reinit_completion,
    schedule_timeout_uninterruptible,
    try_wait_for_completion,
    wait_for_completion,
    wait_for_completion_interruptible,
    wait_for_completion_interruptible_timeout,
    wait_for_completion_killable,
    wait_for_completion_killable_timeout,
    wait_for_completion_timeout,
    wake_up_state,
)

UINT_MAX = 0xFFFFFFFF
SIGKILL = 9


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


def spawn(fn: Callable[[], Any], name: str = "helper") -> Any:
    return kthread_run(lambda _d: (fn(), 0)[1], None, name)


def align() -> int:
    schedule_timeout_uninterruptible(1)
    return int(jiffies)


# every wait, as call(x) -> result; and what each returns when done > 0 on entry
WAITS: dict[str, Callable[[Any], Any]] = {
    "wait_for_completion": wait_for_completion,
    "wait_for_completion_timeout": lambda x: wait_for_completion_timeout(x, 1000),
    "wait_for_completion_interruptible": wait_for_completion_interruptible,
    "wait_for_completion_interruptible_timeout": lambda x: wait_for_completion_interruptible_timeout(x, 1000),
    "wait_for_completion_killable": wait_for_completion_killable,
    "wait_for_completion_killable_timeout": lambda x: wait_for_completion_killable_timeout(x, 1000),
}
SUCCESS_AT_ONCE = {"wait_for_completion": None, "wait_for_completion_timeout": 1000,
                   "wait_for_completion_interruptible": 0,
                   "wait_for_completion_interruptible_timeout": 1000,
                   "wait_for_completion_killable": 0, "wait_for_completion_killable_timeout": 1000}


def test_initial_state() -> None:
    def fn() -> list[Any]:
        x, y = DECLARE_COMPLETION(), DECLARE_COMPLETION_ONSTACK()
        j0 = int(jiffies)
        out = [x.done, y.done, completion_done(x), try_wait_for_completion(x), int(jiffies) - j0]
        complete(x)
        init_completion(x)
        out.append((x.done, completion_done(x)))
        return out

    assert run(fn) == [0, 0, False, False, 0, (0, False)]


@pytest.mark.parametrize("name", sorted(WAITS))
def test_n_completes_allow_n_waits_without_sleeping(name: str) -> None:
    call = WAITS[name]

    def fn() -> tuple[list[Any], int, int, int, int]:
        me = get_current()
        x = DECLARE_COMPLETION()
        for _ in range(3):
            complete(x)
        j0, n0 = align(), me.nvcsw
        results = [call(x) for _ in range(3)]
        slept, switches = int(jiffies) - j0, me.nvcsw - n0
        j0 = align()
        left = wait_for_completion_timeout(x, 10)           # the 4th blocks and times out
        return results, slept, switches, left, int(jiffies) - j0

    results, slept, switches, left, waited = run(fn)
    assert results == [SUCCESS_AT_ONCE[name]] * 3
    assert (slept, switches) == (0, 0)
    assert (left, waited) == (0, 11)


def test_timeout_forms_with_done_return_the_timeout_or_1() -> None:
    def fn() -> list[int]:
        x = DECLARE_COMPLETION()
        out = []
        for call, t in ((wait_for_completion_timeout, 100), (wait_for_completion_timeout, 0),
                        (wait_for_completion_interruptible_timeout, 50),
                        (wait_for_completion_interruptible_timeout, 0),
                        (wait_for_completion_killable_timeout, 7),
                        (wait_for_completion_killable_timeout, 0)):
            complete(x)
            out.append(call(x, t))
        return out

    assert run(fn) == [100, 1, 50, 1, 7, 1]


def test_wait_for_completion_timeout_0_still_sleeps_one_tick() -> None:
    """§5.4: with done == 0, schedule_timeout(0) arms a timer for J, which the
    wheel fires at J+1 (unlike wait_event_timeout(wq, c, 0), which never sleeps)."""
    def fn() -> tuple[int, int]:
        x = DECLARE_COMPLETION()
        j0 = align()
        return wait_for_completion_timeout(x, 0), int(jiffies) - j0

    assert run(fn) == (0, 1)


@pytest.mark.parametrize("call", [wait_for_completion_timeout, wait_for_completion_interruptible_timeout,
                                  wait_for_completion_killable_timeout])
def test_timeout_forms_return_the_jiffies_left(call: Callable[[Any, int], int]) -> None:
    def fn() -> tuple[int, int, int]:
        x = DECLARE_COMPLETION()
        j0 = align()
        spawn(lambda: (schedule_timeout_uninterruptible(9), complete(x)))   # at j0 + 10
        r = call(x, 100)
        return r, int(jiffies) - j0, x.done

    assert run(fn) == (90, 10, 0)


@pytest.mark.parametrize("call", [wait_for_completion_timeout, wait_for_completion_interruptible_timeout,
                                  wait_for_completion_killable_timeout])
def test_timeout_forms_return_0_on_timeout(call: Callable[[Any, int], int]) -> None:
    def fn() -> tuple[int, int, int, bool]:
        x = DECLARE_COMPLETION()
        j0 = align()
        r = call(x, 20)
        waited = int(jiffies) - j0
        complete(x)                             # the timed-out waiter was dequeued
        return r, waited, x.done, bool(x.waiters)

    assert run(fn) == (0, 21, 1, False)


def test_completed_in_the_tick_the_timeout_fires_returns_1() -> None:
    """``return timeout ?: 1``: done > 0 and the time used up at the same moment."""
    def fn() -> tuple[int, int, int]:
        x = DECLARE_COMPLETION()
        ready = DECLARE_COMPLETION()
        acted: list[int] = []

        def helper() -> None:
            complete(ready)
            schedule_timeout_uninterruptible(20)    # same expiry, armed first: runs first
            acted.append(int(jiffies))
            complete(x)

        align()
        spawn(helper)
        wait_for_completion(ready)
        j0 = int(jiffies)
        r = wait_for_completion_timeout(x, 20)
        assert acted and acted[0] == int(jiffies) == j0 + 21
        return r, x.done, int(jiffies) - j0

    assert run(fn) == (1, 0, 21)


def test_complete_wakes_the_oldest_waiter_only() -> None:
    """The others are not even woken (no spurious wake-up: their voluntary
    context-switch counts do not move)."""
    def fn() -> list[list[str]]:
        x = DECLARE_COMPLETION()
        woke: list[str] = []
        tasks = []
        for name in ("w1", "w2", "w3"):
            tasks.append(spawn(lambda n=name: (wait_for_completion(x), woke.append(n)), name))
            msleep(2)
        rounds = []
        for i in range(3):
            switches = [t.nvcsw for t in tasks[i + 1:]]
            complete(x)
            msleep(2)
            rounds.append(list(woke))
            assert [t.nvcsw for t in tasks[i + 1:]] == switches
        rounds.append([str(x.done)])
        return rounds

    assert run(fn) == [["w1"], ["w1", "w2"], ["w1", "w2", "w3"], ["0"]]


def test_complete_all_and_reinit() -> None:
    def fn() -> dict[str, Any]:
        x = DECLARE_COMPLETION()
        woke: list[str] = []
        for name in ("a", "b", "c"):
            spawn(lambda n=name: (wait_for_completion(x), woke.append(n)), name)
        msleep(5)
        complete_all(x)
        msleep(5)
        out: dict[str, Any] = {"woke": sorted(woke), "done": x.done}
        out["waits"] = [wait_for_completion_timeout(x, 5) for _ in range(3)] + [
            wait_for_completion_interruptible(x), try_wait_for_completion(x)]
        complete(x)                            # UINT_MAX stays UINT_MAX
        out["after"] = (x.done, completion_done(x))
        reinit_completion(x)
        out["reinit"] = (x.done, completion_done(x), try_wait_for_completion(x))
        return out

    out = run(fn)
    assert out["woke"] == ["a", "b", "c"]
    assert out["done"] == UINT_MAX
    assert out["waits"] == [5, 5, 5, 0, True]
    assert out["after"] == (UINT_MAX, True)
    assert out["reinit"] == (0, False, False)


def test_reinit_completion_leaves_the_waiters() -> None:
    def fn() -> list[str]:
        x = DECLARE_COMPLETION()
        woke: list[str] = []
        spawn(lambda: (wait_for_completion(x), woke.append("w")))
        msleep(5)
        reinit_completion(x)
        complete(x)
        msleep(5)
        return woke

    assert run(fn) == ["w"]


def test_try_wait_and_completion_done() -> None:
    def fn() -> list[Any]:
        x = DECLARE_COMPLETION()
        out = [try_wait_for_completion(x), completion_done(x)]
        complete(x)
        complete(x)
        out += [completion_done(x), x.done, try_wait_for_completion(x), x.done,
                try_wait_for_completion(x), try_wait_for_completion(x), completion_done(x)]
        return out

    assert run(fn) == [False, False, True, 2, True, 1, True, False, False]


@pytest.mark.parametrize("name, letter", [("wait_for_completion", "D"),
                                          ("wait_for_completion_interruptible", "S"),
                                          ("wait_for_completion_killable", "D"),
                                          ("wait_for_completion_timeout", "D"),
                                          ("wait_for_completion_interruptible_timeout", "S")])
def test_sleep_states(name: str, letter: str) -> None:
    def fn() -> str:
        x = DECLARE_COMPLETION()
        t = spawn(lambda: WAITS[name](x))
        msleep(5)
        seen = t.state_letter
        complete(x)
        return seen

    assert run(fn) == letter


@pytest.mark.parametrize("call, interrupted", [
    (wait_for_completion_interruptible, -ERESTARTSYS),
    (lambda x: wait_for_completion_interruptible_timeout(x, 1000), -ERESTARTSYS),
])
def test_kthread_stop_interrupts_interruptible_waits(call: Callable[[Any], int], interrupted: int) -> None:
    def fn() -> tuple[int, list[Any]]:
        x = DECLARE_COMPLETION()
        res: list[Any] = []

        def worker(_d: Any) -> int:
            res.append(call(x))
            res.append(bool(x.waiters))
            complete(x)                       # a posted completion is still consumed first
            res.append(call(x))
            return 0

        t = kthread_run(worker, None, "worker")
        msleep(10)
        return kthread_stop(t), res

    stop, res = run(fn)
    assert stop == 0
    assert res[0] == interrupted == -512
    assert res[1] is False
    assert res[2] in (0, 1000)


def test_killable_waits_ignore_tif_notify_signal_but_not_sigkill() -> None:
    def fn() -> tuple[list[Any], int, list[Any]]:
        x = DECLARE_COMPLETION()
        res: list[Any] = []

        def worker(_d: Any) -> int:
            res.append(wait_for_completion_killable(x))   # the stop does not end this
            return 4

        t = kthread_run(worker, None, "worker")
        msleep(10)
        stopper = spawn(lambda: res.append(("stop", kthread_stop(t))), "stopper")
        msleep(50)
        before = list(res)
        complete(x)
        msleep(5)
        # now a fatal signal
        y = DECLARE_COMPLETION()
        got: list[Any] = []
        v = spawn(lambda: (got.append(wait_for_completion_killable(y)),
                           got.append(wait_for_completion_killable_timeout(y, 100))), "victim")
        msleep(5)
        v.signals |= 1 << SIGKILL
        v.tif |= TIF_SIGPENDING
        woke = wake_up_state(v, TASK_INTERRUPTIBLE | TASK_WAKEKILL)
        msleep(5)
        return before + res, woke, got + [stopper.state_letter]

    res, woke, got = run(fn)
    assert res == [0, ("stop", 4)]
    assert woke == 1
    assert got == [-ERESTARTSYS, -ERESTARTSYS, "X"]


def test_uninterruptible_wait_ignores_signals() -> None:
    def fn() -> tuple[int, int]:
        me = get_current()
        x = DECLARE_COMPLETION()
        j0 = align()
        spawn(lambda: (schedule_timeout_uninterruptible(9), complete(x)))
        me.tif |= TIF_NOTIFY_SIGNAL | TIF_SIGPENDING      # (after the spawn: kthread_create
        me.signals |= 1 << SIGKILL                         #  itself waits killable)
        r = wait_for_completion_timeout(x, 100)
        me.tif &= ~(TIF_NOTIFY_SIGNAL | TIF_SIGPENDING)
        me.signals = 0
        return r, int(jiffies) - j0

    assert run(fn) == (90, 10)


def test_wait_for_completion_blocks_forever_without_complete() -> None:
    def fn() -> str:
        x = DECLARE_COMPLETION()
        t = spawn(lambda: wait_for_completion(x))
        msleep(10_000)
        return t.state_letter

    assert run(fn, hung_task_timeout_secs=0) == "D"

