"""Timers and the timer wheel (``kernel/time/timer.c``).

A kernel timer armed for jiffy ``expires`` does not fire at ``expires``: it is
filed in a hierarchical wheel whose buckets get coarser with distance, and
fires at the bucket's expiry -- always strictly later, rounded up to the
level's granularity.  That is why ``msleep(1000)`` at HZ=250 (251 jiffies,
level 1, 8-jiffy granules) comes back every 256 jiffies = 1.024 s, as in the
tutorial's transcripts.  :func:`wheel_fire_jiffy` is that rule
(``calc_wheel_index``).

Simulated time is kept in nanoseconds; jiffies are derived from it.  Every
pending timer, and every other timed event of the simulation (a user
command such as ``rmmod`` issued at a given time), is an entry of one heap keyed
by ``(time, sequence)`` -- SimPy's design: determinism falls out of the data
structure.  Timers due at the same time are a *tie*: which runs first is a
scheduling decision (``Kernel.run_due``).
"""

from __future__ import annotations

from typing import Any, Callable, Final

LVL_BITS: Final = 6  # 64 buckets per level
LVL_CLK_SHIFT: Final = 3  # each level is 8x coarser


def wheel_depth(hz: int) -> int:
    """``LVL_DEPTH``: 9 levels if HZ > 100, else 8."""
    return 9 if hz > 100 else 8


def _lvl_start(n: int) -> int:
    return ((1 << LVL_BITS) - 1) << ((n - 1) * LVL_CLK_SHIFT)


#: ``LVL_START(n)`` for n = 1..9, precomputed (the lookup runs on every sleep).
_LVL_STARTS: Final = tuple(_lvl_start(n) for n in range(1, 10))


def wheel_fire_jiffy(expires: int, base_clk: int, depth: int) -> int:
    """The jiffy at which a timer armed for *expires* fires (``calc_wheel_index``).

    expires: the requested expiry, in jiffies.
    base_clk: the timer base's clock, ``jiffies`` when a task arms a timer.
    depth: ``wheel_depth(HZ)``.
    """
    delta = expires - base_clk
    if delta < 0:
        return base_clk
    lvl = depth - 1
    for n in range(depth - 1):
        if delta < _LVL_STARTS[n]:
            lvl = n
            break
    else:
        if delta >= _lvl_start(depth):
            expires = base_clk + _lvl_start(depth) - (1 << ((depth - 1) * LVL_CLK_SHIFT))
    shift = lvl * LVL_CLK_SHIFT
    return ((expires >> shift) + 1) << shift


def wheel_granularity(delta: int, depth: int) -> int:
    """The granularity in jiffies of the wheel level a timeout of *delta* lands in."""
    for n in range(depth - 1):
        if delta < _lvl_start(n + 1):
            return 1 << (n * LVL_CLK_SHIFT)
    return 1 << ((depth - 1) * LVL_CLK_SHIFT)


class Timer:
    """A ``struct timer_list``, or any other event on the kernel's time line.

    function: called as ``function(timer)`` when the timer fires, in "softirq"
        context: it must not sleep.
    """

    __slots__ = ("function", "data", "expires", "when", "seq", "pending", "name")

    def __init__(self, function: Callable[[Timer], Any], data: Any = None, name: str = "") -> None:
        self.function = function
        self.data = data
        #: The requested expiry in jiffies (``timer->expires``), if a wheel timer.
        self.expires = 0
        #: The time it fires, in ns since boot.
        self.when = 0
        #: Sequence number of its live heap entry; stale entries are skipped.
        self.seq = -1
        self.pending = False
        self.name = name

    def __repr__(self) -> str:
        state = f"pending at {self.when}ns" if self.pending else "idle"
        return f"<Timer {self.name or getattr(self.function, '__name__', '?')} {state}>"
