"""kthreads and error pointers (spec §4; kernel/kthread.c, include/linux/err.h,
include/uapi/asm-generic/errno*.h, include/linux/errno.h)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import in_kernel

import kernsim.linux as linux
from kernsim._core._bug import KernelBug
from kernsim._core._current import cur
from kernsim._core._task import TIF_SIGPENDING
from kernsim.linux import (
    DECLARE_COMPLETION,
    DECLARE_WAIT_QUEUE_HEAD,
    EINTR,
    ENOMEM,
    ERESTARTSYS,
    ERR_CAST,
    ERR_PTR,
    IS_ERR,
    IS_ERR_OR_NULL,
    MAX_ERRNO,
    PTR_ERR,
    PTR_ERR_OR_ZERO,
    TASK_RUNNING,
    TASK_UNINTERRUPTIBLE,
    get_current,
    jiffies,
    kthread_create,
    kthread_run,
    kthread_should_stop,
    kthread_stop,
    msleep,
    msleep_interruptible,
    pr_info,
    schedule_timeout_interruptible,
    schedule_timeout_uninterruptible,
    signal_pending,
    wait_event_interruptible,
    wait_for_completion_interruptible,
    wake_up_process,
)


def run(fn: Callable[[], Any], **kw: Any) -> Any:
    return in_kernel(fn, **kw)[0]


def fire_at(expires: int, base_clk: int) -> int:
    delta = expires - base_clk
    lvl = next(lvl for lvl in range(8) if delta < 63 << (3 * lvl))
    return ((expires >> (3 * lvl)) + 1) << (3 * lvl)


# -- §4.1 creation and naming ------------------------------------------------------

def test_kthread_create_leaves_the_thread_in_d_until_woken() -> None:
    def fn() -> dict[str, Any]:
        ran: list[int] = []
        t = kthread_create(lambda data: ran.append(data) or 0, 42, "created")
        out: dict[str, Any] = {"is_err": IS_ERR(t)}
        msleep(100)                           # plenty of time: it must not run
        out["before"] = (t.state, t.state_letter, t.nvcsw, list(ran))
        out["wake"] = wake_up_process(t)
        msleep(10)
        out["after"] = (list(ran), t.state_letter)
        return out

    out = run(fn)
    assert out["is_err"] is False
    assert out["before"] == (TASK_UNINTERRUPTIBLE, "D", 1, [])   # one voluntary switch
    assert out["wake"] == 1
    assert out["after"] == ([42], "X")


def test_kthread_run_runs_the_function_with_its_data() -> None:
    def fn() -> tuple[list[Any], Any]:
        got: list[Any] = []
        t = kthread_run(lambda data: got.append((data, get_current().comm)) or 0, "payload", "runner")
        msleep(1)
        return got, t.state_letter

    got, letter = run(fn)
    assert got == [("payload", "runner")]
    assert letter == "X"


@pytest.mark.parametrize("fmt, args, comm, full", [
    ("worker/%d", (7,), "worker/7", "worker/7"),
    ("%s-%02x", ("dev", 10), "dev-0a", "dev-0a"),
    ("my_long_thread_name_%d", (0,), "my_long_thread_", "my_long_thread_name_0"),
    ("x" * 70, (), "x" * 15, "x" * 63),
    ("exactly15chars_", (), "exactly15chars_", "exactly15chars_"),
])
def test_names(fmt: str, args: tuple[Any, ...], comm: str, full: str) -> None:
    """printf-formatted; task->comm keeps 15 chars; /proc/PID/comm shows up to 63."""
    def fn() -> tuple[str, str, list[str]]:
        seen: list[str] = []

        def body(_d: Any) -> int:
            seen.append(linux.current.comm)
            pr_info("%s says hi\n", linux.current.comm)
            return 0

        t = kthread_run(body, None, fmt, *args)
        msleep(1)
        return t.comm, t.full_name, seen

    (c, f, seen), k = in_kernel(fn)
    assert (c, f, seen) == (comm, full, [comm])
    assert f"{comm} says hi" in [r.text for r in k.log_records()]


def test_kthread_create_by_a_killed_creator_returns_eintr_and_leaves_no_thread() -> None:
    """§4.1 / kernel/kthread.c: the creator waits for kthreadd with
    wait_for_completion_killable(); with a fatal signal pending it takes the
    request back (``xchg(&create->done, NULL)``) and returns ERR_PTR(-EINTR).
    When kthreadd later forks the thread, kthread() finds ``done`` gone and
    exits at once with -EINTR: no thread is left sleeping in D."""
    def fn() -> tuple[Any, ...]:
        me = get_current()
        ran: list[int] = []
        pids_before = set(cur.k.tasks)
        me.signals |= 1 << 9                      # SIGKILL pending
        me.tif |= TIF_SIGPENDING
        t = kthread_create(lambda d: ran.append(1) or 0, None, "orphan")
        t2 = kthread_run(lambda d: ran.append(2) or 0, None, "orphan2")
        me.tif &= ~TIF_SIGPENDING
        me.signals = 0
        msleep(100)                               # kthreadd has run by now
        left = [(p.pid, p.comm, p.state_letter) for pid, p in cur.k.tasks.items()
                if pid not in pids_before]
        return IS_ERR(t), PTR_ERR(t), IS_ERR(t2), PTR_ERR(t2), ran, left

    assert run(fn) == (True, -EINTR, True, -EINTR, [], [])


def test_kthreadd_is_pid_2_and_the_parent() -> None:
    def fn() -> tuple[Any, ...]:
        t = kthread_create(lambda d: 0, None, "child")
        kthreadd = cur.k.tasks[2]
        r = (t.parent.pid, t.parent.comm, kthreadd.comm, kthreadd.parent, cur.k.tasks[1].comm,
             get_current().parent.pid, t.pid > 2)
        kthread_stop(t)
        return r

    assert run(fn) == (2, "kthreadd", "kthreadd", None, "init", 2, True)


# -- §4.2-4.4 stop -----------------------------------------------------------------------

@pytest.mark.parametrize("result", [0, 42, -ENOMEM, -1])
def test_kthread_stop_returns_the_thread_functions_result(result: int) -> None:
    def fn() -> tuple[int, bool, bool]:
        flags: list[bool] = []

        def body(_d: Any) -> int:
            flags.append(kthread_should_stop())
            while not kthread_should_stop():
                msleep(10)
            flags.append(kthread_should_stop())
            return result

        t = kthread_run(body, None, "stopme")
        msleep(50)
        r = kthread_stop(t)
        return r, flags[0], flags[1]

    assert run(fn) == (result, False, True)


def test_kthread_stop_before_the_first_wake_up_returns_eintr() -> None:
    def fn() -> tuple[int, list[int], bool]:
        ran: list[int] = []
        t = kthread_create(lambda d: ran.append(1) or 0, None, "never")
        msleep(10)
        r = kthread_stop(t)
        return r, ran, t.pid in cur.k.tasks

    assert run(fn) == (-EINTR, [], False)
    assert EINTR == 4


def test_kthread_stop_right_after_kthread_run_can_still_return_eintr() -> None:
    """kthread() tests SHOULD_STOP after its first wake-up, before calling the
    function: a stop that comes before the woken thread got to run wins."""
    def fn() -> tuple[int, list[int]]:
        ran: list[int] = []
        t = kthread_run(lambda d: ran.append(1) or 0, None, "racy")
        return kthread_stop(t), ran

    assert run(fn) == (-EINTR, [])


def test_the_stopper_waits_in_d_until_the_thread_exits() -> None:
    """kthread_stop blocks in wait_for_completion (D) and never returns early."""
    def fn() -> tuple[str, int, Any]:
        def stubborn(_d: Any) -> int:
            for _ in range(20):                  # ignores kthread_should_stop for 2 s
                msleep(100)
            return 9

        t = kthread_run(stubborn, None, "stubborn")
        result: list[Any] = []
        stopper = kthread_run(lambda d: result.append(kthread_stop(t)) or 0, None, "stopper")
        msleep(1000)
        letter = stopper.state_letter
        j0 = int(jiffies)
        while not result:
            msleep(100)
        return letter, int(jiffies) - j0, result[0]

    letter, waited, result = run(fn)
    assert letter == "D"
    assert waited >= 200                        # the remaining ~1 s of the loop
    assert result == 9


def test_kthread_stop_waits_for_the_rest_of_an_msleep() -> None:
    """msleep is woken by the stop's wake_up_process, then re-sleeps for the
    remaining jiffies (re-rounded from the wake jiffy), §4.4."""
    def fn() -> tuple[int, int, int, int]:
        stamps: list[int] = []

        def sleeper(_d: Any) -> int:
            schedule_timeout_uninterruptible(1)
            stamps.append(int(jiffies))
            msleep(1000)
            return 1

        t = kthread_run(sleeper, None, "sleeper")
        schedule_timeout_uninterruptible(101)   # stop ~100 jiffies into the msleep
        j_stop = int(jiffies)
        r = kthread_stop(t)
        return stamps[0], j_stop, int(jiffies), r

    j0, j_stop, j_end, r = run(fn, hz=250)
    expire = j0 + 251
    assert r == 1
    assert 0 < j_stop - j0 < 251
    assert j_end == fire_at(expire, j_stop)


def test_a_thread_that_returned_on_its_own() -> None:
    """§4.3: it is reaped at once (gone from the task list); the creator holds
    no reference, so a later kthread_stop is a use-after-free, which kernsim
    reports loudly (KernelBug) instead of returning the stale result."""
    def fn() -> tuple[bool, str]:
        t = kthread_run(lambda d: 17, None, "quick")
        msleep(10)
        alive = t.pid in cur.k.tasks
        try:
            kthread_stop(t)
        except KernelBug as e:
            return alive, e.message
        return alive, "no error"

    alive, msg = run(fn)
    assert not alive
    assert "use-after-free" in msg and "kthread_stop" in msg


def test_use_after_free_in_module_exit_is_reported_loudly(run_source) -> None:
    """The classic module bug end to end: the thread returned on its own, the
    exit function stops it anyway -> an oops-style report in dmesg, not a
    silently returned result."""
    run = run_source("""
        t = None
        def fn(data):
            return 3
        def m_init():
            global t
            t = kthread_run(fn, None, "quick")
            return 0
        def m_exit():
            pr_info("stop=%d\\n", kthread_stop(t))
        module_init(m_init)
        module_exit(m_exit)
    """, seconds=3)
    texts = run.texts
    assert any(x.startswith("BUG: KASAN: slab-use-after-free in kthread_stop") for x in texts)
    assert not any(x.startswith("stop=") for x in texts)
    assert run.result.exit_code != 0


def test_kthread_stop_with_a_held_reference_returns_the_stored_result_at_once() -> None:
    """§4.3: with get_task_struct() taken before the thread could exit,
    kthread_stop on the exited thread returns its exit value without waiting."""
    def fn() -> tuple[int, int, int]:
        t = kthread_create(lambda d: 23, None, "quick")
        assert linux.get_task_struct(t) is t
        wake_up_process(t)
        msleep(10)
        j0 = int(jiffies)
        r = kthread_stop(t)
        linux.put_task_struct(t)
        return r, int(jiffies) - j0, t.usage

    assert run(fn) == (23, 0, 0)


def test_put_task_struct_without_a_reference_is_an_underflow() -> None:
    """refcount_warn_saturate() (lib/refcount.c): a WARN_ONCE "refcount_t: underflow;
    use-after-free." reported at lib/refcount.c:28, as 6.1 kernels print it, and on."""
    def fn() -> str:
        t = kthread_run(lambda d: 0, None, "gone")
        msleep(10)                                # it exits: its last reference is dropped
        linux.put_task_struct(t)
        linux.put_task_struct(t)
        return "went on"

    out, k = in_kernel(fn)
    texts = [r.text for r in k.log_records()]
    assert out == "went on"
    assert texts.count("refcount_t: underflow; use-after-free.") == 1
    assert any(t.startswith("WARNING: CPU: 0 PID: ") and " at lib/refcount.c:28 " in t for t in texts)


def test_a_second_kthread_stop_is_a_use_after_free() -> None:
    def fn() -> tuple[int, str]:
        t = kthread_run(lambda d: (msleep(10), 5)[1], None, "once")
        msleep(1)                             # let it start (else: -EINTR)
        r = kthread_stop(t)
        try:
            kthread_stop(t)
        except KernelBug as e:
            return r, e.message
        return r, "no error"

    r, msg = run(fn)
    assert r == 5 and "use-after-free" in msg


def test_kthread_stop_makes_interruptible_sleeps_return() -> None:
    """TIF_NOTIFY_SIGNAL (6.0+): from the stop on, every interruptible sleep of
    the kthread returns at once; a kthread never clears the flag."""
    def fn() -> dict[str, Any]:
        out: dict[str, Any] = {}

        def worker(_d: Any) -> int:
            wq = DECLARE_WAIT_QUEUE_HEAD()
            x = DECLARE_COMPLETION()
            schedule_timeout_uninterruptible(1)
            j0 = int(jiffies)
            left = msleep_interruptible(10_000)            # interrupted by the stop
            j1 = int(jiffies)
            out["msleep_interruptible"] = (left, 4 * (j0 + 2501 - j1))
            out["signal_pending"] = signal_pending(get_current())
            j0 = int(jiffies)
            out["again"] = (msleep_interruptible(1000), int(jiffies) - j0)
            out["schedule_timeout_interruptible"] = (schedule_timeout_interruptible(300),
                                                     int(jiffies) - j0)
            out["wait_event_interruptible"] = wait_event_interruptible(wq, lambda: False)
            out["wait_for_completion_interruptible"] = wait_for_completion_interruptible(x)
            out["state"] = get_current().state
            return 0

        t = kthread_run(worker, None, "worker")
        msleep(500)
        out["stop"] = kthread_stop(t)
        return out

    out = run(fn, hz=250)
    left, expected = out["msleep_interruptible"]
    assert left == expected and 7900 < left < 9600
    assert out["signal_pending"] == 1
    assert out["again"] == (1004, 0)          # jiffies_to_msecs(msecs_to_jiffies(1000) + 1)
    assert out["schedule_timeout_interruptible"] == (300, 0)
    assert out["wait_event_interruptible"] == -ERESTARTSYS
    assert out["wait_for_completion_interruptible"] == -ERESTARTSYS
    assert out["state"] == TASK_RUNNING
    assert out["stop"] == 0


# -- §4.6 ERR_PTR and errno ------------------------------------------------------------

def test_error_pointers() -> None:
    def fn() -> dict[str, Any]:
        t = kthread_create(lambda d: 0, None, "ok")
        e = ERR_PTR(-ENOMEM)
        out = {
            "IS_ERR": (IS_ERR(e), IS_ERR(t), IS_ERR(None)),
            "IS_ERR_OR_NULL": (IS_ERR_OR_NULL(e), IS_ERR_OR_NULL(t), IS_ERR_OR_NULL(None)),
            "PTR_ERR": PTR_ERR(e),
            "PTR_ERR_OR_ZERO": (PTR_ERR_OR_ZERO(e), PTR_ERR_OR_ZERO(t), PTR_ERR_OR_ZERO(None)),
            "ERR_CAST": (ERR_CAST(e) is e, PTR_ERR(ERR_CAST(e))),
            "edges": (IS_ERR(ERR_PTR(-1)), PTR_ERR(ERR_PTR(-MAX_ERRNO)), MAX_ERRNO),
            "equal": ERR_PTR(-ENOMEM) == e,
        }
        kthread_stop(t)
        return out

    assert run(fn) == {
        "IS_ERR": (True, False, False),
        "IS_ERR_OR_NULL": (True, False, True),
        "PTR_ERR": -12,
        "PTR_ERR_OR_ZERO": (-12, 0, 0),
        "ERR_CAST": (True, -12),
        "edges": (True, -4095, 4095),
        "equal": True,
    }


ERRNO = {  # asm-generic/errno-base.h, asm-generic/errno.h, linux/errno.h
    "EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7,
    "ENOEXEC": 8, "EBADF": 9, "ECHILD": 10, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13,
    "EFAULT": 14, "ENOTBLK": 15, "EBUSY": 16, "EEXIST": 17, "EXDEV": 18, "ENODEV": 19,
    "ENOTDIR": 20, "EISDIR": 21, "EINVAL": 22, "ENFILE": 23, "EMFILE": 24, "ENOTTY": 25,
    "ETXTBSY": 26, "EFBIG": 27, "ENOSPC": 28, "ESPIPE": 29, "EROFS": 30, "EMLINK": 31,
    "EPIPE": 32, "EDOM": 33, "ERANGE": 34, "EDEADLK": 35, "ENAMETOOLONG": 36, "ENOLCK": 37,
    "ENOSYS": 38, "ENOTEMPTY": 39, "ELOOP": 40, "EWOULDBLOCK": 11, "ENOMSG": 42,
    "ENODATA": 61, "ETIME": 62, "EBADMSG": 74, "EOVERFLOW": 75, "EOPNOTSUPP": 95,
    "ETIMEDOUT": 110, "EALREADY": 114, "EINPROGRESS": 115, "ECANCELED": 125, "ENOKEY": 126,
    "EKEYREJECTED": 129,
    "ERESTARTSYS": 512, "ERESTARTNOINTR": 513, "ERESTARTNOHAND": 514, "ENOIOCTLCMD": 515,
    "ENOTSUPP": 524,
}


@pytest.mark.parametrize("name, value", sorted(ERRNO.items()))
def test_errno_values(name: str, value: int) -> None:
    assert getattr(linux, name) == value
