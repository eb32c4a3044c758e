"""Tasks on OS threads (ThreadContext) schedule exactly as tasks on greenlets.

C module code runs on tasks with stacks that never move: an OS thread each,
handed a baton so that one context runs at a time.  Whatever kind of context
a task has, the schedule is the policy's: the same run on threads and on
greenlets must print the same log, byte for byte, under every policy.
"""

from __future__ import annotations

import signal
import threading

import pytest

from conftest import SEED, in_kernel, run_file
from kernsim._core._policy import RandomPolicy
from kernsim._core._task import ThreadContext
from kernsim.linux import (
    DECLARE_WAIT_QUEUE_HEAD,
    current,
    kthread_run,
    kthread_should_stop,
    kthread_stop,
    msleep,
    pr_info,
    wait_event,
    wake_up,
)

NAMES = ["wait_event", "wait_event_timeout", "prepare_to_wait", "prepare_to_wait_exclusive",
         "prepare_to_wait_event", "wait_woken"]


@pytest.mark.parametrize("name", NAMES)
def test_seed_module_on_threads_prints_what_it_prints_on_greenlets(name: str) -> None:
    on_greenlets = run_file(SEED / f"{name}.py", seconds=6)
    on_threads = run_file(SEED / f"{name}.py", seconds=6, native_tasks=True)
    assert on_threads.lines == on_greenlets.lines
    assert on_threads.result.exit_code == on_greenlets.result.exit_code == 0


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_random_schedules_are_the_same_on_threads(seed: int) -> None:
    a = run_file(SEED / "prepare_to_wait_exclusive.py", seconds=5, policy=RandomPolicy(seed))
    b = run_file(SEED / "prepare_to_wait_exclusive.py", seconds=5, policy=RandomPolicy(seed),
                 native_tasks=True)
    assert b.lines == a.lines
    assert b.result.decisions == a.result.decisions


def test_the_early_rmmod_hang_is_reported_the_same_on_threads() -> None:
    a = run_file(SEED / "wait_event.py", seconds=2, hung_task_timeout=10)
    b = run_file(SEED / "wait_event.py", seconds=2, hung_task_timeout=10, native_tasks=True)
    assert a.result.outcome == b.result.outcome == "hung"
    assert b.lines == a.lines
    assert any("blocked for more than 10 seconds" in line for line in b.lines)


def test_threads_really_run_one_at_a_time_on_their_own_stacks() -> None:
    """Each kthread is its own OS thread, and no two of them ever run at once."""
    wq = DECLARE_WAIT_QUEUE_HEAD("wq")
    state = {"turn": 0, "running": 0, "rounds": 0, "overlap": False, "idents": set()}

    def player(me: int) -> int:
        while not kthread_should_stop():
            wait_event(wq, lambda: state["turn"] == me or kthread_should_stop())
            state["running"] += 1
            state["rounds"] += 1
            state["overlap"] |= state["running"] > 1
            state["idents"].add(threading.get_ident())
            state["turn"] = 1 - me
            state["running"] -= 1
            wake_up(wq)
        return me + 10

    def main() -> tuple[int, int]:
        a = kthread_run(player, 0, "ping")
        b = kthread_run(player, 1, "pong")
        assert isinstance(a.context, ThreadContext)
        while state["rounds"] < 100:
            msleep(1)
        return kthread_stop(a), kthread_stop(b)

    result, _ = in_kernel(main, native_tasks=True)
    assert result == (10, 11)
    assert not state["overlap"]
    assert threading.get_ident() not in state["idents"]
    assert len(state["idents"]) == 2


def test_a_fault_on_a_thread_is_an_oops_and_the_kernel_goes_on() -> None:
    def crash(_data: object) -> int:
        pr_info("about to crash\n")
        return {}["missing"]  # type: ignore[no-any-return]

    def main() -> str:
        kthread_run(crash, None, "crasher")
        msleep(50)
        return current.comm

    result, k = in_kernel(main, native_tasks=True)
    assert result == "test"
    texts = [r.text for r in k.log_records()]
    assert "about to crash" in texts
    assert any("Comm: crasher" in t for t in texts)


def test_teardown_unwinds_sleeping_threads() -> None:
    """Closing a kernel whose kthreads still sleep ends their OS threads."""
    before = threading.active_count()

    def sleeper(_data: object) -> int:
        while not kthread_should_stop():
            msleep(1000)
        return 0

    def main() -> int:
        for i in range(5):
            kthread_run(sleeper, None, "sleeper/%d", i)
        msleep(10)
        return 0

    in_kernel(main, seconds=1, native_tasks=True)
    assert threading.active_count() == before


def test_an_error_escaping_a_thread_task_reaches_the_host_instead_of_hanging() -> None:
    """If kernsim itself fails inside a task on a thread (here: a console that
    raises while the oops is printed), the error comes out of Kernel.run() --
    the thread must not die holding the CPU with the main thread waiting."""
    from kernsim._core._kernel import Kernel, KernelConfig

    class ConsoleGone(Exception):
        pass

    def console(rec: object) -> None:
        if "cut here" in getattr(rec, "text", ""):
            raise ConsoleGone()

    k = Kernel(KernelConfig(native_tasks=True, hung_task_timeout_secs=0))
    k.consoles.append(console)

    def boom() -> int:
        raise RuntimeError("module bug")

    k.spawn_kthread("boom", boom)

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("Kernel.run() hung")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)  # a lock acquire of the main thread is interrupted by it
    try:
        with pytest.raises(ConsoleGone):
            k.run(k.now + 10**9)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
