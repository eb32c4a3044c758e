"""Wait queues: data model, queue manipulation, wake functions, the
``__wake_up_common`` walk, the wake_up* macros, wait_woken (spec §2;
include/linux/wait.h, kernel/sched/wait.c).

``wait_queue_head.entries()`` (head -> tail) is kernsim's inspection hook; the
other observations go through the kernel API.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import in_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

from kernsim._core._bug import KernelBug
from kernsim._core._task import TIF_NOTIFY_SIGNAL
from kernsim.linux import (
    DECLARE_WAIT_QUEUE_HEAD,
    DECLARE_WAITQUEUE,
    DEFINE_WAIT,
    DEFINE_WAIT_FUNC,
    ERESTARTSYS,
    MAX_SCHEDULE_TIMEOUT,
    TASK_IDLE,
    TASK_INTERRUPTIBLE,
    TASK_KILLABLE,
    TASK_NORMAL,
    TASK_RUNNING,
    TASK_UNINTERRUPTIBLE,
    WQ_FLAG_EXCLUSIVE,
    WQ_FLAG_PRIORITY,
    WQ_FLAG_WOKEN,
    __wake_up,
    add_wait_queue,
    add_wait_queue_exclusive,
    add_wait_queue_priority,
    autoremove_wake_function,
    default_wake_function,
    finish_wait,
    get_current,
    init_wait,
    init_wait_entry,
    init_waitqueue_entry,
    init_waitqueue_func_entry,
    init_waitqueue_head,
    jiffies,
    kthread_run,
    kthread_should_stop,
    kthread_stop,
    msleep,
    prepare_to_wait,
    prepare_to_wait_event,
    prepare_to_wait_exclusive,
    remove_wait_queue,
    schedule,
    schedule_timeout_uninterruptible,
    set_current_state,
    wait_queue_entry,
    wait_woken,
    waitqueue_active,
    wake_up,
    wake_up_all,
    wake_up_interruptible,
    wake_up_interruptible_all,
    wake_up_interruptible_nr,
    wake_up_interruptible_poll,
    wake_up_nr,
    wake_up_poll,
    woken_wake_function,
    wq_has_sleeper,
    wq_has_single_sleeper,
)


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


def spawn(fn: Callable[[], Any], name: str = "helper") -> Any:
    return kthread_run(lambda _d: (fn(), 0)[1], None, name)


def recorder(log: list[Any], name: str, ret: int) -> Callable[..., int]:
    """A custom wake function: log the call, return *ret*."""
    def func(entry: Any, mode: int, wake_flags: int, key: Any) -> int:
        log.append(name)
        return ret
    func.__name__ = f"wake_{name}"
    return func


def func_entry(func: Callable[..., int]) -> Any:
    e = wait_queue_entry()
    init_waitqueue_func_entry(e, func)
    return e


def test_flag_values() -> None:
    assert (WQ_FLAG_EXCLUSIVE, WQ_FLAG_WOKEN) == (0x01, 0x02)


# -- §2.2 initialisation ---------------------------------------------------------

def test_entry_initialisers() -> None:
    def fn() -> dict[str, Any]:
        me = get_current()
        h = DECLARE_WAIT_QUEUE_HEAD()
        out: dict[str, Any] = {"head_empty": not waitqueue_active(h)}
        q = DECLARE_WAITQUEUE(me)
        out["DECLARE_WAITQUEUE"] = (q.flags, q.private is me, q.func is default_wake_function)
        w = DEFINE_WAIT()
        out["DEFINE_WAIT"] = (w.flags, w.private is me, w.func is autoremove_wake_function)
        f = DEFINE_WAIT_FUNC(woken_wake_function)
        out["DEFINE_WAIT_FUNC"] = (f.flags, f.private is me, f.func is woken_wake_function)
        w.flags = 0x7
        init_wait(w)
        out["init_wait"] = (w.flags, w.private is me, w.func is autoremove_wake_function)
        init_wait_entry(w, WQ_FLAG_EXCLUSIVE)
        out["init_wait_entry"] = w.flags
        other = DECLARE_WAIT_QUEUE_HEAD()
        add_wait_queue(other, w)                    # queued ...
        init_waitqueue_entry(w, me)                 # ... link untouched
        out["init_waitqueue_entry"] = (w.flags, w.private is me, w.func is default_wake_function,
                                       w in other.entries())
        init_waitqueue_func_entry(w, woken_wake_function)
        out["init_waitqueue_func_entry"] = (w.flags, w.private, w.func is woken_wake_function)
        return out

    out = run(fn)
    assert out == {
        "head_empty": True,
        "DECLARE_WAITQUEUE": (0, True, True),
        "DEFINE_WAIT": (0, True, True),
        "DEFINE_WAIT_FUNC": (0, True, True),
        "init_wait": (0, True, True),
        "init_wait_entry": WQ_FLAG_EXCLUSIVE,
        "init_waitqueue_entry": (0, True, True, True),
        "init_waitqueue_func_entry": (0, None, True),
    }


def test_init_waitqueue_head_empties_the_list() -> None:
    def fn() -> tuple[bool, bool]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        add_wait_queue(h, func_entry(recorder([], "a", 1)))
        before = waitqueue_active(h)
        init_waitqueue_head(h)
        return before, waitqueue_active(h)

    assert run(fn) == (True, False)


# -- §2.3 queue manipulation -------------------------------------------------------

def test_add_wait_queue_head_vs_exclusive_tail() -> None:
    def fn() -> tuple[list[str], list[int]]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        es = {n: func_entry(recorder([], n, 1)) for n in "abcde"}
        es["c"].flags = WQ_FLAG_EXCLUSIVE          # add_wait_queue clears it
        add_wait_queue(h, es["a"])
        add_wait_queue_exclusive(h, es["b"])
        add_wait_queue(h, es["c"])
        add_wait_queue_exclusive(h, es["d"])
        add_wait_queue(h, es["e"])
        got = h.entries()
        names = [next(n for n, e in es.items() if e is g) for g in got]
        return names, [g.flags for g in got]

    names, flags = run(fn)
    assert names == ["e", "c", "a", "b", "d"]
    assert flags == [0, 0, 0, WQ_FLAG_EXCLUSIVE, WQ_FLAG_EXCLUSIVE]


def test_priority_entries_stay_in_front() -> None:
    def fn() -> tuple[list[str], int]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        es = {n: func_entry(recorder([], n, 1)) for n in "abcp"}
        add_wait_queue(h, es["a"])
        add_wait_queue_priority(h, es["p"])
        add_wait_queue(h, es["b"])               # HEAD = after the priority entries
        add_wait_queue_exclusive(h, es["c"])
        names = [next(n for n, e in es.items() if e is g) for g in h.entries()]
        return names, es["p"].flags

    names, pflags = run(fn)
    assert names == ["p", "b", "a", "c"]
    assert pflags == WQ_FLAG_EXCLUSIVE | WQ_FLAG_PRIORITY


def test_remove_wait_queue_poisons_the_entry() -> None:
    """Re-using a removed entry without re-initialising is undefined in C; the
    simulator must raise (spec §2.3)."""
    def fn() -> tuple[bool, str, bool]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        w = DEFINE_WAIT()
        add_wait_queue(h, w)
        remove_wait_queue(h, w)
        empty = not waitqueue_active(h)
        try:
            prepare_to_wait(h, w, TASK_INTERRUPTIBLE)
            err = ""
        except KernelBug as e:
            err = e.message
        set_current_state(TASK_RUNNING)
        init_wait(w)                              # re-initialised: fine again
        prepare_to_wait(h, w, TASK_INTERRUPTIBLE)
        ok = h.entries() == [w]
        finish_wait(h, w)
        return empty, err, ok

    empty, err, ok = run(fn)
    assert empty and ok
    assert "list_add corruption" in err and "LIST_POISON" in err


def test_remove_wait_queue_of_an_entry_a_wake_up_already_removed() -> None:
    """add_wait_queue() with an autoremove entry, woken (the wake function
    list_del_init()s it: self-linked), then remove_wait_queue(): list_del() of
    a self-linked entry is harmless in the kernel (and passes
    CONFIG_DEBUG_LIST's prev->next == entry / next->prev == entry checks), so
    no report -- the entry is merely poisoned afterwards."""
    def fn() -> tuple[list[str], bool, str]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        other = func_entry(recorder([], "o", 0))
        add_wait_queue(h, other)
        w = DEFINE_WAIT()
        add_wait_queue(h, w)
        set_current_state(TASK_INTERRUPTIBLE)
        wake_up(h)                                  # autoremove: w unlinked
        errors: list[str] = []
        try:
            remove_wait_queue(h, w)
        except KernelBug as e:
            errors.append(e.message)
        intact = h.entries() == [other]
        try:
            prepare_to_wait(h, w, TASK_INTERRUPTIBLE)   # now it is poisoned
            poisoned = ""
        except KernelBug as e:
            poisoned = e.message
        set_current_state(TASK_RUNNING)
        return errors, intact, poisoned

    errors, intact, poisoned = run(fn)
    assert errors == [] and intact
    assert "LIST_POISON" in poisoned


def test_finish_wait_on_a_removed_entry_is_a_list_corruption() -> None:
    """remove_wait_queue() poisons the link; finish_wait()'s
    list_empty_careful() then sees a non-empty link and list_del_init()s the
    poison: an oops (or CONFIG_DEBUG_LIST's report) in the kernel."""
    def fn() -> str:
        h = DECLARE_WAIT_QUEUE_HEAD()
        w = DEFINE_WAIT()
        add_wait_queue(h, w)
        remove_wait_queue(h, w)
        try:
            finish_wait(h, w)
        except KernelBug as e:
            return e.message
        return "no error"

    msg = run(fn)
    assert "list_del corruption" in msg and "LIST_POISON1" in msg


def test_declare_waitqueue_entries_are_not_for_prepare_to_wait() -> None:
    def fn() -> str:
        h = DECLARE_WAIT_QUEUE_HEAD()
        q = DECLARE_WAITQUEUE(get_current())
        try:
            prepare_to_wait(h, q, TASK_INTERRUPTIBLE)
        except KernelBug as e:
            set_current_state(TASK_RUNNING)
            return e.message
        return ""

    assert "list_add corruption" in run(fn)


def test_prepare_to_wait() -> None:
    """Clears EXCLUSIVE (even if queued), queues at HEAD only if unqueued, sets the state."""
    def fn() -> dict[str, Any]:
        me = get_current()
        h = DECLARE_WAIT_QUEUE_HEAD()
        other = func_entry(recorder([], "o", 1))
        add_wait_queue(h, other)
        w = DEFINE_WAIT()
        w.flags = WQ_FLAG_EXCLUSIVE
        prepare_to_wait(h, w, TASK_INTERRUPTIBLE)
        out = {"first": (h.entries() == [w, other], w.flags, me.state)}
        w.flags = WQ_FLAG_EXCLUSIVE
        prepare_to_wait(h, w, TASK_UNINTERRUPTIBLE)
        out["again"] = (h.entries() == [w, other], w.flags, me.state)
        finish_wait(h, w)
        out["finish"] = (h.entries() == [other], me.state)
        finish_wait(h, w)                          # already dequeued: only sets RUNNING
        out["finish2"] = h.entries() == [other]
        return out

    out = run(fn)
    assert out["first"] == (True, 0, TASK_INTERRUPTIBLE)
    assert out["again"] == (True, 0, TASK_UNINTERRUPTIBLE)
    assert out["finish"] == (True, TASK_RUNNING)
    assert out["finish2"]


def test_prepare_to_wait_exclusive_return_value() -> None:
    """True only if it queued the entry on an empty queue; TAIL; sets EXCLUSIVE."""
    def fn() -> list[Any]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        a, b = DEFINE_WAIT(), DEFINE_WAIT()
        out = [prepare_to_wait_exclusive(h, a, TASK_INTERRUPTIBLE)]   # empty -> True
        out.append(prepare_to_wait_exclusive(h, a, TASK_INTERRUPTIBLE))  # already queued
        out.append(prepare_to_wait_exclusive(h, b, TASK_INTERRUPTIBLE))  # not empty
        out.append(h.entries() == [a, b])
        out.append((a.flags, b.flags))
        finish_wait(h, a)
        finish_wait(h, b)
        out.append(prepare_to_wait_exclusive(h, b, TASK_INTERRUPTIBLE))  # empty again
        finish_wait(h, b)
        return out

    assert run(fn) == [True, False, False, True, (WQ_FLAG_EXCLUSIVE, WQ_FLAG_EXCLUSIVE), True]


def test_prepare_to_wait_event() -> None:
    """Queues by the entry's own flag without changing it (TAIL if EXCLUSIVE);
    with a signal pending for the state: unlinks, leaves the state, -ERESTARTSYS."""
    def fn() -> dict[str, Any]:
        me = get_current()
        h = DECLARE_WAIT_QUEUE_HEAD()
        first = func_entry(recorder([], "f", 1))
        add_wait_queue(h, first)
        x, n = DEFINE_WAIT(), DEFINE_WAIT()
        init_wait_entry(x, WQ_FLAG_EXCLUSIVE)
        out: dict[str, Any] = {}
        out["excl"] = (prepare_to_wait_event(h, x, TASK_INTERRUPTIBLE), me.state)
        out["norm"] = prepare_to_wait_event(h, n, TASK_UNINTERRUPTIBLE)
        out["order"] = h.entries() == [n, first, x]
        out["flags"] = (x.flags, n.flags)
        set_current_state(TASK_RUNNING)
        me.tif |= TIF_NOTIFY_SIGNAL
        out["sig_unint"] = (prepare_to_wait_event(h, n, TASK_UNINTERRUPTIBLE), me.state)
        set_current_state(TASK_RUNNING)
        out["sig_int"] = (prepare_to_wait_event(h, x, TASK_INTERRUPTIBLE), me.state)
        out["sig_killable"] = prepare_to_wait_event(h, n, TASK_KILLABLE)   # not fatal: queues
        set_current_state(TASK_RUNNING)
        out["sig_int2"] = prepare_to_wait_event(h, n, TASK_INTERRUPTIBLE)
        out["after"] = h.entries() == [first]
        me.tif &= ~TIF_NOTIFY_SIGNAL
        return out

    out = run(fn)
    assert out["excl"] == (0, TASK_INTERRUPTIBLE)
    assert out["norm"] == 0
    assert out["order"]
    assert out["flags"] == (WQ_FLAG_EXCLUSIVE, 0)
    assert out["sig_unint"] == (0, TASK_UNINTERRUPTIBLE)
    assert out["sig_int"] == (-ERESTARTSYS, TASK_RUNNING)    # state NOT changed
    assert out["sig_killable"] == 0
    assert out["sig_int2"] == -ERESTARTSYS == -512
    assert out["after"]


# -- §2.4 wake functions -----------------------------------------------------------

def test_autoremove_removes_only_when_it_woke() -> None:
    def fn() -> dict[str, Any]:
        me = get_current()
        h = DECLARE_WAIT_QUEUE_HEAD()
        w = DEFINE_WAIT()
        prepare_to_wait(h, w, TASK_UNINTERRUPTIBLE)
        set_current_state(TASK_RUNNING)     # a RUNNING task: wake returns 0, entry stays
        r0 = autoremove_wake_function(w, TASK_NORMAL, 0, None)
        stays = h.entries() == [w]
        set_current_state(TASK_UNINTERRUPTIBLE)
        r_int = autoremove_wake_function(w, TASK_INTERRUPTIBLE, 0, None)   # mode mismatch
        stays2 = h.entries() == [w]
        r1 = autoremove_wake_function(w, TASK_NORMAL, 0, None)
        return {"r": (r0, r_int, r1), "stays": (stays, stays2), "gone": not waitqueue_active(h),
                "unqueued_not_poisoned": (prepare_to_wait(h, w, TASK_RUNNING), h.entries() == [w])[1],
                "state": me.state}

    out = run(fn)
    assert out["r"] == (0, 0, 1)
    assert out["stays"] == (True, True)
    assert out["gone"] and out["unqueued_not_poisoned"]
    assert out["state"] == TASK_RUNNING


def test_default_wake_function_never_unlinks() -> None:
    def fn() -> tuple[int, list[int], bool]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        got: list[int] = []

        def sleeper() -> None:
            q = DECLARE_WAITQUEUE(get_current())
            add_wait_queue(h, q)
            set_current_state(TASK_INTERRUPTIBLE)
            schedule()
            got.append(waitqueue_active(h))      # still queued after the wake
            remove_wait_queue(h, q)

        spawn(sleeper)
        msleep(10)
        r = wake_up(h)
        msleep(10)
        return r, got, waitqueue_active(h)

    r, got, active = run(fn)
    assert r == 0                 # non-exclusive wakes are not counted
    assert got == [True] and not active


def test_woken_wake_function_sets_woken_even_if_nothing_to_wake() -> None:
    def fn() -> tuple[int, int, bool]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        w = DEFINE_WAIT_FUNC(woken_wake_function)
        add_wait_queue(h, w)
        r = woken_wake_function(w, TASK_NORMAL, 0, None)   # current is RUNNING
        return r, w.flags, h.entries() == [w]

    assert run(fn) == (0, WQ_FLAG_WOKEN, True)


# -- §2.5 the walk -----------------------------------------------------------------

def _model_walk(queue: list[tuple[str, bool, int]], nr: int) -> tuple[list[str], int]:
    called: list[str] = []
    left = nr
    for name, excl, ret in queue:
        called.append(name)
        if ret < 0:
            break
        if ret > 0 and excl:
            left -= 1
            if left == 0:
                break
    return called, nr - left


@settings(max_examples=80, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.sampled_from([-1, 0, 1, 1, 2])), min_size=0, max_size=10),
       nr=st.integers(0, 4))
def test_wake_up_walk_matches_the_kernel(ops: list[tuple[bool, int]], nr: int) -> None:
    """head -> tail; r < 0 stops; r > 0 on an EXCLUSIVE entry counts; stop when
    the count reaches exactly 0 (nr == 0: never); returns exclusive wakes."""
    def fn() -> tuple[list[str], int, list[str]]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        log: list[str] = []
        model: list[tuple[str, bool, int]] = []
        for i, (excl, ret) in enumerate(ops):
            name = f"e{i}"
            e = func_entry(recorder(log, name, ret))
            if excl:
                add_wait_queue_exclusive(h, e)
                model.append((name, True, ret))
            else:
                add_wait_queue(h, e)
                model.insert(0, (name, False, ret))
        order = [e.func.__name__[5:] for e in h.entries()]
        assert order == [m[0] for m in model]
        r = __wake_up(h, TASK_NORMAL, nr, None)
        called, count = _model_walk(model, nr)
        return log, r, called + [str(count)]

    log, r, expected = run(fn)
    assert log + [str(r)] == expected


def test_flags_are_read_before_calling_the_wake_function() -> None:
    def fn() -> tuple[list[str], int]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        log: list[str] = []

        def becomes_exclusive(e: Any, mode: int, f: int, key: Any) -> int:
            log.append("n")
            e.flags |= WQ_FLAG_EXCLUSIVE     # too late to count
            return 1

        def stops_being_exclusive(e: Any, mode: int, f: int, key: Any) -> int:
            log.append("x")
            e.flags &= ~WQ_FLAG_EXCLUSIVE    # still counts
            return 1

        add_wait_queue_exclusive(h, func_entry(recorder(log, "y", 1)))
        add_wait_queue_exclusive(h, func_entry(stops_being_exclusive))
        add_wait_queue(h, func_entry(becomes_exclusive))
        add_wait_queue_exclusive(h, func_entry(recorder(log, "z", 1)))
        # queue: n, y(excl), x(excl), z(excl).  With nr = 2: n does not count
        # although it is EXCLUSIVE by the time it returns; x counts although it
        # no longer is: the walk stops after x.
        r = wake_up_nr(h, 2)
        return log, r

    log, r = run(fn)
    assert log == ["n", "y", "x"] and r == 2


def test_wake_up_passes_mode_and_key() -> None:
    def fn() -> list[tuple[int, Any]]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        seen: list[tuple[int, Any]] = []
        add_wait_queue(h, func_entry(lambda e, mode, f, key: seen.append((mode, key)) or 0))
        wake_up(h)
        wake_up_poll(h, 0x41)
        wake_up_interruptible(h)
        wake_up_interruptible_poll(h, 0x1)
        return seen

    assert run(fn) == [(TASK_NORMAL, None), (TASK_NORMAL, 0x41),
                       (TASK_INTERRUPTIBLE, None), (TASK_INTERRUPTIBLE, 0x1)]


# -- §2.5 example with real sleepers ----------------------------------------------------

def _abc(macro: Callable[[Any], int], a_state: int = TASK_INTERRUPTIBLE) -> tuple[int, list[str], list[str]]:
    """Queue head->tail [A(non-excl), B(excl), C(excl)], then call *macro*;
    return its result, who woke, and which entries stay queued."""
    def fn() -> tuple[int, list[str], list[str]]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        woke: list[str] = []
        entries: dict[str, Any] = {}

        def sleeper(name: str, excl: bool, state: int) -> None:
            w = DEFINE_WAIT()
            entries[name] = w
            if excl:
                prepare_to_wait_exclusive(h, w, state)
            else:
                prepare_to_wait(h, w, state)
            schedule()
            woke.append(name)
            finish_wait(h, w)

        for name, excl, state in (("B", True, TASK_INTERRUPTIBLE), ("C", True, TASK_INTERRUPTIBLE),
                                  ("A", False, a_state)):
            spawn(lambda n=name, x=excl, s=state: sleeper(n, x, s), name)
            msleep(5)
        assert [next(n for n, e in entries.items() if e is g) for g in h.entries()] == ["A", "B", "C"]
        r = macro(h)
        msleep(5)
        left = [next(n for n, e in entries.items() if e is g) for g in h.entries()]
        woke_now = woke[:]
        wake_up_all(h)                        # clean up
        msleep(5)
        return r, woke_now, left

    return run(fn)


def test_spec_example_wake_up() -> None:
    r, woke, left = _abc(wake_up)
    assert (r, sorted(woke), left) == (1, ["A", "B"], ["C"])


def test_spec_example_wake_up_all() -> None:
    r, woke, left = _abc(wake_up_all)
    assert (r, sorted(woke), left) == (2, ["A", "B", "C"], [])


def test_spec_example_wake_up_nr_2() -> None:
    r, woke, left = _abc(lambda h: wake_up_nr(h, 2))
    assert (r, sorted(woke), left) == (2, ["A", "B", "C"], [])


def test_spec_example_wake_up_interruptible_skips_uninterruptible() -> None:
    r, woke, left = _abc(wake_up_interruptible, a_state=TASK_UNINTERRUPTIBLE)
    assert (r, woke, left) == (1, ["B"], ["A", "C"])


def test_wake_up_interruptible_sync_wakes_as_wake_up_interruptible() -> None:
    """The sync hint only steers CPU choice: on one CPU it is wake_up_interruptible."""
    import kernsim.linux as linux

    r, woke, left = _abc(linux.wake_up_interruptible_sync, a_state=TASK_UNINTERRUPTIBLE)
    assert (r, woke, left) == (1, ["B"], ["A", "C"])


@pytest.mark.parametrize("state", [TASK_UNINTERRUPTIBLE, TASK_KILLABLE, TASK_IDLE])
def test_wake_up_interruptible_does_not_wake_d_or_i_sleepers(state: int) -> None:
    def fn() -> tuple[int, int, int, bool, bool]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        woke: list[int] = []

        def sleeper() -> None:
            w = DEFINE_WAIT()
            prepare_to_wait_exclusive(h, w, state)
            schedule()
            finish_wait(h, w)
            woke.append(1)

        spawn(sleeper)
        msleep(5)
        r = (wake_up_interruptible(h), wake_up_interruptible_all(h), wake_up_interruptible_nr(h, 3))
        msleep(5)
        still = waitqueue_active(h) and not woke
        r2 = wake_up(h)
        msleep(5)
        return (*r, still, bool(woke) and r2 == 1)  # type: ignore[return-value]

    assert run(fn) == (0, 0, 0, True, True)


def test_non_exclusive_waiters_are_woken_newest_first_exclusive_oldest_first() -> None:
    def fn() -> list[str]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        order: list[str] = []

        def sleeper(name: str, excl: bool) -> None:
            w = DEFINE_WAIT()
            (prepare_to_wait_exclusive if excl else prepare_to_wait)(h, w, TASK_INTERRUPTIBLE)
            schedule()
            finish_wait(h, w)

        names = [("n1", False), ("x1", True), ("n2", False), ("x2", True), ("n3", False)]
        for name, excl in names:
            spawn(lambda n=name, x=excl: sleeper(n, x), name)
            msleep(2)
        for e in h.entries():
            order.append(e.private.comm)
        wake_up_all(h)
        msleep(5)
        return order

    assert run(fn) == ["n3", "n2", "n1", "x1", "x2"]


def test_waitqueue_active_and_sleepers() -> None:
    def fn() -> list[tuple[bool, bool, bool]]:
        h = DECLARE_WAIT_QUEUE_HEAD()
        out = [(waitqueue_active(h), wq_has_sleeper(h), wq_has_single_sleeper(h))]
        a, b = DEFINE_WAIT(), DEFINE_WAIT()
        add_wait_queue(h, a)
        out.append((waitqueue_active(h), wq_has_sleeper(h), wq_has_single_sleeper(h)))
        add_wait_queue(h, b)
        out.append((waitqueue_active(h), wq_has_sleeper(h), wq_has_single_sleeper(h)))
        remove_wait_queue(h, a)
        remove_wait_queue(h, b)
        out.append((waitqueue_active(h), wq_has_sleeper(h), wq_has_single_sleeper(h)))
        return out

    assert run(fn) == [(False, False, False), (True, True, True), (True, True, False),
                       (False, False, False)]


# -- §2.7 wait_woken -----------------------------------------------------------------

def test_wait_woken_protocol() -> None:
    def fn() -> dict[str, Any]:
        me = get_current()
        h = DECLARE_WAIT_QUEUE_HEAD()
        w = DEFINE_WAIT_FUNC(woken_wake_function)
        add_wait_queue(h, w)
        out: dict[str, Any] = {}
        schedule_timeout_uninterruptible(1)
        # a wake-up while we run is remembered in the flag ...
        out["wake_while_running"] = wake_up(h)
        out["flag"] = w.flags & WQ_FLAG_WOKEN
        j0 = int(jiffies)
        # ... and makes the next wait_woken return at once with the timeout unchanged
        out["immediate"] = (wait_woken(w, TASK_INTERRUPTIBLE, 100), int(jiffies) - j0, w.flags, me.state)
        out["queued"] = h.entries() == [w]
        j0 = int(jiffies)
        out["timeout"] = (wait_woken(w, TASK_INTERRUPTIBLE, 10), int(jiffies) - j0)
        spawn(lambda: (msleep(20), wake_up(h)))
        j0 = int(jiffies)
        out["woken_max"] = wait_woken(w, TASK_UNINTERRUPTIBLE, MAX_SCHEDULE_TIMEOUT)
        out["woken_after"] = int(jiffies) - j0
        out["still_queued"] = h.entries() == [w] and w.flags == 0
        spawn(lambda: (msleep(20), wake_up(h)))
        out["woken_left"] = wait_woken(w, TASK_INTERRUPTIBLE, 1000)
        me.tif |= TIF_NOTIFY_SIGNAL
        j0 = int(jiffies)
        out["signal"] = (wait_woken(w, TASK_INTERRUPTIBLE, 77), int(jiffies) - j0, me.state)
        me.tif &= ~TIF_NOTIFY_SIGNAL
        remove_wait_queue(h, w)
        return out

    out = run(fn, hz=250)
    assert out["wake_while_running"] == 0
    assert out["flag"] == WQ_FLAG_WOKEN
    assert out["immediate"] == (100, 0, 0, TASK_RUNNING)
    assert out["queued"]
    assert out["timeout"] == (0, 11)
    assert out["woken_max"] == MAX_SCHEDULE_TIMEOUT and out["woken_after"] >= 5
    assert out["still_queued"]
    assert 1000 - 10 < out["woken_left"] < 1000 - 4
    assert out["signal"] == (77, 0, TASK_RUNNING)


def test_wait_woken_does_not_sleep_once_kthread_should_stop() -> None:
    def fn() -> list[tuple[int, int]]:
        res: list[tuple[int, int]] = []
        h = DECLARE_WAIT_QUEUE_HEAD()

        def worker(_d: Any) -> int:
            w = DEFINE_WAIT_FUNC(woken_wake_function)
            add_wait_queue(h, w)
            while not kthread_should_stop():
                wait_woken(w, TASK_UNINTERRUPTIBLE, MAX_SCHEDULE_TIMEOUT)
            for _ in range(3):
                j0 = int(jiffies)
                res.append((wait_woken(w, TASK_UNINTERRUPTIBLE, 500), int(jiffies) - j0))
            remove_wait_queue(h, w)
            return 7

        t = kthread_run(worker, None, "worker")
        msleep(50)
        res.append((kthread_stop(t), -1))
        return res

    assert run(fn) == [(500, 0)] * 3 + [(7, -1)]


def test_an_entry_left_queued_after_its_function_returned_is_list_corruption(run_source) -> None:
    """Issue 4 part 7: DEFINE_WAIT's entry lives on the declaring function's
    stack; returning with it still queued (no finish_wait) leaves garbage on
    the queue, which the next wake-up meets -- CONFIG_DEBUG_LIST's report, an
    oops of the waker, with its module frames."""
    run = run_source("""
        MODULE_LICENSE("GPL")
        q = DECLARE_WAIT_QUEUE_HEAD("q")
        ready = [True]

        def check_once():
            wait = DEFINE_WAIT("wait")
            prepare_to_wait(q, wait, TASK_INTERRUPTIBLE)
            if ready[0]:
                return 1            # the bug: no finish_wait(q, wait)
            schedule()
            finish_wait(q, wait)
            return 0

        def sloppy(data):
            check_once()
            __set_current_state(TASK_RUNNING)
            while not kthread_should_stop():
                msleep(10)
            return 0

        def waker(data):
            msleep(20)
            wake_up(q)
            return 0

        t = None
        def init():
            global t
            t = kthread_run(sloppy, None, "sloppy")
            kthread_run(waker, None, "waker")
            return 0

        def exit():
            kthread_stop(t)

        module_init(init)
        module_exit(exit)
    """, name="stale", seconds=1)
    texts = run.texts
    first = next(t for t in texts if "corruption" in t)
    assert first.startswith("list_del corruption. prev->next should be ")
    assert "left queued when the function that declared it returned" in first
    i = texts.index(first)
    assert any(t.startswith("CPU: 0 PID: ") and "Comm: waker" in t for t in texts[i:i + 8])
    assert any("waker+0x" in t and "[stale]" in t for t in texts[i:])
    assert run.result.exit_code == 1


def test_finish_wait_after_the_loop_is_no_corruption(run_source) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        q = DECLARE_WAIT_QUEUE_HEAD("q")

        def check_once():
            wait = DEFINE_WAIT("wait")
            prepare_to_wait(q, wait, TASK_INTERRUPTIBLE)
            finish_wait(q, wait)
            return 1

        def worker(data):
            check_once()
            msleep(20)
            wake_up(q)
            return 0

        def init():
            kthread_run(worker, None, "worker")
            return 0

        module_init(init)
        module_exit(lambda: None)
    """, name="tidy", seconds=1)
    assert not any("corruption" in t for t in run.texts)
    assert run.result.exit_code == 0
