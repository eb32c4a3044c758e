"""Task states, schedule(), wake_up_process(), schedule_timeout() and the
sleep primitives (spec §1, §5.3; kernel/sched/core.c, include/linux/sched.h,
kernel/time/timer.c).

Signals: kthreads ignore signals, and kernsim has no signal sending API, so
where a test needs a *pending signal* it either uses kthread_stop()'s
TIF_NOTIFY_SIGNAL (the real 6.0+ mechanism) or sets the thread_info flag by
hand, as ``signal_wake_up()`` would after ``allow_signal()`` + ``kill``.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import in_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

from kernsim._core import _states
from kernsim._core._current import cur
from kernsim._core._sched import signal_pending_state
from kernsim._core._task import TIF_NOTIFY_SIGNAL, TIF_SIGPENDING
from kernsim.linux import (
    EXIT_DEAD,
    EXIT_ZOMBIE,
    MAX_SCHEDULE_TIMEOUT,
    TASK_DEAD,
    TASK_FREEZABLE,
    TASK_FROZEN,
    TASK_IDLE,
    TASK_INTERRUPTIBLE,
    TASK_KILLABLE,
    TASK_NEW,
    TASK_NOLOAD,
    TASK_NORMAL,
    TASK_PARKED,
    TASK_RTLOCK_WAIT,
    TASK_RUNNING,
    TASK_STOPPED,
    TASK_TRACED,
    TASK_UNINTERRUPTIBLE,
    TASK_WAKEKILL,
    TASK_WAKING,
    __TASK_STOPPED,
    __TASK_TRACED,
    get_current,
    jiffies,
    kthread_create,
    kthread_run,
    kthread_should_stop,
    kthread_stop,
    msleep,
    msleep_interruptible,
    schedule,
    schedule_timeout,
    schedule_timeout_idle,
    schedule_timeout_interruptible,
    schedule_timeout_killable,
    schedule_timeout_uninterruptible,
    set_current_state,
    signal_pending,
    ssleep,
    wake_up_process,
    wake_up_state,
)

SIGKILL = 9
SIGINT = 2
ULONG = (1 << 64) - 1
LONG_MAX = (1 << 63) - 1


def spawn(fn: Callable[[], Any], name: str = "helper") -> Any:
    """kthread_run a helper that runs ``fn()`` (and returns 0)."""
    return kthread_run(lambda _data: (fn(), 0)[1], None, name)


def align() -> int:
    """Sleep to just after a tick; return jiffies."""
    schedule_timeout_uninterruptible(1)
    return int(jiffies)


def msecs_to_jiffies_ref(m: int, hz: int) -> int:
    """ceil(m * HZ / 1000) (exact for every m < 2^31, see test_time)."""
    return -(-m * hz // 1000)


def fire_at(expires: int, base_clk: int, hz: int) -> int:
    """calc_wheel_index's bucket expiry (spec §5.4)."""
    depth = 9 if hz > 100 else 8
    delta = expires - base_clk
    if delta < 0:
        return base_clk
    for lvl in range(depth - 1):
        if delta < 63 << (3 * lvl):
            break
    else:
        lvl = depth - 1
        if delta >= 63 << (3 * (depth - 1)):
            expires = base_clk + (63 << (3 * (depth - 1))) - 8 ** (depth - 1)
    return ((expires >> (3 * lvl)) + 1) << (3 * lvl)


# -- §1.1 state bits ---------------------------------------------------------------

def test_task_state_bit_values() -> None:
    assert (TASK_RUNNING, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE) == (0x0000, 0x0001, 0x0002)
    assert (__TASK_STOPPED, __TASK_TRACED) == (0x0004, 0x0008)
    assert (EXIT_DEAD, EXIT_ZOMBIE) == (0x0010, 0x0020)
    assert (TASK_PARKED, TASK_DEAD, TASK_WAKEKILL, TASK_WAKING) == (0x0040, 0x0080, 0x0100, 0x0200)
    assert (TASK_NOLOAD, TASK_NEW, TASK_RTLOCK_WAIT) == (0x0400, 0x0800, 0x1000)
    assert (TASK_FREEZABLE, TASK_FROZEN) == (0x2000, 0x8000)
    assert TASK_KILLABLE == TASK_WAKEKILL | TASK_UNINTERRUPTIBLE == 0x0102
    assert TASK_STOPPED == TASK_WAKEKILL | __TASK_STOPPED == 0x0104
    assert TASK_TRACED == __TASK_TRACED == 0x0008
    assert TASK_IDLE == TASK_UNINTERRUPTIBLE | TASK_NOLOAD == 0x0402
    assert TASK_NORMAL == TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE == 0x0003
    assert MAX_SCHEDULE_TIMEOUT == LONG_MAX


# -- §1.2 reporting ------------------------------------------------------------------

TASK_REPORT = 0x7F  # RUNNING|INTERRUPTIBLE|UNINTERRUPTIBLE|__STOPPED|__TRACED|EXIT_DEAD|EXIT_ZOMBIE|PARKED


def k_task_state_index(state: int, exit_state: int = 0) -> int:
    """``__task_state_index()`` (include/linux/sched.h): the RTLOCK/FROZEN
    assignment comes *after* the IDLE one, so it wins."""
    s = (state | exit_state) & TASK_REPORT
    if (state & TASK_IDLE) == TASK_IDLE:
        s = TASK_REPORT + 1
    if state & TASK_RTLOCK_WAIT or state & TASK_FROZEN:
        s = TASK_UNINTERRUPTIBLE
    return s.bit_length()  # fls()


@pytest.mark.parametrize("state, exit_state, letter, status", [
    (TASK_RUNNING, 0, "R", "R (running)"),
    (TASK_INTERRUPTIBLE, 0, "S", "S (sleeping)"),
    (TASK_UNINTERRUPTIBLE, 0, "D", "D (disk sleep)"),
    (TASK_KILLABLE, 0, "D", "D (disk sleep)"),
    (TASK_IDLE, 0, "I", "I (idle)"),
    (TASK_INTERRUPTIBLE | TASK_FREEZABLE, 0, "S", "S (sleeping)"),
    (TASK_UNINTERRUPTIBLE | TASK_FREEZABLE, 0, "D", "D (disk sleep)"),
    (TASK_PARKED, 0, "P", "P (parked)"),
    (__TASK_STOPPED, 0, "T", "T (stopped)"),
    (TASK_STOPPED, 0, "T", "T (stopped)"),
    (TASK_TRACED, 0, "t", "t (tracing stop)"),
    (TASK_DEAD, EXIT_DEAD, "X", "X (dead)"),
    (TASK_DEAD, EXIT_ZOMBIE, "Z", "Z (zombie)"),
    (TASK_RTLOCK_WAIT, 0, "D", "D (disk sleep)"),
    (TASK_FROZEN, 0, "D", "D (disk sleep)"),
    (TASK_IDLE | TASK_FROZEN, 0, "D", "D (disk sleep)"),   # FROZEN overrides IDLE
    (TASK_NEW, 0, "R", "R (running)"),
    (TASK_WAKING, 0, "R", "R (running)"),
])
def test_state_letters(state: int, exit_state: int, letter: str, status: str) -> None:
    assert _states.state_letter(state, exit_state) == letter
    assert _states.status_name(state, exit_state) == status
    assert "RSDTtXZPI"[k_task_state_index(state, exit_state)] == letter


@given(state=st.integers(0, 0xFFFF), exit_state=st.sampled_from([0, EXIT_DEAD, EXIT_ZOMBIE]))
def test_state_index_is_the_kernels(state: int, exit_state: int) -> None:
    assert _states.state_index(state, exit_state) == k_task_state_index(state, exit_state)


def test_observed_letters_of_sleeping_tasks() -> None:
    """§1.2 test vectors: a created-but-never-woken kthread and msleep are D,
    msleep_interruptible is S, schedule_timeout_idle is I, killable is D."""
    def fn() -> dict[str, str]:
        sleeps = {
            "msleep": lambda: msleep(10_000),
            "msleep_interruptible": lambda: msleep_interruptible(10_000),
            "idle": lambda: schedule_timeout_idle(10_000),
            "killable": lambda: schedule_timeout_killable(10_000),
            "interruptible": lambda: schedule_timeout_interruptible(10_000),
            "uninterruptible": lambda: schedule_timeout_uninterruptible(10_000),
        }
        tasks = {name: spawn(f, name) for name, f in sleeps.items()}
        tasks["created"] = kthread_create(lambda d: 0, None, "created")
        msleep(100)
        out = {name: t.state_letter for name, t in tasks.items()}
        out["current"] = get_current().state_letter
        return out

    letters, _ = in_kernel(fn)
    assert letters == {"msleep": "D", "msleep_interruptible": "S", "idle": "I", "killable": "D",
                       "interruptible": "S", "uninterruptible": "D", "created": "D", "current": "R"}


# -- §1.3 / §1.4 schedule and wake_up_process -------------------------------------

def test_set_current_state_and_schedule_block_until_wake_up_process() -> None:
    log: list[Any] = []

    def sleeper() -> None:
        set_current_state(TASK_INTERRUPTIBLE)
        log.append(("sleeping", int(jiffies)))
        schedule()
        log.append(("woken", int(jiffies), get_current().state))

    def fn() -> tuple[Any, ...]:
        t = spawn(sleeper)
        msleep(100)
        letter, still = t.state_letter, list(log)
        j = int(jiffies)
        r1 = wake_up_process(t)
        r2 = wake_up_process(t)           # RUNNING (woken, not yet run): nothing to do
        msleep(10)
        r3 = wake_up_process(t)           # exited
        return letter, still, j, r1, r2, r3, t.nvcsw

    (letter, still, j, r1, r2, r3, nvcsw), _ = in_kernel(fn)
    assert letter == "S" and [e[0] for e in still] == ["sleeping"]
    assert (r1, r2, r3) == (1, 0, 0)
    assert log[1][0] == "woken" and log[1][1] == j and log[1][2] == TASK_RUNNING
    assert nvcsw == 2  # kthread start-up + the schedule()


@pytest.mark.parametrize("state, woken", [
    (TASK_INTERRUPTIBLE, 1), (TASK_UNINTERRUPTIBLE, 1), (TASK_KILLABLE, 1), (TASK_IDLE, 1),
    (TASK_INTERRUPTIBLE | TASK_FREEZABLE, 1),
    (TASK_PARKED, 0), (TASK_STOPPED, 0), (__TASK_STOPPED, 0), (TASK_TRACED, 0),
])
def test_which_states_wake_up_process_wakes(state: int, woken: int) -> None:
    """try_to_wake_up(p, TASK_NORMAL): 1 iff p->__state & TASK_NORMAL."""
    def fn() -> tuple[int, str, str, int]:
        def sleeper() -> None:
            set_current_state(state)
            schedule()

        t = spawn(sleeper)
        msleep(20)
        r = wake_up_process(t)
        msleep(20)
        letter = t.state_letter
        still_asleep = t.state
        if not r:                               # clean up with the matching mask
            assert wake_up_state(t, state) == 1
            msleep(20)
        return r, letter, _states.state_letter(state), still_asleep

    (r, letter, asleep_letter, st_after), _ = in_kernel(fn)
    assert r == woken
    if woken:
        assert letter == "X"                     # it ran to completion
    else:
        assert letter == asleep_letter and st_after == state


def test_wake_up_state_uses_its_mask() -> None:
    def fn() -> list[int]:
        def sleeper() -> None:
            set_current_state(TASK_UNINTERRUPTIBLE)
            schedule()

        t = spawn(sleeper)
        msleep(20)
        out = [wake_up_state(t, TASK_INTERRUPTIBLE), wake_up_state(t, TASK_PARKED)]
        out.append(t.state)
        out.append(wake_up_state(t, TASK_UNINTERRUPTIBLE))
        out.append(t.state)
        return out

    out, _ = in_kernel(fn)
    assert out == [0, 0, TASK_UNINTERRUPTIBLE, 1, TASK_RUNNING]


def test_wake_up_of_current_before_schedule_prevents_the_lost_wake_up() -> None:
    """p == current: state set back to RUNNING, returns 1, schedule() does not block."""
    def fn() -> tuple[int, int, int, int, int]:
        me = get_current()
        j0, n0 = int(jiffies), me.nvcsw
        set_current_state(TASK_INTERRUPTIBLE)
        r = wake_up_process(me)
        st_after = me.state
        schedule()
        return r, st_after, int(jiffies) - j0, me.nvcsw - n0, wake_up_process(me)

    (r, st_after, dj, dn, r_running), _ = in_kernel(fn)
    assert (r, st_after, dj, dn) == (1, TASK_RUNNING, 0, 0)
    assert r_running == 0       # an already RUNNING task


def test_schedule_while_running_returns_at_once() -> None:
    def fn() -> tuple[int, int, int]:
        me = get_current()
        t0, n0 = cur.k.now, me.nvcsw
        for _ in range(5):
            schedule()
        return cur.k.now - t0, me.nvcsw - n0, me.state

    (dt, dn, state), _ = in_kernel(fn)
    assert dn == 0 and state == TASK_RUNNING
    assert dt < 1_000_000          # a few kernel calls' cost, not a tick


def test_schedule_with_a_pending_signal() -> None:
    """Interruptible: set RUNNING, no block.  Uninterruptible: blocks anyway."""
    def fn() -> tuple[Any, ...]:
        me = get_current()
        me.tif |= TIF_NOTIFY_SIGNAL
        n0, j0 = me.nvcsw, int(jiffies)
        set_current_state(TASK_INTERRUPTIBLE)
        schedule()
        s_state, s_blocks = me.state, me.nvcsw - n0
        spawn(lambda: (msleep(40), wake_up_process(me)))
        set_current_state(TASK_KILLABLE)        # not a fatal signal: blocks
        schedule()
        d_slept = int(jiffies) - j0
        me.tif &= ~TIF_NOTIFY_SIGNAL
        return s_state, s_blocks, d_slept

    (s_state, s_blocks, d_slept), _ = in_kernel(fn, hz=250)
    assert s_state == TASK_RUNNING and s_blocks == 0
    assert d_slept >= 10


def _spec_signal_pending_state(state: int, tif: int, sigkill: bool) -> bool:
    pending = bool(tif & (TIF_SIGPENDING | TIF_NOTIFY_SIGNAL))
    fatal = bool(tif & TIF_SIGPENDING) and sigkill
    return bool(state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL)) and pending and (
        bool(state & TASK_INTERRUPTIBLE) or fatal)


@given(state=st.sampled_from([TASK_RUNNING, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, TASK_KILLABLE,
                              TASK_IDLE, TASK_PARKED, TASK_INTERRUPTIBLE | TASK_FREEZABLE]),
       sigpending=st.booleans(), notify=st.booleans(), sigkill=st.booleans())
def test_signal_pending_state(state: int, sigpending: bool, notify: bool, sigkill: bool) -> None:
    from kernsim._core._task import Task
    p = Task(999, "x")
    p.tif |= (TIF_SIGPENDING if sigpending else 0) | (TIF_NOTIFY_SIGNAL if notify else 0)
    p.signals = (1 << SIGKILL) if sigkill else (1 << SIGINT)
    tif = p.tif
    assert signal_pending_state(state, p) == _spec_signal_pending_state(state, tif, sigkill)


def test_signal_pending_reports_tif_notify_signal_of_kthread_stop() -> None:
    def fn() -> tuple[int, list[int]]:
        seen: list[int] = []

        def worker(_d: Any) -> int:
            while not kthread_should_stop():
                msleep(10)
            for _ in range(3):                  # a kthread never clears it
                seen.append(signal_pending(get_current()))
                msleep(10)
            return 0

        t = kthread_run(worker, None, "worker")
        msleep(50)
        before = signal_pending(t)
        kthread_stop(t)
        return before, seen

    (before, seen), _ = in_kernel(fn)
    assert before == 0 and seen == [1, 1, 1]


# -- §1.5 schedule_timeout -----------------------------------------------------------

def test_schedule_timeout_returns_the_jiffies_left_when_woken_early() -> None:
    def fn() -> list[tuple[int, int]]:
        me = get_current()
        out = []
        for wake_after, timeout in ((10, 100), (5, 5), (1, 63)):
            j0 = align()
            # the waker sleeps wake_after jiffies (level 0: exact), then wakes us
            spawn(lambda w=wake_after: (schedule_timeout_uninterruptible(w - 1), wake_up_process(me)))
            set_current_state(TASK_INTERRUPTIBLE)
            left = schedule_timeout(timeout)
            out.append((int(jiffies) - j0, left))
        return out

    out, _ = in_kernel(fn)
    assert out[0] == (10, 90)
    assert out[1] == (5, 0)      # woken on the expiry jiffy: 0, as a timeout
    assert out[2] == (1, 62)


@pytest.mark.parametrize("hz", [100, 250, 300, 1000])
def test_schedule_timeout_returns_0_on_timeout(hz: int) -> None:
    timeouts = (0, 1, 2, 62, 63, 100, 1000, 5000)

    def fn() -> list[tuple[int, int, int]]:
        out = []
        for t in timeouts:
            j0 = align()
            set_current_state(TASK_UNINTERRUPTIBLE)
            left = schedule_timeout(t)
            out.append((j0, int(jiffies), left))
        return out

    out, _ = in_kernel(fn, seconds=200, hz=hz)
    for (j0, j1, left), t in zip(out, timeouts):
        assert left == 0
        assert j1 == fire_at(j0 + t, j0, hz) > j0 + t
        if t < 63:
            assert j1 - j0 == t + 1  # level 0: exactly one tick late
    assert out[1][1] - out[1][0] == 2  # schedule_timeout(1) sleeps until the 2nd tick


def test_schedule_timeout_max_is_plain_schedule() -> None:
    def fn() -> tuple[int, int, int]:
        me = get_current()
        spawn(lambda: (msleep(5000), wake_up_process(me)))
        j0 = int(jiffies)
        set_current_state(TASK_INTERRUPTIBLE)
        r = schedule_timeout(MAX_SCHEDULE_TIMEOUT)
        return r, int(jiffies) - j0, me.sleep_timer.pending if me.sleep_timer else 0

    (r, slept, pending), _ = in_kernel(fn)
    assert r == MAX_SCHEDULE_TIMEOUT
    assert slept >= 5 * 250
    assert not pending


def test_schedule_timeout_while_running_does_not_sleep() -> None:
    """The classic bug: forgetting set_current_state() -- returns t at once."""
    def fn() -> tuple[int, int]:
        align()
        j0 = int(jiffies)
        r = schedule_timeout(100)
        return r, int(jiffies) - j0

    (r, slept), _ = in_kernel(fn)
    assert (r, slept) == (100, 0)


@pytest.mark.parametrize("timeout, hexval", [(-1, "ffffffffffffffff"), (-100, "ffffffffffffff9c")])
def test_negative_schedule_timeout(timeout: int, hexval: str) -> None:
    """timer.c: printk(KERN_ERR "schedule_timeout: wrong timeout value %lx\\n"),
    dump_stack(), __set_current_state(TASK_RUNNING), return 0 -- no sleep."""
    def fn() -> tuple[int, int, int]:
        align()
        j0 = int(jiffies)
        set_current_state(TASK_INTERRUPTIBLE)
        r = schedule_timeout(timeout)
        return r, int(jiffies) - j0, get_current().state

    (r, slept, state), k = in_kernel(fn)
    assert (r, slept, state) == (0, 0, TASK_RUNNING)
    recs = k.log_records()
    i = next(i for i, rec in enumerate(recs) if rec.text.startswith("schedule_timeout:"))
    assert recs[i].text == f"schedule_timeout: wrong timeout value {hexval}"
    assert recs[i].level == 3                          # KERN_ERR
    assert any("Call Trace" in rec.text for rec in recs[i + 1:])   # the stack dump


def test_schedule_timeout_variants_set_their_state() -> None:
    def fn() -> dict[str, int]:
        variants = {"interruptible": schedule_timeout_interruptible,
                    "uninterruptible": schedule_timeout_uninterruptible,
                    "killable": schedule_timeout_killable, "idle": schedule_timeout_idle}
        tasks = {n: spawn(lambda f=f: f(1000), n) for n, f in variants.items()}
        msleep(100)
        return {n: t.state for n, t in tasks.items()}

    states, _ = in_kernel(fn)
    assert states == {"interruptible": TASK_INTERRUPTIBLE, "uninterruptible": TASK_UNINTERRUPTIBLE,
                      "killable": TASK_KILLABLE, "idle": TASK_IDLE}


# -- §5.3 msleep & co ---------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(hz=st.sampled_from([100, 250, 300, 1000]), phase=st.integers(0, 9),
       ms=st.one_of(st.integers(0, 50), st.integers(0, 30_000)))
def test_msleep_duration(hz: int, phase: int, ms: int) -> None:
    """msleep(ms) sleeps msecs_to_jiffies(ms) + 1 jiffies, wheel-rounded."""
    def fn() -> tuple[int, int]:
        schedule_timeout_uninterruptible(phase)
        j0 = int(jiffies)
        msleep(ms)
        return j0, int(jiffies)

    (j0, j1), _ = in_kernel(fn, seconds=200, hz=hz, hung_task_timeout_secs=0)
    t = msecs_to_jiffies_ref(ms, hz) + 1
    assert j1 == fire_at(j0 + t, j0, hz)
    assert (j1 - j0) * 1000 / hz > ms        # never shorter than asked


@pytest.mark.parametrize("hz", [100, 250, 300, 1000])
def test_ssleep_is_msleep_of_seconds_times_1000(hz: int) -> None:
    def fn() -> tuple[int, int, int]:
        j0 = align()
        ssleep(3)
        j1 = int(jiffies)
        msleep(3000)
        return j0, j1, int(jiffies)

    (j0, j1, j2), _ = in_kernel(fn, hz=hz)
    t = 3 * hz + 1
    assert j1 == fire_at(j0 + t, j0, hz)
    assert j2 == fire_at(j1 + t, j1, hz)


def test_msleep_resleeps_after_an_early_wake_up() -> None:
    """msleep() loops ``while (timeout) timeout = schedule_timeout_uninterruptible(timeout)``:
    an early wake re-arms for the rest, re-rounded from the wake jiffy.  From
    J0 = 0 mod 8, msleep(1000) alone ends at J0+256 (level 1); woken at J0+200
    the remaining 51 jiffies are a level-0 timer: it ends at J0+252."""
    def fn() -> tuple[int, int, int]:
        me = get_current()
        align()
        while int(jiffies) % 8:
            schedule_timeout_uninterruptible(0)
        j0 = int(jiffies)
        msleep(1000)
        alone = int(jiffies) - j0
        while int(jiffies) % 8:
            schedule_timeout_uninterruptible(0)
        j0 = int(jiffies)
        spawn(lambda: (schedule_timeout_uninterruptible(199), wake_up_process(me)))  # wakes at j0+200
        msleep(1000)
        return alone, int(jiffies) - j0, me.nvcsw

    (alone, woken, _), _ = in_kernel(fn, hz=250)
    assert alone == 256
    assert woken == 252


def test_msleep_interruptible_return_values() -> None:
    """Returns jiffies_to_msecs(left): 0 when slept fully; a plain wake-up does
    not end it; a pending signal does (and on entry returns the whole
    msecs_to_jiffies(ms) + 1 in ms: msleep_interruptible(1000) -> 1004)."""
    def fn() -> dict[str, Any]:
        me = get_current()
        out: dict[str, Any] = {}
        out["full"] = msleep_interruptible(100)
        j0 = align()
        spawn(lambda: (msleep(100), wake_up_process(me)))
        out["woken"] = (msleep_interruptible(1000), int(jiffies) - j0)
        me.tif |= TIF_NOTIFY_SIGNAL
        out["pending"] = msleep_interruptible(1000)
        out["pending_0"] = msleep_interruptible(0)
        me.tif &= ~TIF_NOTIFY_SIGNAL
        return out

    out, _ = in_kernel(fn, hz=250)
    assert out["full"] == 0
    assert out["woken"][0] == 0 and out["woken"][1] >= 251
    assert out["pending"] == 1004
    assert out["pending_0"] == 4


def test_msleep_interruptible_ended_by_kthread_stop_returns_the_ms_left() -> None:
    def fn() -> tuple[int, int, int]:
        res: list[tuple[int, int, int]] = []

        def worker(_d: Any) -> int:
            j0 = align()
            left = msleep_interruptible(10_000)
            res.append((j0, int(jiffies), left))
            return 0

        t = kthread_run(worker, None, "worker")
        msleep(1000)
        kthread_stop(t)
        return res[0]

    (j0, j1, left), _ = in_kernel(fn, hz=250)
    expire = j0 + 2500 + 1
    assert left == 4 * (expire - j1)
    assert 8000 < left < 9100
