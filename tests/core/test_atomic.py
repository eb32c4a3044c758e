"""atomic_t, READ_ONCE/WRITE_ONCE, xchg/cmpxchg (include/linux/atomic.h,
asm-generic/rwonce.h): return values as the kernel's, 32-bit wrap-around,
and no scheduling points (they are instructions, not kernel calls)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from conftest import in_kernel

from kernsim._core._policy import RandomPolicy
from kernsim.linux import (
    ATOMIC_INIT,
    READ_ONCE,
    WRITE_ONCE,
    atomic_add,
    atomic_add_return,
    atomic_cmpxchg,
    atomic_dec,
    atomic_dec_and_test,
    atomic_dec_return,
    atomic_fetch_add,
    atomic_fetch_sub,
    atomic_inc,
    atomic_inc_and_test,
    atomic_inc_return,
    atomic_read,
    atomic_set,
    atomic_sub,
    atomic_sub_and_test,
    atomic_sub_return,
    atomic_t,
    atomic_xchg,
    cmpxchg,
    kthread_run,
    msleep,
    xchg,
)

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)


def test_atomic_operations_return_what_the_kernels_do() -> None:
    v = ATOMIC_INIT(5)
    out: list[Any] = [atomic_read(v), v.counter]
    atomic_inc(v)
    atomic_add(10, v)
    atomic_sub(3, v)
    atomic_dec(v)
    out.append(atomic_read(v))                                     # 12
    out += [atomic_inc_return(v), atomic_dec_return(v), atomic_add_return(8, v),
            atomic_sub_return(20, v)]                               # 13 12 20 0
    out += [atomic_fetch_add(7, v), atomic_fetch_sub(2, v), atomic_read(v)]  # 0 7 5
    out += [atomic_cmpxchg(v, 4, 9), atomic_read(v), atomic_cmpxchg(v, 5, 9), atomic_read(v)]
    out += [atomic_xchg(v, 1), atomic_read(v)]
    out += [atomic_dec_and_test(v), atomic_dec_and_test(v), atomic_inc_and_test(v),
            atomic_inc_and_test(v)]                                 # 1->0 T, -1 F, 0 T, 1 F
    atomic_set(v, 3)
    out += [atomic_sub_and_test(2, v), atomic_sub_and_test(1, v)]
    assert out == [5, 5, 12, 13, 12, 20, 0, 0, 7, 5, 5, 5, 5, 9, 9, 1, True, False, True, False,
                   False, True]
    assert isinstance(atomic_t(), atomic_t) and atomic_read(atomic_t()) == 0


def test_the_counter_is_32_bit_and_wraps_around() -> None:
    v = ATOMIC_INIT(INT_MAX)
    assert atomic_inc_return(v) == INT_MIN
    assert atomic_dec_return(v) == INT_MAX
    atomic_set(v, 2**32 + 5)
    assert atomic_read(v) == 5
    assert atomic_fetch_add(INT_MAX, v) == 5 and atomic_read(v) == INT_MIN + 4
    assert ATOMIC_INIT(-1).counter == -1 and ATOMIC_INIT(0xFFFFFFFF).counter == -1


def test_once_accesses_and_xchg_on_attributes_and_dict_keys() -> None:
    dev = SimpleNamespace(ready=0, state=0, ptr=None)
    WRITE_ONCE(dev, "ready", 1)
    assert READ_ONCE(dev, "ready") == 1 and READ_ONCE(41) == 41
    assert xchg(dev, "ready", 7) == 1 and dev.ready == 7
    assert cmpxchg(dev, "state", 1, 2) == 0 and dev.state == 0      # no match: unchanged
    assert cmpxchg(dev, "state", 0, 2) == 0 and dev.state == 2
    g = {"flag": 3}                                                   # a module's globals()
    assert xchg(g, "flag", 0) == 3 and g == {"flag": 0}
    WRITE_ONCE(g, "flag", 9)
    assert READ_ONCE(g, "flag") == 9
    # pointers are compared by identity, as C compares addresses
    a, b = object(), object()
    assert cmpxchg(dev, "ptr", None, a) is None and dev.ptr is a
    assert cmpxchg(dev, "ptr", b, None) is a and dev.ptr is a


def test_atomics_are_not_scheduling_points() -> None:
    """Even the random policy cannot switch tasks inside a run of atomic
    operations: no decision is taken and no time passes."""
    def fn() -> tuple[int, int]:
        v = ATOMIC_INIT(0)
        box = {"x": 0}
        kthread_run(lambda _d: 0, None, "other")        # something else runnable
        from kernsim._core._current import cur

        k = cur.k
        n0, t0 = len(k.decisions), k.now
        for _ in range(100):
            atomic_inc(v)
            xchg(box, "x", atomic_read(v))
        return len(k.decisions) - n0, k.now - t0

    assert in_kernel(fn, policy=RandomPolicy(5))[0] == (0, 0)


def test_atomic_counting_across_tasks() -> None:
    def fn() -> tuple[int, list[bool]]:
        refs = ATOMIC_INIT(3)
        last: list[bool] = []
        for i in range(3):
            kthread_run(lambda _d: (msleep(1), last.append(atomic_dec_and_test(refs)), 0)[2], None,
                        f"put{i}")
        msleep(10)
        return atomic_read(refs), last

    assert in_kernel(fn, policy=RandomPolicy(2))[0] == (0, [False, False, True])
