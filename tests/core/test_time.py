"""Jiffies, the conversions and the timer wheel (spec §0, §5).

The expected values are computed here from the kernel's own formulas, written
out independently of kernsim:

* ``include/linux/jiffies.h``: ``INITIAL_JIFFIES``, ``MAX_JIFFY_OFFSET``,
  ``time_after``..., ``_msecs_to_jiffies``/``_usecs_to_jiffies``;
* ``kernel/time/time.c``: ``__msecs_to_jiffies``, ``__usecs_to_jiffies``
  (limit ``u > jiffies_to_usecs(MAX_JIFFY_OFFSET)``), ``jiffies_to_msecs``
  (``DIV_ROUND_UP(j * HZ_TO_MSEC_NUM, HZ_TO_MSEC_DEN)`` when HZ does not
  divide 1000) and ``jiffies_to_usecs`` (``(j * HZ_TO_USEC_NUM) /
  HZ_TO_USEC_DEN``: truncating, not rounding up);
* ``kernel/time/timeconst.bc``: the MUL32/ADJ32/SHR32 constants;
* ``kernel/time/timer.c`` ``calc_wheel_index``: the wheel rounding of §5.4.

All arithmetic is done in the C types (unsigned long = 64 bits, unsigned int =
32 bits, wrapping).
"""

from __future__ import annotations

from math import gcd

import pytest
from conftest import in_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

import kernsim.linux as linux
from kernsim._core._current import cur
from kernsim.linux import (
    MAX_JIFFY_OFFSET,
    get_jiffies_64,
    jiffies,
    jiffies_to_msecs,
    jiffies_to_usecs,
    msecs_to_jiffies,
    msleep,
    schedule_timeout_uninterruptible,
    ssleep,
    time_after,
    time_after_eq,
    time_before,
    time_before_eq,
    usecs_to_jiffies,
)

ULONG = (1 << 64) - 1
UINT = (1 << 32) - 1
LONG_MAX = (1 << 63) - 1
HZS = (100, 250, 300, 1000)


# -- the kernel's formulas, independently -------------------------------------

def k_initial_jiffies(hz: int) -> int:
    """``(unsigned long)(unsigned int)(-300*HZ)``."""
    return (-300 * hz) & UINT


def _fmul(b: int, n: int, d: int) -> int:          # timeconst.bc fmul()
    return (2**b * n + d - 1) // d


def _fadj(b: int, n: int, d: int) -> int:          # timeconst.bc fadj()
    d = d // gcd(n, d)
    return 2**b * (d - 1) // d


def _fmuls(b: int, n: int, d: int) -> int:        # timeconst.bc fmuls()
    s = 0
    while _fmul(s, n, d) < 2 ** (b - 1):
        s += 1
    return s


def k_jiffies_to_msecs(j: int, hz: int) -> int:
    j &= ULONG
    if 1000 % hz == 0:
        return ((1000 // hz) * j) & ULONG & UINT
    cd = gcd(hz, 1000)
    num, den = 1000 // cd, hz // cd                 # HZ_TO_MSEC_NUM / _DEN
    n = (j * num) & ULONG
    return (((n + den - 1) & ULONG) // den) & UINT  # DIV_ROUND_UP in unsigned long


def k_jiffies_to_usecs(j: int, hz: int) -> int:
    j &= ULONG
    if 1_000_000 % hz == 0:
        return ((1_000_000 // hz) * j) & ULONG & UINT
    cd = gcd(hz, 1_000_000)
    num, den = 1_000_000 // cd, hz // cd            # HZ_TO_USEC_NUM / _DEN
    return (((j * num) & ULONG) // den) & UINT      # truncating division


def k_msecs_to_jiffies(m: int, hz: int) -> int:
    m &= UINT
    if m >> 31:                                     # (int)m < 0
        return MAX_JIFFY_OFFSET
    if 1000 % hz == 0:
        return (m + 1000 // hz - 1) // (1000 // hz)
    s = _fmuls(32, hz, 1000)
    return ((_fmul(s, hz, 1000) * m + _fadj(s, hz, 1000)) & ULONG) >> s


def k_usecs_to_jiffies(u: int, hz: int) -> int:
    u &= UINT
    if u > k_jiffies_to_usecs(MAX_JIFFY_OFFSET, hz):
        return MAX_JIFFY_OFFSET
    if 1_000_000 % hz == 0:
        return (u + 1_000_000 // hz - 1) // (1_000_000 // hz)
    s = _fmuls(32, hz, 1_000_000)
    return ((_fmul(s, hz, 1_000_000) * u + _fadj(s, hz, 1_000_000)) & ULONG) >> s


def lvl_start(n: int) -> int:
    return 63 << (3 * (n - 1))


def fire_at(expires: int, base_clk: int, hz: int) -> int:
    """``calc_wheel_index``'s bucket expiry (spec §5.4 pseudo-code)."""
    depth = 9 if hz > 100 else 8
    delta = expires - base_clk
    if delta < 0:
        return base_clk
    for lvl in range(depth - 1):
        if delta < lvl_start(lvl + 1):
            break
    else:
        lvl = depth - 1
        if delta >= lvl_start(depth):
            expires = base_clk + lvl_start(depth) - 8 ** (depth - 1)
    s = 3 * lvl
    return ((expires >> s) + 1) << s


def test_reference_formulas_agree_with_the_spec_examples() -> None:
    """Sanity of the reference itself against spec §0/§5 numbers."""
    assert k_initial_jiffies(250) == 4294892296
    assert MAX_JIFFY_OFFSET == (LONG_MAX >> 1) - 1 == 4611686018427387902
    assert k_msecs_to_jiffies(1000, 250) == 250
    assert k_msecs_to_jiffies(1000, 300) == 300
    assert fire_at(251, 0, 250) == 256
    assert fire_at(1001, 0, 1000) == 1024
    assert lvl_start(9) - 8**8 == 1040187392


# -- jiffies -------------------------------------------------------------------

@pytest.mark.parametrize("hz, initial", [
    (100, 4294937296), (250, 4294892296), (300, 4294877296), (1000, 4294667296)])
def test_initial_jiffies(hz: int, initial: int) -> None:
    """INITIAL_JIFFIES = 2^32 - 300*HZ on 64-bit (jiffies.h)."""
    assert initial == 2**32 - 300 * hz == k_initial_jiffies(hz)
    (j, j64, hz_seen), _ = in_kernel(lambda: (int(jiffies), get_jiffies_64(), linux.HZ), hz=hz)
    assert j == j64 == initial
    assert hz_seen == hz


@pytest.mark.parametrize("hz", HZS)
def test_jiffies_count_ticks_since_boot(hz: int) -> None:
    """uptime*HZ == jiffies - INITIAL_JIFFIES, one increment per 1/HZ s."""
    def fn() -> list[tuple[int, int]]:
        out = []
        for _ in range(3):
            ssleep(1)
            out.append((int(jiffies), cur.k.now))
        return out

    samples, _ = in_kernel(fn, hz=hz)
    for j, now_ns in samples:
        assert j - k_initial_jiffies(hz) == now_ns * hz // 10**9
    assert samples[-1][0] - samples[0][0] >= 2 * hz


def test_jiffies_takes_an_unsigned_longs_arithmetic() -> None:
    """jiffies % HZ, jiffies / HZ, masks and shifts, as on the C unsigned long."""
    def fn() -> list[int]:
        j = int(jiffies)
        got = [jiffies % linux.HZ, jiffies // linux.HZ, jiffies & 0xff, jiffies >> 2, jiffies * 2,
               2 * jiffies, jiffies | 1, jiffies ^ 1, jiffies << 1]
        return [j, *got]

    (j, *got), _ = in_kernel(fn, hz=250)
    assert got == [j % 250, j // 250, j & 0xff, j >> 2, (j * 2) & ULONG, (j * 2) & ULONG,
                   j | 1, j ^ 1, (j << 1) & ULONG]


def test_low_32_bits_of_jiffies_wrap_five_minutes_after_boot() -> None:
    """jiffies is 64-bit: at uptime 300 s it reaches exactly 2^32 (the low 32
    bits wrap to 0) and keeps counting up."""
    def fn() -> tuple[int, int]:
        before = int(jiffies)
        while int(jiffies) < 2**32 + 10:
            schedule_timeout_uninterruptible(1000)
        return before, int(jiffies)

    (before, after), k = in_kernel(fn, seconds=400, hz=250, hung_task_timeout_secs=0)
    assert before < 2**32 < after
    assert after & UINT < before & UINT           # the 32-bit view wrapped...
    assert time_after(after, before)               # ...time_after on unsigned long does not care
    assert k.jiffy_time(2**32) == 300 * 10**9      # exactly 300 s after boot


# -- time_after & co --------------------------------------------------------------

@given(a=st.integers(0, ULONG), d=st.integers(-(2**62), 2**62))
def test_time_after_is_wrap_safe(a: int, d: int) -> None:
    """time_after(a, b) = (long)(b - a) < 0 on unsigned long, for any a (incl.
    around the 2^64 wrap) and any distance < 2^63."""
    b = (a + d) & ULONG
    assert time_after(b, a) is (d > 0)
    assert time_before(b, a) is (d < 0)
    assert time_after_eq(b, a) is (d >= 0)
    assert time_before_eq(b, a) is (d <= 0)
    assert time_before(a, b) is time_after(b, a)


def test_time_after_examples() -> None:
    assert time_after(5, ULONG - 4)                # 5 is 10 ticks after 2^64 - 5
    assert not time_after(ULONG - 4, 5)
    assert time_before(ULONG, 0)
    assert time_after_eq(7, 7) and time_before_eq(7, 7) and not time_after(7, 7)
    # more than half the range apart: "after" flips (the documented limitation)
    assert time_before(0, 2**63 - 1) and time_after(0, 2**63 + 1)


def test_jiffies_is_a_live_unsigned_value() -> None:
    def fn() -> tuple[int, int, int, bool, bool]:
        t0 = int(jiffies)
        deadline = jiffies + linux.HZ
        expired_before = time_after(jiffies, deadline)
        ssleep(2)
        return t0, deadline, jiffies - t0, expired_before, time_after(jiffies, deadline)

    (t0, deadline, elapsed, before, after), _ = in_kernel(fn, hz=250)
    assert deadline == t0 + 250
    assert elapsed >= 2 * 250
    assert not before and after


# -- conversions ----------------------------------------------------------------

CONVERSIONS = {
    "msecs_to_jiffies": (msecs_to_jiffies, k_msecs_to_jiffies),
    "usecs_to_jiffies": (usecs_to_jiffies, k_usecs_to_jiffies),
    "jiffies_to_msecs": (jiffies_to_msecs, k_jiffies_to_msecs),
    "jiffies_to_usecs": (jiffies_to_usecs, k_jiffies_to_usecs),
}


def _convert(hz: int, name: str, values: list[int]) -> list[int]:
    fn = CONVERSIONS[name][0]
    out, _ = in_kernel(lambda: [fn(v) for v in values], hz=hz)
    return out


@pytest.mark.parametrize("hz, m, j", [
    (1000, 0, 0), (1000, 1, 1), (1000, 1000, 1000),
    (250, 0, 0), (250, 1, 1), (250, 4, 1), (250, 5, 2), (250, 10, 3), (250, 100, 25),
    (250, 1000, 250),
    (100, 1, 1), (100, 10, 1), (100, 11, 2), (100, 1000, 100),
    (300, 1, 1), (300, 3, 1), (300, 4, 2), (300, 10, 3), (300, 11, 4), (300, 1000, 300),
    (250, -1, MAX_JIFFY_OFFSET), (250, 0x80000000, MAX_JIFFY_OFFSET),
    (250, 0x7FFFFFFF, 536870912), (300, -5, MAX_JIFFY_OFFSET),
])
def test_msecs_to_jiffies_rounds_up(hz: int, m: int, j: int) -> None:
    """Spec §5.2: ceil(m*HZ/1000); (int)m < 0 means "forever"."""
    assert _convert(hz, "msecs_to_jiffies", [m]) == [j]


@pytest.mark.parametrize("hz, j, ms, us", [
    (250, 1, 4, 4000), (250, 251, 1004, 1004000), (1000, 7, 7, 7000), (100, 3, 30, 30000),
    # HZ=300: msecs round up (DIV_ROUND_UP), usecs truncate (time.c)
    (300, 1, 4, 3333), (300, 2, 7, 6666), (300, 3, 10, 10000), (300, 301, 1004, 1003333),
])
def test_jiffies_to_msecs_and_usecs(hz: int, j: int, ms: int, us: int) -> None:
    assert _convert(hz, "jiffies_to_msecs", [j]) == [ms]
    assert _convert(hz, "jiffies_to_usecs", [j]) == [us]


@pytest.mark.parametrize("hz", HZS)
def test_usecs_to_jiffies_limit_is_jiffies_to_usecs_of_max_jiffy_offset(hz: int) -> None:
    """time.c: ``if (u > jiffies_to_usecs(MAX_JIFFY_OFFSET)) return MAX_JIFFY_OFFSET``
    -- not the ``(int)u < 0`` test of the ms version.  jiffies_to_usecs()
    returns unsigned int, so the limit is the truncated product: 4294959296 at
    HZ=250, but only 1431649098 at HZ=300."""
    limit = k_jiffies_to_usecs(MAX_JIFFY_OFFSET, hz)
    assert limit == {100: 4294947296, 250: 4294959296, 300: 1431649098, 1000: 4294965296}[hz]
    values = [limit - 1, limit, limit + 1, 2**31 - 1, 2**31, 3_000_000_000, UINT]
    assert _convert(hz, "usecs_to_jiffies", values) == [k_usecs_to_jiffies(u, hz) for u in values]
    got = dict(zip(values, _convert(hz, "usecs_to_jiffies", values)))
    assert got[limit + 1] == MAX_JIFFY_OFFSET
    assert got[limit] != MAX_JIFFY_OFFSET
    if hz == 250:
        assert got[3_000_000_000] == 750000      # a "negative" int is converted, not "forever"


_u32 = st.one_of(st.integers(0, 20_000), st.integers(0, UINT),
                 st.sampled_from([0, 1, 2**31 - 1, 2**31, UINT, 1431649098, 1431649099]))
_ulong = st.one_of(st.integers(0, 100_000), st.integers(0, ULONG),
                   st.sampled_from([MAX_JIFFY_OFFSET, ULONG, 2**32, 2**60, ULONG // 10 + 1]))


@settings(max_examples=60, deadline=None)
@given(hz=st.sampled_from(HZS), name=st.sampled_from(["msecs_to_jiffies", "usecs_to_jiffies"]),
       values=st.lists(_u32, min_size=1, max_size=40))
def test_to_jiffies_matches_the_kernel_formula(hz: int, name: str, values: list[int]) -> None:
    ref = CONVERSIONS[name][1]
    assert _convert(hz, name, values) == [ref(v, hz) for v in values]


@settings(max_examples=60, deadline=None)
@given(hz=st.sampled_from(HZS), name=st.sampled_from(["jiffies_to_msecs", "jiffies_to_usecs"]),
       values=st.lists(_ulong, min_size=1, max_size=40))
def test_from_jiffies_matches_the_kernel_formula(hz: int, name: str, values: list[int]) -> None:
    ref = CONVERSIONS[name][1]
    assert _convert(hz, name, values) == [ref(v, hz) for v in values]


@settings(max_examples=30, deadline=None)
@given(hz=st.sampled_from(HZS), ms=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=30))
def test_msecs_round_trip_never_shortens(hz: int, ms: list[int]) -> None:
    """msecs_to_jiffies rounds up: converting back never gives less time,
    and at most one jiffy more."""
    def fn() -> list[tuple[int, int]]:
        return [(m, jiffies_to_msecs(msecs_to_jiffies(m))) for m in ms]

    pairs, _ = in_kernel(fn, hz=hz)
    for m, back in pairs:
        assert back >= m
        assert back - m < -(-1000 // hz) + 1     # less than one jiffy more


# -- the timer wheel --------------------------------------------------------------

def _sleep_durations(hz: int, call, n: int, *, align: bool = True) -> list[int]:
    """Jiffies each of *n* consecutive ``call()`` sleeps lasted."""
    def fn() -> list[int]:
        if align:
            schedule_timeout_uninterruptible(1)   # start just after a tick
        out = []
        for _ in range(n):
            j0 = int(jiffies)
            call()
            out.append(int(jiffies) - j0)
        return out

    out, _ = in_kernel(fn, seconds=3600, hz=hz, hung_task_timeout_secs=0)
    return out


@pytest.mark.parametrize("hz, period", [(250, 256), (1000, 1024), (300, 304), (100, 104)])
def test_msleep_1000_loop_period(hz: int, period: int) -> None:
    """Spec §5.4: msleep(1000) sleeps msecs_to_jiffies(1000)+1 = HZ+1 jiffies,
    which the wheel rounds up to its level's granularity: a loop runs every
    1.024 s at HZ=250 and 1000, 1.0133 s at 300, 1.04 s at 100."""
    d = _sleep_durations(hz, lambda: msleep(1000), 6)
    assert d[1:] == [period] * 5
    assert period / hz == {250: 1.024, 1000: 1.024, 300: 304 / 300, 100: 1.04}[hz]


def test_msleep_1000_loop_prints_every_1_024_s(run_source) -> None:
    run = run_source("""
        stop = False
        def loop(data):
            while not kthread_should_stop():
                pr_info("tick\\n")
                msleep(1000)
            return 0
        t = None
        def m_init():
            global t
            t = kthread_run(loop, None, "ticker")
            return 0
        def m_exit():
            kthread_stop(t)
        module_init(m_init)
        module_exit(m_exit)
    """, seconds=8)
    ts = [r.ts for r in run.result.records if r.text == "tick"]
    assert len(ts) >= 5
    gaps = [b - a for a, b in zip(ts[1:], ts[2:])]
    assert gaps and all(g == 1_024_000_000 for g in gaps), gaps


@pytest.mark.parametrize("hz, ms, first, steady", [
    (250, 500, None, 128),    # t = 126 -> level 1 -> 512 ms
    (250, 100, 27, 27),       # t = 26 -> level 0 -> J+27 = 108 ms
    (250, 10, 5, 5),          # t = 4 -> 5 ticks = 20 ms
    (250, 1, 3, 3),           # t = 2 -> 3 ticks
    (1000, 100, None, 104),   # t = 101 -> level 1 -> 104 ms
    (1000, 20, 22, 22),       # t = 21 -> 22 ms
])
def test_msleep_worked_examples(hz: int, ms: int, first: int | None, steady: int) -> None:
    d = _sleep_durations(hz, lambda: msleep(ms), 5)
    if first is not None:
        assert d[0] == first
    assert d[2:] == [steady] * 3


@pytest.mark.parametrize("s, steady", [(5, 1280), (10, 2560), (20, 5120)])
def test_ssleep_worked_examples_at_hz_250(s: int, steady: int) -> None:
    """ssleep(5): t = 1251 -> level 2 (64) -> 5.12 s; ssleep(20): t = 5001 ->
    level 3 (512) -> 20.48 s once the loop is aligned to 512."""
    d = _sleep_durations(250, lambda: ssleep(s), 4)
    assert d[2:] == [steady] * 2


def test_first_msleep_1000_from_an_arbitrary_phase_lasts_252_to_259_jiffies() -> None:
    def fn() -> list[int]:
        out = []
        for phase in range(8):
            schedule_timeout_uninterruptible(1)          # tick-aligned ...
            for _ in range(phase):                       # ... then advance phase jiffies
                schedule_timeout_uninterruptible(0)
            j0 = int(jiffies)
            msleep(1000)
            out.append(int(jiffies) - j0)
        return out

    out, _ = in_kernel(fn, seconds=60, hz=250)
    assert sorted(out) == list(range(252, 260))


@settings(max_examples=40, deadline=None)
@given(hz=st.sampled_from(HZS), phase=st.integers(0, 70),
       timeout=st.one_of(st.integers(0, 600), st.integers(0, 300_000), st.integers(0, 2_100_000)))
def test_schedule_timeout_expiry_is_the_wheel_bucket(hz: int, phase: int, timeout: int) -> None:
    """A timer armed for J+t fires at calc_wheel_index's bucket expiry: strictly
    after J+t, rounded up to the level's granularity; schedule_timeout then
    returns 0."""
    def fn() -> tuple[int, int, int]:
        schedule_timeout_uninterruptible(phase)
        j0 = int(jiffies)
        left = schedule_timeout_uninterruptible(timeout)
        return j0, int(jiffies), left

    (j0, j1, left), _ = in_kernel(fn, seconds=100_000, hz=hz, hung_task_timeout_secs=0)
    assert j1 == fire_at(j0 + timeout, j0, hz)
    assert j1 > j0 + timeout
    assert left == 0


@pytest.mark.parametrize("hz", HZS)
def test_wheel_granularity_table(hz: int) -> None:
    """§5.4 table: deltas 0-62 land in level 0 (1 jiffy), 63-503 in level 1 (8),
    504-4031 in level 2 (64), 4032-32255 in level 3 (512), 32256-258047 in
    level 4 (4096).  A sleep that starts on a granule boundary and asks for
    the largest delta of a level ends exactly one granule after the delta."""
    table = [(0, 62, 1), (63, 503, 8), (504, 4031, 64), (4032, 32255, 512), (32256, 258047, 4096)]

    def fn() -> list[tuple[int, int, int]]:
        out = []
        for lo, hi, gran in table:
            for delta in (lo, hi):
                # align on a granule boundary of this level with exact
                # level-0 sleeps (t <= 62 jiffies sleeps exactly t + 1)
                while int(jiffies) % gran:
                    schedule_timeout_uninterruptible(min(-int(jiffies) % gran, 63) - 1)
                j0 = int(jiffies)
                schedule_timeout_uninterruptible(delta)
                out.append((delta, gran, int(jiffies) - j0))
        return out

    out, _ = in_kernel(fn, seconds=10_000, hz=hz, hung_task_timeout_secs=0)
    for delta, gran, slept in out:
        assert slept == (delta // gran + 1) * gran, (delta, gran, slept)


@pytest.mark.parametrize("hz", [100, 1000])
def test_obscenely_long_timeouts_are_capped_at_the_wheel_capacity(hz: int) -> None:
    """Deltas >= LVL_START(LVL_DEPTH) are filed at clk + WHEEL_TIMEOUT_MAX
    (1040187392 jiffies with 9 levels, 130023424 with 8 at HZ=100): the timer
    fires early and schedule_timeout returns the (large) time left."""
    timeout = 2**40

    def fn() -> tuple[int, int, int]:
        j0 = int(jiffies)
        left = schedule_timeout_uninterruptible(timeout)
        return j0, int(jiffies), left

    (j0, j1, left), _ = in_kernel(fn, seconds=10**8, hz=hz, hung_task_timeout_secs=0)
    cap = {1000: 1040187392, 100: 130023424}[hz]
    assert j1 == fire_at(j0 + timeout, j0, hz)
    assert j0 + cap < j1 <= j0 + cap + 8 ** ((9 if hz > 100 else 8) - 1)
    assert left == j0 + timeout - j1 > 0


def test_printk_uses_its_own_clock_not_jiffies(run_source) -> None:
    """§5.1: timestamps are ns since boot; jiffies start at INITIAL_JIFFIES."""
    run = run_source("""
        def m_init():
            pr_info("j=%lu up=%lu\\n", int(jiffies), int(jiffies) - (2**32 - 300 * HZ))
            return 0
        def m_exit():
            pass
        module_init(m_init)
        module_exit(m_exit)
    """, seconds=3)
    rec = next(r for r in run.result.records if r.text.startswith("j="))
    j, up = (int(x.split("=")[1]) for x in rec.text.split())
    assert j == k_initial_jiffies(250) + up
    assert up == rec.ts * 250 // 10**9



def test_keeping_the_live_jiffies_instead_of_a_moment_is_a_clear_error() -> None:
    """C's `start = jiffies` copies; Python's keeps the live object, so
    `jiffies - start` would be 0 for ever: kernsim says so instead."""
    from kernsim.linux import jiffies, msleep, time_after

    def fn() -> tuple[int, str, str]:
        start = int(jiffies)
        msleep(100)
        good = jiffies - start
        live = jiffies
        errors = []
        for f in (lambda: jiffies - live, lambda: time_after(jiffies, live)):
            try:
                f()
            except TypeError as e:
                errors.append(str(e))
        return good, errors[0], errors[1]

    good, e1, e2 = in_kernel(fn)[0]
    assert 25 <= good <= 27
    assert "start = int(jiffies)" in e1 and e1 == e2
