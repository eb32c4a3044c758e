"""Jiffies, conversions and sleeps (``include/linux/jiffies.h``,
``kernel/time/time.c``, ``kernel/time/timer.c``, ``include/linux/delay.h``).

``schedule_timeout`` arms a one-shot timer whose expiry the timer wheel rounds
up (see ``_timer``), so sleeps come back on granule boundaries exactly as on a
real kernel: ``msleep(1000)`` at HZ=250 sleeps 251 jiffies, and a loop of them
runs every 256 jiffies = 1.024 s.
"""

from __future__ import annotations

from math import gcd
from typing import Any, Final

from ._current import cur
from ._export import export, export_value, export_values, ksym
from ._printk import KERN_ERR
from ._sched import MAX_SCHEDULE_TIMEOUT, NSEC_PER_SEC, schedule
from ._states import (
    TASK_IDLE,
    TASK_INTERRUPTIBLE,
    TASK_KILLABLE,
    TASK_NORMAL,
    TASK_RUNNING,
    TASK_UNINTERRUPTIBLE,
)
from ._timer import Timer

MSEC_PER_SEC: Final = 1000
USEC_PER_SEC: Final = 1_000_000
LONG_MAX: Final = (1 << 63) - 1
ULONG_MASK: Final = (1 << 64) - 1
UINT_MASK: Final = (1 << 32) - 1
#: ``MAX_JIFFY_OFFSET``: the longest timeout a conversion returns ("forever").
MAX_JIFFY_OFFSET: Final = (LONG_MAX >> 1) - 1


def initial_jiffies(hz: int) -> int:
    """``INITIAL_JIFFIES``: jiffies at boot, 5 minutes before the low 32 bits wrap."""
    return (-300 * hz) & UINT_MASK


export_values(__name__, "linux/jiffies.h", {"MAX_JIFFY_OFFSET": MAX_JIFFY_OFFSET})
export_value("HZ", lambda: cur.k.hz if cur.k else 250, "asm/param.h", kind="var")


class _Jiffies:
    """``jiffies``: a live value, read at each use (``jiffies + HZ``, ``int(jiffies)``,
    ``time_after(jiffies, t)``)."""

    __slots__ = ()

    def __int__(self) -> int:
        return cur.k.jiffies

    __index__ = __int__

    def __add__(self, other: int) -> int:
        return (cur.k.jiffies + other) & ULONG_MASK

    __radd__ = __add__

    def __sub__(self, other: int) -> int:
        if other is self:
            raise TypeError(_SNAPSHOT_HINT)
        return (cur.k.jiffies - int(other)) & ULONG_MASK

    def __rsub__(self, other: int) -> int:
        return (int(other) - cur.k.jiffies) & ULONG_MASK

    # The rest of an unsigned long's arithmetic (jiffies % HZ, jiffies / HZ in C).
    def __mod__(self, other: int) -> int:
        return cur.k.jiffies % int(other)

    def __floordiv__(self, other: int) -> int:
        return cur.k.jiffies // int(other)

    def __mul__(self, other: int) -> int:
        return (cur.k.jiffies * int(other)) & ULONG_MASK

    __rmul__ = __mul__

    def __and__(self, other: int) -> int:
        return cur.k.jiffies & int(other)

    __rand__ = __and__

    def __or__(self, other: int) -> int:
        return (cur.k.jiffies | int(other)) & ULONG_MASK

    __ror__ = __or__

    def __xor__(self, other: int) -> int:
        return (cur.k.jiffies ^ int(other)) & ULONG_MASK

    __rxor__ = __xor__

    def __rshift__(self, other: int) -> int:
        return cur.k.jiffies >> int(other)

    def __lshift__(self, other: int) -> int:
        return (cur.k.jiffies << int(other)) & ULONG_MASK

    def __eq__(self, other: object) -> bool:
        return cur.k.jiffies == other

    def __lt__(self, other: int) -> bool:
        return cur.k.jiffies < other

    def __le__(self, other: int) -> bool:
        return cur.k.jiffies <= other

    def __gt__(self, other: int) -> bool:
        return cur.k.jiffies > other

    def __ge__(self, other: int) -> bool:
        return cur.k.jiffies >= other

    def __hash__(self) -> int:
        return hash(cur.k.jiffies)

    def __repr__(self) -> str:
        try:
            return str(cur.k.jiffies)
        except Exception:
            return "jiffies (no kernel running)"

    __str__ = __repr__


#: ``start = jiffies`` in Python keeps the live value, not the moment (C copies it).
_SNAPSHOT_HINT: Final = (
    "jiffies - jiffies is always 0: `start = jiffies` keeps the live value in Python "
    "(C copies it); keep the moment with `start = int(jiffies)`")

jiffies: Final = _Jiffies()
export_values(__name__, "linux/jiffies.h", {"jiffies": jiffies})


@export("linux/jiffies.h", points=False,
        c="u64 get_jiffies_64(void)")
def get_jiffies_64() -> int:
    """The current jiffies value."""
    return cur.k.jiffies


def _signed(x: int) -> int:
    x &= ULONG_MASK
    return x - (1 << 64) if x >> 63 else x


@export("linux/jiffies.h", kind="macro", points=False)
def time_after(a: int, b: int) -> bool:
    """True if time *a* is after *b* (wrap-safe: ``(long)(b - a) < 0``)."""
    if a is jiffies and b is jiffies:
        raise TypeError(_SNAPSHOT_HINT)
    return _signed(int(b) - int(a)) < 0


@export("linux/jiffies.h", kind="macro", points=False)
def time_before(a: int, b: int) -> bool:
    """True if time *a* is before *b*."""
    if a is jiffies and b is jiffies:
        raise TypeError(_SNAPSHOT_HINT)
    return _signed(int(a) - int(b)) < 0


@export("linux/jiffies.h", kind="macro", points=False)
def time_after_eq(a: int, b: int) -> bool:
    """True if *a* is after or equal to *b*."""
    if a is jiffies and b is jiffies:
        raise TypeError(_SNAPSHOT_HINT)
    return _signed(int(a) - int(b)) >= 0


@export("linux/jiffies.h", kind="macro", points=False)
def time_before_eq(a: int, b: int) -> bool:
    """True if *a* is before or equal to *b*."""
    if a is jiffies and b is jiffies:
        raise TypeError(_SNAPSHOT_HINT)
    return _signed(int(b) - int(a)) >= 0


def _to_jiffies(n: int, per_sec: int, hz: int) -> int:
    """Round *n* units (of 1/per_sec s) up to jiffies, as the kernel does."""
    if per_sec % hz == 0:
        unit = per_sec // hz
        return (n + unit - 1) // unit
    if hz % per_sec == 0:
        return n * (hz // per_sec)
    return -(-n * hz // per_sec)


@export("linux/jiffies.h", points=False,
        c="unsigned long msecs_to_jiffies(const unsigned int m)")
def msecs_to_jiffies(m: int) -> int:
    """Milliseconds to jiffies, rounded up; a negative value (as int) is "forever"."""
    m &= UINT_MASK
    if m >> 31:
        return MAX_JIFFY_OFFSET
    return _to_jiffies(m, MSEC_PER_SEC, cur.k.hz if cur.k else 250)


@export("linux/jiffies.h", points=False,
        c="unsigned long usecs_to_jiffies(const unsigned int u)")
def usecs_to_jiffies(u: int) -> int:
    """Microseconds to jiffies, rounded up; beyond what MAX_JIFFY_OFFSET
    jiffies hold (as jiffies_to_usecs reports it) is "forever"."""
    # kernel/time/time.c __usecs_to_jiffies(): the limit is
    # ``u > jiffies_to_usecs(MAX_JIFFY_OFFSET)`` -- an unsigned int, so the
    # truncated product (4294959296 at HZ=250, 1431649098 at HZ=300) -- not the
    # ``(int)m < 0`` test of msecs_to_jiffies().
    hz = cur.k.hz if cur.k else 250
    u &= UINT_MASK
    if u > _from_jiffies(MAX_JIFFY_OFFSET, USEC_PER_SEC, hz) & UINT_MASK:
        return MAX_JIFFY_OFFSET
    return _to_jiffies(u, USEC_PER_SEC, hz)


def _from_jiffies(j: int, per_sec: int, hz: int) -> int:
    """``jiffies_to_msecs``/``jiffies_to_usecs`` (kernel/time/time.c) in unsigned
    long arithmetic (the caller truncates to unsigned int).

    When HZ does not divide *per_sec* (HZ=300) the kernel uses the reduced
    fraction NUM/DEN of timeconst.bc: ms are rounded **up**
    (``DIV_ROUND_UP(j * HZ_TO_MSEC_NUM, HZ_TO_MSEC_DEN)``) but us are
    **truncated** (``(j * HZ_TO_USEC_NUM) / HZ_TO_USEC_DEN``): 1 jiffy at
    HZ=300 is 4 ms but 3333 us.
    """
    if per_sec % hz == 0:
        return ((per_sec // hz) * j) & ULONG_MASK
    if hz % per_sec == 0:  # HZ > 1000 (not a kernsim choice): ms round up
        return -(-j // (hz // per_sec))
    cd = gcd(hz, per_sec)
    num, den = per_sec // cd, hz // cd
    n = (j * num) & ULONG_MASK
    if per_sec == MSEC_PER_SEC:
        return ((n + den - 1) & ULONG_MASK) // den
    return n // den


@export("linux/jiffies.h", points=False,
        c="unsigned int jiffies_to_msecs(const unsigned long j)")
def jiffies_to_msecs(j: int) -> int:
    """Jiffies to milliseconds (exact when HZ divides 1000, else rounded up), as unsigned int."""
    return _from_jiffies(int(j) & ULONG_MASK, MSEC_PER_SEC, cur.k.hz if cur.k else 250) & UINT_MASK


@export("linux/jiffies.h", points=False,
        c="unsigned int jiffies_to_usecs(const unsigned long j)")
def jiffies_to_usecs(j: int) -> int:
    """Jiffies to microseconds, as unsigned int."""
    return _from_jiffies(int(j) & ULONG_MASK, USEC_PER_SEC, cur.k.hz if cur.k else 250) & UINT_MASK


# -- sleeping --------------------------------------------------------------

_schedule = schedule.__wrapped__  # type: ignore[attr-defined]


def process_timeout(timer: Timer) -> None:
    """Timer callback of ``schedule_timeout``: wake the sleeper."""
    cur.k.try_to_wake_up(timer.data, TASK_NORMAL)


ksym(process_timeout)


@export("linux/sched.h",
        c="long schedule_timeout(long timeout)")
def schedule_timeout(timeout: int) -> int:
    """Sleep until woken or *timeout* jiffies have passed, in the state the caller
    set.  Returns the jiffies left (0 if the time ran out).  Does not set the
    state: called while RUNNING it returns at once with about *timeout* left."""
    k = cur.k
    if timeout == MAX_SCHEDULE_TIMEOUT:
        _schedule()
        return timeout
    if timeout < 0:
        k.printk_ln(KERN_ERR, "schedule_timeout: wrong timeout value %lx" % (timeout & ULONG_MASK))
        k.dump_stack()
        k.current.state = TASK_RUNNING
        return 0
    task = k.current
    timer = task.sleep_timer
    if timer is None:
        timer = task.sleep_timer = Timer(process_timeout, task, "process_timeout")
    hz = k.hz
    expire = timeout + k.initial_jiffies + k.now * hz // NSEC_PER_SEC  # + jiffies
    k.mod_timer(timer, expire)
    _schedule()  # not k.schedule_core(): traces show schedule+0x5a between
    timer.pending = False  # del_timer_sync()
    timeout = expire - (k.initial_jiffies + k.now * hz // NSEC_PER_SEC)
    return timeout if timeout > 0 else 0


_schedule_timeout: Any = schedule_timeout.__wrapped__  # type: ignore[attr-defined]


def _timeout_in_state(state: int, timeout: int) -> int:
    cur.k.current.state = state
    return _schedule_timeout(timeout)


@export("linux/sched.h",
        c="long schedule_timeout_interruptible(long timeout)")
def schedule_timeout_interruptible(timeout: int) -> int:
    """``schedule_timeout`` in TASK_INTERRUPTIBLE."""
    return _timeout_in_state(TASK_INTERRUPTIBLE, timeout)


@export("linux/sched.h",
        c="long schedule_timeout_uninterruptible(long timeout)")
def schedule_timeout_uninterruptible(timeout: int) -> int:
    """``schedule_timeout`` in TASK_UNINTERRUPTIBLE."""
    return _timeout_in_state(TASK_UNINTERRUPTIBLE, timeout)


@export("linux/sched.h",
        c="long schedule_timeout_killable(long timeout)")
def schedule_timeout_killable(timeout: int) -> int:
    """``schedule_timeout`` in TASK_KILLABLE."""
    return _timeout_in_state(TASK_KILLABLE, timeout)


@export("linux/sched.h",
        c="long schedule_timeout_idle(long timeout)")
def schedule_timeout_idle(timeout: int) -> int:
    """``schedule_timeout`` in TASK_IDLE."""
    return _timeout_in_state(TASK_IDLE, timeout)


@export("linux/delay.h",
        c="void msleep(unsigned int msecs)")
def msleep(msecs: int) -> None:
    """Sleep at least *msecs* ms, uninterruptibly (``D``): ``msecs_to_jiffies(msecs) + 1``
    jiffies, re-sleeping for the rest after an early wake-up."""
    k = cur.k
    task = k.current
    timeout = _msecs_to_jiffies(msecs) + 1
    while timeout:
        task.state = TASK_UNINTERRUPTIBLE
        timeout = _schedule_timeout(timeout)


@export("linux/delay.h",
        c="unsigned long msleep_interruptible(unsigned int msecs)")
def msleep_interruptible(msecs: int) -> int:
    """Sleep in ``S`` until the time is up or a signal is pending; returns the
    milliseconds left (0 if it slept fully).  A plain wake-up does not end it."""
    from ._sched import signal_pending

    k = cur.k
    task = k.current
    timeout = _msecs_to_jiffies(msecs) + 1
    while timeout and not signal_pending(task):
        task.state = TASK_INTERRUPTIBLE
        timeout = _schedule_timeout(timeout)
    return _jiffies_to_msecs(timeout)


@export("linux/delay.h",
        c="void ssleep(unsigned int seconds)")
def ssleep(seconds: int) -> None:
    """``msleep(seconds * 1000)``."""
    _msleep(seconds * 1000)


# -- hrtimer sleeps and busy waits ----------------------------------------------

NSEC_PER_USEC: Final = 1000


def _hrtimer_wakeup(timer: Timer) -> None:
    """``hrtimer_wakeup``: the sleeper's timer fired; wake it."""
    timer.expires = 1  # "fired" (the sleeping loop checks it)
    cur.k.try_to_wake_up(timer.data, TASK_NORMAL)


ksym(_hrtimer_wakeup, "hrtimer_wakeup")


def _usleep_range_state(min_us: int, max_us: int, state: int) -> None:
    """``usleep_range_state``: sleep on an hrtimer until it fires; an early
    wake-up sleeps again until the same absolute expiry.  On an otherwise idle
    machine the timer fires at the hard end of the window, *max* (no timer
    wheel rounding: hrtimers have ns resolution)."""
    k = cur.k
    task = k.current
    min_us &= ULONG_MASK
    max_us &= ULONG_MASK
    timer = Timer(_hrtimer_wakeup, task, "hrtimer_wakeup")
    timer.expires = 0
    expires = k.now + max(min_us, max_us) * NSEC_PER_USEC
    while True:
        task.state = state
        if timer.expires:
            break
        if not timer.pending:
            k.add_event(timer, expires)
        _schedule()
    task.state = TASK_RUNNING
    timer.pending = False


@export("linux/delay.h",
        c="void usleep_range_state(unsigned long min, unsigned long max, unsigned int state)")
def usleep_range_state(min: int, max: int, state: int) -> None:  # noqa: A002 - the kernel's names
    """Sleep between *min* and *max* µs in *state* (an hrtimer: see usleep_range)."""
    _usleep_range_state(min, max, state)


@export("linux/delay.h", kind="macro")
def usleep_range(min: int, max: int) -> None:  # noqa: A002
    """Sleep (``D``) between *min* and *max* µs; on an idle machine it wakes at *max*."""
    _usleep_range_state(min, max, TASK_UNINTERRUPTIBLE)


@export("linux/delay.h", kind="macro")
def usleep_idle_range(min: int, max: int) -> None:  # noqa: A002
    """As usleep_range, in TASK_IDLE (``I``)."""
    _usleep_range_state(min, max, TASK_IDLE)


def _busy_wait(ns: int) -> None:
    """``udelay``/``ndelay``: spin -- time passes, the task stays running (``R``),
    and whatever falls due meanwhile (timers, the end of the time slice, the
    soft-lockup watchdog) happens at its time."""
    k = cur.k
    if k.now >= k.due:  # a scheduling point, as any kernel call
        k.point_slow()
    if not k.clock_virtual:
        k.now = k.clock.spin_until(k.now + ns)
        if k.now >= k.due:
            k.point_slow()
        return
    end = k.now + ns
    step = k.slice_ns
    while k.now < end:
        k.now = min(end, k.now + step)
        if k.now >= k.due:
            k.point_slow()


# The busy waits are exported without the usual cost of a kernel call: their
# cost is the time they wait (a C mdelay() is a loop of udelay(1000), and the
# busy-loop boost of that cost would stretch it).
@export("linux/delay.h", points=False,
        c="void __udelay(unsigned long usecs)")
def __udelay(usecs: int) -> None:
    """Busy-wait *usecs* µs (``udelay``)."""
    _busy_wait((usecs & ULONG_MASK) * NSEC_PER_USEC)


@export("linux/delay.h", points=False,
        c="void __ndelay(unsigned long nsecs)")
def __ndelay(nsecs: int) -> None:
    """Busy-wait *nsecs* ns (``ndelay``)."""
    _busy_wait(nsecs & ULONG_MASK)


@export("linux/delay.h", kind="macro")
def udelay(usecs: int) -> None:
    """Busy-wait *usecs* µs: never sleeps (stays ``R``); use for short waits."""
    __udelay(usecs)


@export("linux/delay.h", kind="macro")
def ndelay(nsecs: int) -> None:
    """Busy-wait *nsecs* ns."""
    __ndelay(nsecs)


@export("linux/delay.h", kind="macro")
def mdelay(msecs: int) -> None:
    """Busy-wait *msecs* ms (``udelay(1000)`` *msecs* times): a long one in a
    kthread is a soft lockup."""
    for _ in range(int(msecs)):
        __udelay(1000)


@export("linux/delay.h", kind="macro")
def fsleep(usecs: int) -> None:
    """The right sleep for *usecs*: udelay up to 10 µs, usleep_range(us, 2*us)
    below 20 ms, msleep above (6.1-6.12)."""
    if usecs <= 10:
        __udelay(usecs)
    elif usecs < 20 * USEC_PER_SEC // MSEC_PER_SEC:
        _usleep_range_state(usecs, 2 * usecs, TASK_UNINTERRUPTIBLE)
    else:
        _msleep(-(-usecs // 1000))


_msecs_to_jiffies = msecs_to_jiffies
_jiffies_to_msecs = jiffies_to_msecs
_msleep = msleep.__wrapped__  # type: ignore[attr-defined]  (no points: ssleep is one call)
