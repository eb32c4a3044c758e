"""Modules that never sleep, and replay strings that do not fit the run.

A busy loop must not freeze the simulation: the session's commands still run
at their times (the second CPU the kernel would have), a loop that ignores
kthread_stop is reported by the soft-lockup watchdog and ends the run with a
non-zero status in a fraction of a second, and a loop that never calls the
kernel is stopped by the wall-clock watchdog with the same report.
"""

from __future__ import annotations

import time

import pytest

from conftest import SEED, run_file
from kernsim._core._policy import Replay, ReplayMismatch, decode_decisions


def test_a_stoppable_busy_loop_is_stopped_by_rmmod_on_time(run_source) -> None:
    start = time.monotonic()
    run = run_source("""
        t = None
        def fn(d):
            while not kthread_should_stop():
                pass
            pr_info("saw stop\\n")
            return 0
        def i():
            global t
            t = kthread_run(fn, None, "busy")
            return 0
        def e():
            kthread_stop(t)
            pr_info("stopped\\n")
        module_init(i); module_exit(e)
    """, seconds=1)
    assert time.monotonic() - start < 5
    assert run.result.exit_code == 0
    assert run.texts[-2:] == ["saw stop", "stopped"]
    # rmmod ran when it was due (1 s after insmod at 1 s), within a busy-loop tick or two.
    assert 2.0 <= run.time_of("saw stop") < 2.1


def test_a_busy_loop_that_ignores_kthread_stop_is_a_soft_lockup_and_ends_the_run(run_source) -> None:
    start = time.monotonic()
    run = run_source("""
        t = None
        def fn(d):
            while True:
                kthread_should_stop()
        def i():
            global t
            t = kthread_run(fn, None, "busy")
            return 0
        def e():
            kthread_stop(t)
        module_init(i); module_exit(e)
    """, seconds=1, hung_task_timeout=30)
    assert time.monotonic() - start < 5
    assert run.result.exit_code != 0
    lockups = [t for t in run.texts if t.startswith("watchdog: BUG: soft lockup - CPU#0 stuck for")]
    assert lockups and lockups[0].endswith("[busy:101]")
    assert any("rmmod" in line and "never returned" in line for line in run.stderr)


def test_a_loop_that_never_calls_the_kernel_is_reported_as_a_soft_lockup(run_source) -> None:
    run = run_source("""
        def fn(d):
            pr_info("spinning\\n")
            x = 0
            while True:
                x += 1
        def i():
            kthread_run(fn, None, "spinner")
            return 0
        def e():
            pr_info("exit\\n")
        module_init(i); module_exit(e)
    """, seconds=1, stuck_wall_seconds=0.5)
    assert run.result.exit_code == 1
    assert any(t.startswith("watchdog: BUG: soft lockup") and "[spinner:101]" in t for t in run.texts)
    assert run.texts[-1] == "exit"


def test_a_replay_string_from_another_run_is_an_error_of_the_run_not_a_module_oops() -> None:
    with pytest.raises(ReplayMismatch, match="has 2 options but the replay string chooses option 99"):
        run_file(SEED / "wait_event.py", seconds=1, policy=Replay(decode_decisions("1:99")))


def test_a_replay_number_too_large_is_malformed() -> None:
    with pytest.raises(ValueError, match="too large"):
        decode_decisions("99999999999999999999999")


def test_insmod_runs_at_one_second_even_with_nothing_else_pending() -> None:
    """With the hung-task detector off nothing is on the time line before
    insmod; the clock must still get to the load time."""
    run = run_file(SEED / "wait_event.py", seconds=1, hung_task_timeout=0)
    assert run.time_of("inside kthread init function") == pytest.approx(1.0, abs=1e-3)


def test_a_loop_that_never_calls_the_kernel_is_reported_when_the_watchdog_would(run_source) -> None:
    """At the watchdog's first sample more than 20 s after the loop began
    (24 s for a loop from 1 s), 22 s stuck; the stopped thread's task_struct
    stays, so the module's own kthread_stop() is no use-after-free."""
    run = run_source("""
        t = None
        flag = False
        def fn(d):
            pr_info("spinning\\n")
            while not flag:
                pass
            return 0
        def i():
            global t
            t = kthread_run(fn, None, "spinner")
            return 0
        def e():
            global flag
            flag = True
            pr_info("stop returned %d\\n", kthread_stop(t))
        module_init(i); module_exit(e)
    """, seconds=60, stuck_wall_seconds=0.3)
    report = "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [spinner:101]"
    assert run.time_of(report) == 24.0
    assert not any("KASAN" in t or "kernel BUG" in t for t in run.texts)
    assert run.texts[-1] == "stop returned 0"
    assert run.result.exit_code == 1
    assert any("kernsim stopped it (a real kernel would leave it spinning)" in ln for ln in run.stderr)


def test_a_soft_lockup_in_a_loop_that_calls_the_kernel_makes_the_status_1(run_source) -> None:
    run = run_source("""
        t = None
        def fn(d):
            while not kthread_should_stop():
                pass
            return 0
        def i():
            global t
            t = kthread_run(fn, None, "busy")
            return 0
        def e():
            kthread_stop(t)
        module_init(i); module_exit(e)
    """, seconds=60)
    assert any(t.startswith("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [busy:101]")
               for t in run.texts)
    assert run.result.exit_code == 1


def test_soft_lockups_count_in_the_watchdogs_units_from_its_last_touch(run_source) -> None:
    """kernel/watchdog.c: get_timestamp() is running_clock() >> 30, the touch
    is the sample before the loop, a report comes at the first sample more than
    20 units past the touch (then past the last report): 22 s at 24 s, 44 s at
    48 s -- for a loop in init as in a kthread."""
    run = run_source("""
        def i():
            pr_info("spin\\n")
            while True:
                udelay(10)
        module_init(i)
    """, seconds=60)
    reports = [(round(run.time_of(t)), t) for t in run.texts if "soft lockup" in t]
    assert reports[:2] == [(24, "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:100]"),
                           (48, "watchdog: BUG: soft lockup - CPU#0 stuck for 44s! [insmod:100]")]


def test_a_huge_replay_gap_costs_nothing_until_reached() -> None:
    """A replay string is kept sparse: decision 99,999,999 is no list of 10^8 zeros."""
    policy = Replay(decode_decisions("99999999"))
    start = time.monotonic()
    run = run_file(SEED / "wait_event.py", seconds=6, policy=policy)
    assert time.monotonic() - start < 5
    assert run.result.exit_code == 0
    assert not policy.exhausted and policy.length == 100_000_000


def test_replay_decodes_sparse_and_round_trips() -> None:
    from kernsim._core._policy import encode_decisions

    d = decode_decisions("3,0:2,5:3")
    assert d.to_list() == [0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 3]
    assert encode_decisions(d.to_list()) == "3,0:2,5:3"
    r = Replay(d)
    assert [r.choose(0, 4) for _ in range(13)] == [0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 3, 0, 0]


def test_module_code_blocked_in_a_python_call_is_stopped_as_a_loop_is(run_source) -> None:
    """time.sleep(30) in a kthread holds the kernel's only thread: the watchdog
    stops it inside the call (a signal, not an exception the call would only
    see once it returned), with the same soft-lockup report."""
    start = time.monotonic()
    run = run_source("""
        import time
        def fn(d):
            pr_info("before\\n")
            time.sleep(30)
            pr_info("after\\n")
            return 0
        def i():
            kthread_run(fn, None, "sleeper")
            return 0
        module_init(i)
    """, seconds=30, stuck_wall_seconds=0.3)
    assert time.monotonic() - start < 10
    assert "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sleeper:101]" in run.texts
    assert "after" not in run.texts
    assert any("kernsim stopped it" in ln for ln in run.stderr)
