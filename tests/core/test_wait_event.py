"""The wait_event* macros (spec §3.1-§3.3; include/linux/wait.h).

How often is the condition evaluated?  The spec (§3.1) says 2 + 2k for k
wake-ups, counting a second test "right after waking".  The 6.x source of
``___wait_event`` (include/linux/wait.h, unchanged 6.1 - 6.7) has no such
second test::

    init_wait_entry(&__wq_entry, exclusive ? WQ_FLAG_EXCLUSIVE : 0);
    for (;;) {
        long __int = prepare_to_wait_event(&wq_head, &__wq_entry, state);
        if (condition)
            break;
        if (___wait_is_interruptible(state) && __int) {
            __ret = __int;
            goto __out;
        }
        cmd;
    }
    finish_wait(&wq_head, &__wq_entry);
    __out:  __ret;

and the outer macro (``wait_event``: ``if (condition) break;
__wait_event(...)``) tests it once before.  So a waiter woken k times
without the condition becoming true has evaluated it 2 + k times (1 fast path
+ 1 per loop pass).  A real Debian 6.1 kernel agrees: tests/oracle/
wait_event_evals.dmesg reports ``evals=5`` after 3 wake-ups (2 false + 1
true: 1 + 1 + 3).  These tests pin the source's count.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import in_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

from kernsim._core._task import TIF_NOTIFY_SIGNAL, TIF_SIGPENDING
from kernsim.linux import (
    DECLARE_COMPLETION,
    DECLARE_WAIT_QUEUE_HEAD,
    ERESTARTSYS,
    TASK_IDLE,
    TASK_INTERRUPTIBLE,
    TASK_KILLABLE,
    TASK_RUNNING,
    TASK_UNINTERRUPTIBLE,
    TASK_WAKEKILL,
    complete,
    get_current,
    jiffies,
    kthread_run,
    kthread_should_stop,
    kthread_stop,
    msleep,
    schedule_timeout_uninterruptible,
    wait_event,
    wait_event_idle,
    wait_event_idle_timeout,
    wait_event_interruptible,
    wait_event_interruptible_exclusive,
    wait_event_interruptible_timeout,
    wait_event_killable,
    wait_event_killable_timeout,
    wait_event_timeout,
    wait_for_completion,
    waitqueue_active,
    wake_up,
    wake_up_process,
    wake_up_state,
)

SIGKILL = 9


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


def spawn(fn: Callable[[], Any], name: str = "helper") -> Any:
    return kthread_run(lambda _d: (fn(), 0)[1], None, name)


def align() -> int:
    schedule_timeout_uninterruptible(1)
    return int(jiffies)


def fire_at(expires: int, base_clk: int) -> int:
    """calc_wheel_index bucket expiry, levels 0-3 (enough here)."""
    delta = expires - base_clk
    lvl = next(lvl for lvl in range(8) if delta < 63 << (3 * lvl))
    return ((expires >> (3 * lvl)) + 1) << (3 * lvl)


class Counter:
    """A condition with a side effect: counts its evaluations."""

    def __init__(self) -> None:
        self.evals = 0
        self.value = False

    def __call__(self) -> bool:
        self.evals += 1
        return self.value


# name -> (call(wq, cond) -> result, the state it sleeps in)
MACROS: dict[str, tuple[Callable[[Any, Any], Any], int]] = {
    "wait_event": (wait_event, TASK_UNINTERRUPTIBLE),
    "wait_event_timeout": (lambda wq, c: wait_event_timeout(wq, c, 100_000), TASK_UNINTERRUPTIBLE),
    "wait_event_interruptible": (wait_event_interruptible, TASK_INTERRUPTIBLE),
    "wait_event_interruptible_timeout": (
        lambda wq, c: wait_event_interruptible_timeout(wq, c, 100_000), TASK_INTERRUPTIBLE),
    "wait_event_interruptible_exclusive": (wait_event_interruptible_exclusive, TASK_INTERRUPTIBLE),
    "wait_event_killable": (wait_event_killable, TASK_KILLABLE),
    "wait_event_killable_timeout": (lambda wq, c: wait_event_killable_timeout(wq, c, 100_000),
                                    TASK_KILLABLE),
    "wait_event_idle": (wait_event_idle, TASK_IDLE),
    "wait_event_idle_timeout": (lambda wq, c: wait_event_idle_timeout(wq, c, 100_000), TASK_IDLE),
}


# -- the condition ------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MACROS))
@pytest.mark.parametrize("cond", [True, 1, None, "x > 3"])
def test_non_callable_condition_is_a_type_error(name: str, cond: Any) -> None:
    call = MACROS[name][0]

    def fn() -> str:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        try:
            call(wq, cond)
        except TypeError as e:
            return str(e)
        return "no error"

    msg = run(fn)
    assert "callable" in msg


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(MACROS)), k=st.integers(0, 6))
def test_condition_is_evaluated_2_plus_k_times(name: str, k: int) -> None:
    """k wake-ups with the condition false, then one that makes it true:
    1 (fast path) + 1 (first pass) + k + 1 evaluations -- see the module docstring."""
    call, _state = MACROS[name]

    def fn() -> tuple[int, Any, bool]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        cond = Counter()

        def waker() -> None:
            for _ in range(k):
                msleep(10)
                wake_up(wq)
            msleep(10)
            cond.value = True
            wake_up(wq)

        spawn(waker)
        r = call(wq, cond)
        return cond.evals, r, waitqueue_active(wq)

    evals, r, active = run(fn)
    assert evals == 2 + (k + 1)
    assert not active                       # finish_wait dequeued the entry
    if name.endswith("timeout"):
        assert 0 < r < 100_000
    elif r is not None:
        assert r == 0


def test_oracle_count_three_wake_ups_five_evaluations() -> None:
    """The tests/oracle/wait_event_evals scenario: flag = 1, 2, 3 with a
    wake_up each; the condition is ``flag >= 3``."""
    def fn() -> int:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        state = {"flag": 0, "evals": 0}

        def cond() -> bool:
            state["evals"] += 1
            return state["flag"] >= 3

        def waker() -> None:
            for n in range(1, 4):
                msleep(100)
                state["flag"] = n
                wake_up(wq)

        spawn(waker)
        wait_event(wq, cond)
        return state["evals"]

    assert run(fn) == 5


def test_condition_true_on_entry_is_evaluated_once_and_does_not_sleep() -> None:
    def fn() -> list[tuple[int, Any, int]]:
        out = []
        for name in sorted(MACROS):
            wq = DECLARE_WAIT_QUEUE_HEAD()
            c = Counter()
            c.value = True
            j0 = int(jiffies)
            r = MACROS[name][0](wq, c)
            out.append((c.evals, r, int(jiffies) - j0))
        return out

    for evals, r, slept in run(fn):
        assert (evals, slept) == (1, 0)
        assert r in (None, 0, 100_000)


def test_condition_true_after_queueing_does_not_sleep() -> None:
    """False on the fast path, true on the first pass: 2 evaluations, no sleep."""
    def fn() -> tuple[int, int, int]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        calls = [False, True]
        n = [0]

        def cond() -> bool:
            n[0] += 1
            return calls[n[0] - 1]

        me = get_current()
        j0, s0 = int(jiffies), me.nvcsw
        wait_event(wq, cond)
        return n[0], int(jiffies) - j0, me.nvcsw - s0

    assert run(fn) == (2, 0, 0)


def test_a_direct_wake_up_process_is_a_spurious_wake() -> None:
    """Woken without the queue (wake_up_process): the entry stays queued, the
    condition is re-tested once, and the waiter sleeps again."""
    def fn() -> tuple[int, bool, int]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        c = Counter()
        me = get_current()
        seen: list[bool] = []

        def poker() -> None:
            msleep(10)
            wake_up_process(me)
            msleep(10)
            seen.append(waitqueue_active(wq))
            c.value = True
            wake_up(wq)

        spawn(poker)
        wait_event(wq, c)
        return c.evals, seen[0], me.state

    assert run(fn) == (4, True, TASK_RUNNING)


# -- states ------------------------------------------------------------------------------

def test_sleep_states() -> None:
    def fn() -> dict[str, tuple[int, str]]:
        out = {}
        for name, (call, _state) in MACROS.items():
            wq = DECLARE_WAIT_QUEUE_HEAD()
            c = Counter()
            t = spawn(lambda call=call, wq=wq, c=c: call(wq, c), name[:15])
            msleep(10)
            out[name] = (t.state, t.state_letter)
            c.value = True
            wake_up(wq)
            msleep(10)
        return out

    got = run(fn)
    letters = {TASK_UNINTERRUPTIBLE: "D", TASK_INTERRUPTIBLE: "S", TASK_KILLABLE: "D", TASK_IDLE: "I"}
    assert got == {n: (s, letters[s]) for n, (_c, s) in MACROS.items()}


# -- §3.3 return values of the timeout forms --------------------------------------------

TIMEOUT_FORMS = {
    "wait_event_timeout": wait_event_timeout,
    "wait_event_interruptible_timeout": wait_event_interruptible_timeout,
    "wait_event_killable_timeout": wait_event_killable_timeout,
    "wait_event_idle_timeout": wait_event_idle_timeout,
}


@pytest.mark.parametrize("name", sorted(TIMEOUT_FORMS))
def test_timeout_forms_fast_path(name: str) -> None:
    """Rule 1: true on entry -> t, or 1 if t == 0.  Rule 2: false and t == 0 -> 0.
    Neither sleeps."""
    call = TIMEOUT_FORMS[name]

    def fn() -> list[tuple[Any, int, int]]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        out = []
        for value, t in ((True, 100), (True, 0), (False, 0)):
            c = Counter()
            c.value = value
            j0 = int(jiffies)
            out.append((call(wq, c, t), c.evals, int(jiffies) - j0))
        return out

    assert run(fn) == [(100, 1, 0), (1, 1, 0), (0, 1, 0)]


@pytest.mark.parametrize("name", sorted(TIMEOUT_FORMS))
def test_timeout_forms_true_after_a_sleep_return_the_jiffies_left(name: str) -> None:
    call = TIMEOUT_FORMS[name]

    def fn() -> tuple[int, int]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        c = Counter()
        j0 = align()

        def setter() -> None:
            schedule_timeout_uninterruptible(9)     # wakes at j0 + 10
            c.value = True
            wake_up(wq)

        spawn(setter)
        r = call(wq, c, 100)
        return r, int(jiffies) - j0

    assert run(fn) == (90, 10)


@pytest.mark.parametrize("name", sorted(TIMEOUT_FORMS))
@pytest.mark.parametrize("hz, t", [(250, 5), (250, 250), (1000, 1000), (100, 7)])
def test_timeout_forms_return_0_on_timeout(name: str, hz: int, t: int) -> None:
    """Rule 4: false at the timeout -> 0, after the wheel-rounded sleep; the
    condition is evaluated once more after the timeout wake (1 + 2)."""
    call = TIMEOUT_FORMS[name]

    def fn() -> tuple[int, int, int, int]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        c = Counter()
        j0 = align()
        r = call(wq, c, t)
        return r, j0, int(jiffies), c.evals

    r, j0, j1, evals = run(fn, hz=hz)
    assert r == 0
    assert j1 == fire_at(j0 + t, j0)
    assert evals == 3


def _at_the_timeout(call: Callable[[int], Any], action: Callable[[Any], None], t: int = 20) -> tuple[Any, int, int]:
    """Make *action(waiter)* happen in the very tick the waiter's timeout fires,
    before the waiter runs: a helper arms the same expiry first (same jiffy, so
    its timer fires first and it is queued to run first)."""
    def fn() -> tuple[Any, int, int]:
        me = get_current()
        ready = DECLARE_COMPLETION()
        acted_at: list[int] = []

        def helper() -> None:
            complete(ready)
            schedule_timeout_uninterruptible(t)
            acted_at.append(int(jiffies))
            action(me)

        align()
        spawn(helper)
        wait_for_completion(ready)
        j0 = int(jiffies)
        r = call(t)
        assert acted_at, "the helper must act before the waiter resumes"
        assert acted_at[0] == int(jiffies) == j0 + t + 1
        return r, j0, int(jiffies)

    return run(fn)


@pytest.mark.parametrize("name", sorted(TIMEOUT_FORMS))
def test_condition_true_exactly_at_the_timeout_returns_1(name: str) -> None:
    """Rule 4: the condition is tested once more after the timeout wake; true
    then -> 1 (``___wait_cond_timeout``: ``if (__cond && !__ret) __ret = 1``)."""
    wq_box: list[Any] = []
    c = Counter()

    def call(t: int) -> Any:
        wq_box.append(DECLARE_WAIT_QUEUE_HEAD())
        return TIMEOUT_FORMS[name](wq_box[0], c, t)

    def action(_waiter: Any) -> None:
        c.value = True

    r, _j0, _j1 = _at_the_timeout(call, action)
    assert r == 1
    assert c.evals == 3


@pytest.mark.parametrize("name", ["wait_event_interruptible_timeout", "wait_event_killable_timeout"])
def test_timeout_beats_a_signal_that_arrives_with_it(name: str) -> None:
    """Rule 5 note: if the timeout and the signal coincide, 0 (rule 4) wins --
    the wrapped condition ``__cond || !__ret`` is tested before ``__int``."""
    c = Counter()

    def call(t: int) -> Any:
        return TIMEOUT_FORMS[name](DECLARE_WAIT_QUEUE_HEAD(), c, t)

    def action(waiter: Any) -> None:
        waiter.tif |= TIF_SIGPENDING
        waiter.signals |= 1 << SIGKILL

    r, _j0, _j1 = _at_the_timeout(call, action)
    assert r == 0


@pytest.mark.parametrize("name", ["wait_event_interruptible_timeout", "wait_event_interruptible"])
def test_kthread_stop_interrupts_interruptible_waits(name: str) -> None:
    """Rule 5 / §3.2: TIF_NOTIFY_SIGNAL from kthread_stop (6.0+) -> -ERESTARTSYS,
    now and for every later interruptible wait whose condition is false."""
    call = {"wait_event_interruptible": lambda wq, c: wait_event_interruptible(wq, c),
            "wait_event_interruptible_timeout":
                lambda wq, c: wait_event_interruptible_timeout(wq, c, 10_000)}[name]

    def fn() -> tuple[int, list[Any]]:
        res: list[Any] = []

        def worker(_d: Any) -> int:
            wq = DECLARE_WAIT_QUEUE_HEAD()
            c = Counter()
            r = call(wq, c)
            me = get_current()
            res.append((r, c.evals, me.state, waitqueue_active(wq)))
            j0 = int(jiffies)
            res.append((call(wq, c), c.evals, int(jiffies) - j0))
            c.value = True                       # a true condition beats the signal
            res.append(call(wq, c))
            return 5

        t = kthread_run(worker, None, "worker")
        msleep(100)
        return kthread_stop(t), res

    stop_ret, res = run(fn)
    assert stop_ret == 5
    assert res[0] == (-ERESTARTSYS, 2 + 1, TASK_RUNNING, False)
    assert res[1] == (-512, 3 + 2, 0)                       # fast path + one pass, no sleep
    assert res[2] == (10_000 if name.endswith("timeout") else 0)


@pytest.mark.parametrize("name", ["wait_event_killable", "wait_event_killable_timeout",
                                  "wait_event", "wait_event_timeout", "wait_event_idle"])
def test_kthread_stop_only_wakes_non_interruptible_waits_once(name: str) -> None:
    """KILLABLE needs a fatal signal; UNINTERRUPTIBLE/IDLE are never
    interrupted: the stop's wake_up_process makes them re-test the condition
    (one extra evaluation) and sleep again -- until the condition becomes true."""
    call = MACROS[name][0]

    def fn() -> tuple[int, int, int, Any]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        c = Counter()
        res: list[Any] = []

        def worker(_d: Any) -> int:
            res.append(call(wq, c))
            return 3

        t = kthread_run(worker, None, "worker")
        msleep(10)
        stopper = spawn(lambda: res.append(("stopped", kthread_stop(t))), "stopper")
        msleep(100)
        evals_while_stopping = c.evals
        stopper_letter = stopper.state_letter
        c.value = True
        wake_up(wq)
        msleep(10)
        return evals_while_stopping, c.evals, stopper_letter == "D", res

    evals_stopping, evals, stopper_in_d, res = run(fn)
    assert evals_stopping == 3                  # 2 + the stop's wake
    assert evals == 4
    assert stopper_in_d
    assert res[1] == ("stopped", 3)
    assert res[0] in (None, 0) or 0 < res[0] < 100_000


@pytest.mark.parametrize("name", ["wait_event_killable", "wait_event_killable_timeout",
                                  "wait_event_interruptible"])
def test_a_fatal_signal_interrupts_killable_waits(name: str) -> None:
    """As signal_wake_up(t, fatal) does: TIF_SIGPENDING + SIGKILL pending, then
    wake_up_state(t, TASK_INTERRUPTIBLE | TASK_WAKEKILL)."""
    call = MACROS[name][0]

    def fn() -> tuple[Any, int, bool]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        c = Counter()
        res: list[Any] = []
        t = spawn(lambda: res.append(call(wq, c)))
        msleep(10)
        t.signals |= 1 << SIGKILL
        t.tif |= TIF_SIGPENDING
        woke = wake_up_state(t, TASK_INTERRUPTIBLE | TASK_WAKEKILL)
        msleep(10)
        return res[0], woke, waitqueue_active(wq)

    r, woke, active = run(fn)
    assert (r, woke, active) == (-ERESTARTSYS, 1, False)


def test_a_non_fatal_signal_does_not_interrupt_killable_waits() -> None:
    def fn() -> tuple[int, list[Any]]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        c = Counter()
        res: list[Any] = []
        t = spawn(lambda: res.append(wait_event_killable(wq, c)))
        msleep(10)
        t.signals |= 1 << 2                      # SIGINT
        t.tif |= TIF_SIGPENDING
        woke = wake_up_state(t, TASK_INTERRUPTIBLE)   # signal_wake_up(t, 0)
        msleep(10)
        before = list(res)
        c.value = True
        wake_up(wq)
        msleep(10)
        return woke, before + res

    assert run(fn) == (0, [0])


def test_exclusive_waiters_are_woken_one_at_a_time_in_arrival_order() -> None:
    def fn() -> list[list[str]]:
        wq = DECLARE_WAIT_QUEUE_HEAD()
        tokens = [0]
        woke: list[str] = []

        def take() -> bool:
            if tokens[0]:
                tokens[0] -= 1
                return True
            return False

        for name in ("w1", "w2", "w3"):
            spawn(lambda n=name: (wait_event_interruptible_exclusive(wq, take), woke.append(n)), name)
            msleep(2)
        rounds = []
        for _ in range(3):
            tokens[0] += 1
            wake_up(wq)
            msleep(5)
            rounds.append(list(woke))
        return rounds

    assert run(fn) == [["w1"], ["w1", "w2"], ["w1", "w2", "w3"]]


def test_pending_signal_on_entry_with_true_condition_is_success() -> None:
    def fn() -> list[Any]:
        me = get_current()
        wq = DECLARE_WAIT_QUEUE_HEAD()
        me.tif |= TIF_NOTIFY_SIGNAL
        c = Counter()
        c.value = True
        out = [wait_event_interruptible(wq, c), wait_event_interruptible_timeout(wq, c, 50)]
        c.value = False
        out.append(wait_event_interruptible_timeout(wq, c, 50))
        out.append(wait_event_interruptible_timeout(wq, c, 0))   # rule 2 precedes the signal
        me.tif &= ~TIF_NOTIFY_SIGNAL
        return out

    assert run(fn) == [0, 50, -ERESTARTSYS, 0]


def test_kthread_should_stop_as_condition() -> None:
    """The recommended pattern: wait_event_*(wq, cond or kthread_should_stop())."""
    def fn() -> int:
        wq = DECLARE_WAIT_QUEUE_HEAD()

        def worker(_d: Any) -> int:
            n = 0
            while not kthread_should_stop():
                wait_event(wq, kthread_should_stop)
                n += 1
            return n

        t = kthread_run(worker, None, "worker")
        msleep(50)
        return kthread_stop(t)

    assert run(fn) == 1

