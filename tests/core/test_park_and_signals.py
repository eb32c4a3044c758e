"""Parking, kthread_exit, signals and WARN_ON_ONCE (spec §1.3, §4.4-4.5;
kernel/kthread.c, kernel/signal.c, include/asm-generic/bug.h)."""

from __future__ import annotations

from typing import Any, Callable

from conftest import in_kernel

import kernsim.linux as linux
from kernsim.linux import (
    EBUSY,
    ERESTARTSYS,
    ESRCH,
    SIGKILL,
    SIGTERM,
    SIGUSR1,
    allow_signal,
    current,
    disallow_signal,
    fatal_signal_pending,
    flush_signals,
    kernel_dequeue_signal,
    kthread_complete_and_exit,
    kthread_exit,
    kthread_park,
    kthread_parkme,
    kthread_run,
    kthread_should_park,
    kthread_should_stop,
    kthread_stop,
    kthread_unpark,
    msleep,
    msleep_interruptible,
    schedule_timeout_interruptible,
    send_sig,
    signal_pending,
    wait_event_killable,
    wake_up_process,
    DECLARE_COMPLETION,
    DECLARE_WAIT_QUEUE_HEAD,
    wait_for_completion,
)


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


# -- parking -------------------------------------------------------------------------

def test_park_waits_until_the_thread_parks_and_unpark_resumes_it() -> None:
    """Spec §4.5: kthread_park() blocks until the thread is in kthread_parkme()
    (P); wake_up_process() does not wake a parked task; unpark resumes fn."""
    log: list[str] = []

    def worker(_: Any) -> int:
        n = 0
        while not kthread_should_stop():
            if kthread_should_park():
                log.append(f"parking after {n}")
                kthread_parkme()
                log.append("unparked")
            n += 1
            msleep(10)
        return n

    def fn() -> tuple[int, str, str, int]:
        t = kthread_run(worker, None, "worker")
        msleep(35)
        r = kthread_park(t)          # blocks until the worker is in kthread_parkme()
        state_parked = t.state_letter
        woke = wake_up_process(t)    # a parked task is not woken by it
        msleep(100)
        still = t.state_letter
        kthread_unpark(t)
        msleep(25)
        return r, state_parked + still + str(woke), t.state_letter, kthread_stop(t)

    r, states, after, result = run(fn)
    assert r == 0
    assert states == "PP0"
    assert after in ("D", "R")
    assert log == [log[0], "unparked"] and log[0].startswith("parking after ")
    assert result > 3


def test_a_second_park_request_is_ebusy_with_a_warning() -> None:
    def worker(_: Any) -> int:
        while not kthread_should_stop():
            if kthread_should_park():
                kthread_parkme()
            msleep(10)
        return 0

    def fn() -> tuple[int, int, int]:
        t = kthread_run(worker, None, "worker")
        msleep(5)
        first = kthread_park(t)
        second = kthread_park(t)
        third = kthread_park(t)
        kthread_unpark(t)
        kthread_stop(t)
        return first, second, third

    (first, second, third), k = in_kernel(fn)
    assert (first, second, third) == (0, -EBUSY, -EBUSY)
    warnings = [r.text for r in k.log_records() if r.text.startswith("WARNING: CPU: 0 PID:")]
    assert len(warnings) == 1  # WARN_ON_ONCE
    assert "test_park_and_signals.py:" in warnings[0] or " at " in warnings[0]
    assert "<kernsim export" not in warnings[0]


def test_kthread_stop_unparks_a_parked_thread() -> None:
    def worker(_: Any) -> int:
        while not kthread_should_stop():
            if kthread_should_park():
                kthread_parkme()
            msleep(10)
        return 7

    def fn() -> int:
        t = kthread_run(worker, None, "worker")
        msleep(5)
        kthread_park(t)
        return kthread_stop(t)

    assert run(fn) == 7


def test_a_thread_parked_before_it_ever_ran_parks_before_its_function() -> None:
    ran: list[bool] = []

    def worker(_: Any) -> int:
        ran.append(True)
        return 0

    def fn() -> tuple[bool, str, bool]:
        t = linux.kthread_create(worker, None, "late")
        kthread_park(t)              # wakes it: the start-up path parks first
        before = bool(ran)
        letter = t.state_letter
        kthread_unpark(t)
        msleep(1)
        return before, letter, bool(ran)

    assert run(fn) == (False, "P", True)


# -- kthread_exit / kthread_complete_and_exit -----------------------------------------

def test_kthread_exit_ends_the_thread_with_its_result() -> None:
    def worker(_: Any) -> int:
        try:
            kthread_exit(-5)
        except Exception:  # noqa: BLE001 - module code cannot catch the exit
            return 99
        return 1

    def fn() -> int:
        t = kthread_run(worker, None, "quitter")
        linux.get_task_struct(t)
        msleep(5)
        r = kthread_stop(t)
        linux.put_task_struct(t)
        return r

    assert run(fn) == -5


def test_kthread_complete_and_exit_completes_then_exits() -> None:
    def fn() -> tuple[int, int]:
        done = DECLARE_COMPLETION("done")

        def worker(_: Any) -> int:
            kthread_complete_and_exit(done, 3)
            return 0

        t = kthread_run(worker, None, "finisher")
        linux.get_task_struct(t)
        wait_for_completion(done)
        msleep(1)
        r = kthread_stop(t)
        linux.put_task_struct(t)
        return r, t.exit_code

    assert run(fn)[0] == 3


# -- signals -------------------------------------------------------------------------

def test_a_kthread_ignores_signals_it_did_not_allow() -> None:
    """Spec §1.3: kthreads ignore every signal unless they allow_signal() it."""
    def fn() -> tuple[int, int, int]:
        def worker(_: Any) -> int:
            return msleep_interruptible(1000)

        t = kthread_run(worker, None, "deaf")
        linux.get_task_struct(t)
        msleep(10)
        r = send_sig(SIGKILL, t, 0)
        pending = signal_pending(t)
        res = kthread_stop(t)  # TIF_NOTIFY_SIGNAL ends the interruptible sleep
        linux.put_task_struct(t)
        return r, pending, res

    r, pending, res = run(fn)
    assert (r, pending) == (0, 0)
    assert 0 < res < 1000


def test_an_allowed_signal_interrupts_sleeps_until_it_is_dequeued() -> None:
    def fn() -> list[Any]:
        out: list[Any] = []
        q = DECLARE_WAIT_QUEUE_HEAD("q")

        def worker(_: Any) -> int:
            allow_signal(SIGUSR1)
            allow_signal(SIGTERM)
            out.append(msleep_interruptible(1000))          # cut short by the signal
            out.append(signal_pending(current))
            out.append(schedule_timeout_interruptible(100))  # returns at once: still pending
            out.append(linux.wait_event_interruptible(q, lambda: False))
            out.append(kernel_dequeue_signal())
            out.append(kernel_dequeue_signal())
            out.append(signal_pending(current))
            return 0

        t = kthread_run(worker, None, "listener")
        msleep(100)
        send_sig(SIGTERM, t, 0)
        send_sig(SIGUSR1, t, 0)
        msleep(100)
        return out

    out = run(fn)
    assert 890 <= out[0] <= 904
    assert out[1] == 1
    assert out[2] == 100
    assert out[3] == -ERESTARTSYS
    assert out[4:] == [SIGUSR1, SIGTERM, 0]


def test_sigkill_wakes_a_killable_wait_and_is_fatal() -> None:
    def fn() -> tuple[int, int, int, int]:
        box: list[int] = []
        q = DECLARE_WAIT_QUEUE_HEAD("q")

        def worker(_: Any) -> int:
            allow_signal(SIGKILL)
            box.append(wait_event_killable(q, lambda: False))
            box.append(fatal_signal_pending(current))
            flush_signals(current)
            box.append(signal_pending(current))
            return 0

        t = kthread_run(worker, None, "victim")
        msleep(10)
        send_sig(SIGKILL, t, 1)
        msleep(10)
        return tuple(box)  # type: ignore[return-value]

    assert run(fn) == (-ERESTARTSYS, 1, 0)


def test_disallow_signal_drops_a_pending_one() -> None:
    def fn() -> tuple[int, int]:
        allow_signal(SIGUSR1)
        send_sig(SIGUSR1, current, 0)
        before = signal_pending(current)
        disallow_signal(SIGUSR1)
        return before, signal_pending(current)

    assert run(fn) == (1, 0)


def test_send_sig_of_no_signal_number_is_einval() -> None:
    """kernel/signal.c send_sig_info(): ``if (!valid_signal(sig)) return -EINVAL``."""
    assert run(lambda: (send_sig(99, current, 0), send_sig(-1, current, 0))) == (-22, -22)


def test_send_sig_to_an_exited_task_is_esrch() -> None:
    def fn() -> tuple[int, int]:
        t = kthread_run(lambda d: 0, None, "gone")
        linux.get_task_struct(t)
        msleep(10)
        r = send_sig(SIGTERM, t, 0), send_sig(0, current, 0)
        linux.put_task_struct(t)
        return r

    assert run(fn) == (-ESRCH, 0)


def test_kthread_stop_is_no_signal_flush_signals_keeps_it() -> None:
    def fn() -> int:
        def worker(_: Any) -> int:
            while not kthread_should_stop():
                msleep(5)
            flush_signals(current)
            return signal_pending(current)  # TIF_NOTIFY_SIGNAL stays

        t = kthread_run(worker, None, "stopped")
        msleep(10)
        return kthread_stop(t)

    assert run(fn) == 1


# -- WARN_ON_ONCE ----------------------------------------------------------------------

def test_warn_on_once_warns_once_per_site_and_returns_the_condition() -> None:
    def fn() -> list[bool]:
        out = []
        for i in range(3):
            out.append(linux.WARN_ON_ONCE(i > 0))
        for v in (5, 6):
            out.append(linux.WARN_ONCE(True, "odd value %d\n", v))
        return out

    out, k = in_kernel(fn)
    assert out == [False, True, True, True, True]
    texts = [r.text for r in k.log_records()]
    assert sum(t.startswith("WARNING: CPU: 0 PID:") for t in texts) == 2
    assert "odd value 5" in texts and "odd value 6" not in texts
