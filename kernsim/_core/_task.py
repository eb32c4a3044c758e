"""Tasks (``struct task_struct``) and the contexts their code runs on.

A task is the scheduler's unit: pid, name, state word, run-queue membership,
context-switch counts, and -- for kthreads -- the ``struct kthread`` that
``kthread_stop`` talks to.  What a task *executes* is kept behind a small
interface, :class:`TaskContext`: the scheduler only ever asks a context to
hand the CPU to another one.  Python tasks run on greenlets
(:class:`GreenletContext`): cheap to create, cheap to switch, a few KiB each.

A greenlet copies its C stack away while it is suspended.  That is invisible
to Python code, but C module code keeps wait entries and completions on its
stack and other tasks write into them, so a task that runs C code gets a
:class:`ThreadContext` instead: an OS thread of its own, whose stack never
moves, handed a *baton* so that exactly one context runs at a time -- the
schedule stays the policy's, deterministic, whatever the OS does.

Greenlets can only be switched to on the thread that made them (the main
thread), so a hand-off from a thread to a greenlet goes through
:data:`MAIN`: the thread names the greenlet and wakes the main thread, which
is parked in whichever greenlet last handed the CPU to a thread; that one
switches to the named greenlet (or just returns, if it is the one named).
"""

from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Final, Protocol

from greenlet import GreenletExit, greenlet

from ._states import TASK_RUNNING, state_letter, state_names

if TYPE_CHECKING:
    from ._kthread import KthreadInfo
    from ._timer import Timer

TASK_COMM_LEN: Final = 16
#: /proc/PID/comm shows at most this many characters of a kthread's full name.
KTHREAD_FULL_NAME_MAX: Final = 63

# task->flags (include/linux/sched.h); ps's F column is (flags >> 6) & 7:
# PF_FORKNOEXEC (1) and PF_SUPERPRIV (4).
PF_EXITING: Final = 0x00000004
PF_FORKNOEXEC: Final = 0x00000040
PF_SUPERPRIV: Final = 0x00000100
PF_NOFREEZE: Final = 0x00008000
PF_KTHREAD: Final = 0x00200000
PF_RANDOMIZE: Final = 0x00400000
#: A kthread: copy_process() sets PF_FORKNOEXEC on every new task, and it
#: never execs; kthreadd sets PF_NOFREEZE on itself and its children inherit
#: it (only set_freezable() clears it) with PF_KTHREAD.  ps: F 1.
KTHREAD_FLAGS: Final = PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC
#: A user program after exec: begin_new_exec() clears PF_FORKNOEXEC and
#: load_elf_binary() sets PF_RANDOMIZE (randomize_va_space is 2).  ps: F 0,
#: until a capable() check succeeds (PF_SUPERPRIV, F 4: ``_module.may_init_module``).
EXECED_FLAGS: Final = PF_RANDOMIZE

# thread_info flags as x86-64 numbers them (arch/x86/include/asm/thread_info.h);
# the hung-task report prints them ("flags:0x00004000").
TIF_NOTIFY_RESUME: Final = 1 << 1
TIF_SIGPENDING: Final = 1 << 2
TIF_NEED_FPU_LOAD: Final = 1 << 14
TIF_NOTIFY_SIGNAL: Final = 1 << 17


class TaskContext(Protocol):
    """How a task's code is run and switched."""

    def transfer_to(self, target: Any) -> Any:
        """Run *target* now; return when this context is resumed (with the value
        passed back, for the host context)."""

    def return_to(self, target: Any, value: Any) -> Any:
        """Hand *value* to *target* (the host) and suspend."""

    @property
    def started(self) -> bool:
        """Has it run yet?"""

    def frame(self) -> FrameType | None:
        """The innermost Python frame of the suspended task (for stack traces)."""


class _MainThread:
    """The main thread's side of a hand-off from a thread context."""

    __slots__ = ("wake", "target", "error")

    def __init__(self) -> None:
        #: Released (once per hand-off) to wake the main thread.  A semaphore,
        #: not a lock: after Ctrl-C abandoned a park, the thread that had the
        #: CPU still hands it back, and that must not raise in its thread.
        self.wake = threading.Semaphore(0)
        #: The greenlet the main thread is to run when woken.
        self.target: GreenletContext | None = None
        #: An exception that escaped a thread context (a bug of kernsim's, not
        #: of a module: those are caught as faults), to raise in *target*.
        self.error: BaseException | None = None

    def hand_to(self, target: GreenletContext, error: BaseException | None = None) -> None:
        """From a thread context: let the main thread run *target* (raising
        *error* in it, if given)."""
        self.target = target
        self.error = error
        self.wake.release()

    def park(self, me: GreenletContext) -> Any:
        """On the main thread, in greenlet *me*, after handing the CPU to a
        thread: sleep until a context hands the main thread back, then run the
        greenlet it named (return at once if that is *me*)."""
        self.wake.acquire()
        target, self.target = self.target, None
        error, self.error = self.error, None
        if target is me or target is None:
            if error is not None:
                raise error
            return None
        if error is not None:
            return target.glet.throw(error)
        return target.glet.switch()


#: There is one main thread per process, whatever the number of kernels.
MAIN: Final = _MainThread()


class GreenletContext:
    """A Python task on its own greenlet."""

    __slots__ = ("glet",)

    def __init__(self, run: Callable[[], Any] | None, parent: greenlet | None) -> None:
        self.glet = greenlet(run, parent) if run is not None else greenlet.getcurrent()

    def transfer_to(self, target: Any) -> Any:
        if type(target) is GreenletContext:
            return target.glet.switch()
        target.resume()
        return MAIN.park(self)

    def return_to(self, target: Any, value: Any) -> Any:
        """Hand *value* to *target* (the host) and suspend."""
        return target.glet.switch(value)

    @property
    def started(self) -> bool:
        return bool(self.glet)

    def frame(self) -> FrameType | None:
        """The innermost Python frame of a suspended task (for stack traces)."""
        return self.glet.gr_frame  # type: ignore[no-any-return]

    def kill(self) -> None:
        """Unwind the task's stack (kernel teardown): its ``finally`` blocks run."""
        if self.glet and not self.glet.dead:
            try:
                self.glet.throw(GreenletExit)
            except GreenletExit:
                pass


class ThreadContext:
    """A task on an OS thread of its own: a stack that never moves (C code).

    The thread is started on the first hand-off to it.  It runs only while it
    holds its baton; handing the CPU on releases the next context's baton (or
    wakes the main thread for a greenlet) and then waits for its own.
    """

    __slots__ = ("run", "host", "baton", "thread", "killed")

    #: The signal that makes runaway C module code on such a thread leave
    #: through its guard (set by the C runtime when it is loaded; None before).
    stop_signal: int | None = None

    def __init__(self, run: Callable[[], Any], host: GreenletContext) -> None:
        self.run = run
        #: Where the task goes when its function returns (a greenlet's parent).
        self.host = host
        self.baton = threading.Lock()
        self.baton.acquire()
        self.thread: threading.Thread | None = None
        #: Set by kill(): the thread unwinds when it next gets the baton.
        self.killed = False

    def resume(self) -> None:
        """Let this context run (start its thread the first time)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._main, name="kernsim-task", daemon=True)
            self.thread.start()
        self.baton.release()

    def _main(self) -> None:
        self.baton.acquire()
        error: BaseException | None = None
        try:
            if not self.killed:
                self.run()
        except GreenletExit:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the host, never lost
            # Without this the thread would die holding the CPU and the main
            # thread would wait for it for ever.
            error = exc
        MAIN.hand_to(self.host, error)

    def _wait(self) -> None:
        self.baton.acquire()
        if self.killed:
            raise GreenletExit

    def transfer_to(self, target: Any) -> Any:
        if type(target) is GreenletContext:
            MAIN.hand_to(target)
        else:
            target.resume()
        self._wait()

    def return_to(self, target: Any, value: Any) -> Any:
        MAIN.hand_to(target)
        self._wait()

    @property
    def started(self) -> bool:
        return self.thread is not None

    def frame(self) -> FrameType | None:
        if self.thread is None or self.thread.ident is None:
            return None
        return sys._current_frames().get(self.thread.ident)

    def kill(self) -> None:
        """Unwind the task (kernel teardown), from the main thread's host."""
        if self.thread is None:
            return
        if not self.thread.is_alive():
            return
        self.killed = True
        self.baton.release()
        # The thread hands the main thread back as it ends -- unless it is off
        # in C module code (Ctrl-C came while it ran): then it is left to die
        # with the process (a daemon thread).
        if MAIN.wake.acquire(timeout=2.0):
            MAIN.target = None
            self.thread.join(timeout=2.0)


class Task:
    """A ``struct task_struct``: a kthread or a user process of the simulation."""

    __slots__ = (
        "pid", "tgid", "comm", "full_name", "state", "exit_state", "on_rq", "flags",
        "tif", "parent", "kthread", "context", "nvcsw", "nivcsw", "last_switch_count",
        "last_switch_time", "slice_end", "spin_start", "lockup_report_at", "usage",
        "exit_code", "module", "tty", "blocked_on", "sleep_timer", "cpu",
        "kaddr", "user", "oopsed", "signals", "sig_allowed", "on_exit", "doomed", "sleep_site",
        "preempt_count", "held_locks", "c_stack", "start_time", "cmdline", "cpu_ns",
        "__weakref__",
    )

    def __init__(self, pid: int, comm: str, *, user: bool = False) -> None:
        self.pid = pid
        self.tgid = pid
        #: ``task->comm``: at most 15 characters, what printk and reports show.
        self.comm = comm[: TASK_COMM_LEN - 1]
        #: The full name (``/proc/PID/comm`` of a kthread, up to 63 characters).
        self.full_name = comm
        #: ``__state``: TASK_RUNNING, TASK_INTERRUPTIBLE, ...
        self.state = TASK_RUNNING
        self.exit_state = 0
        #: On the run queue (or running): a woken task is on_rq before it runs.
        self.on_rq = False
        self.flags = EXECED_FLAGS if user else KTHREAD_FLAGS
        self.tif = TIF_NEED_FPU_LOAD | (TIF_NOTIFY_RESUME if user else 0)
        self.parent: Task | None = None
        self.kthread: KthreadInfo | None = None
        self.context: Any = None
        #: Voluntary / involuntary context switches (the hung-task detector watches them).
        self.nvcsw = 0
        self.nivcsw = 0
        self.last_switch_count = 0
        self.last_switch_time = 0
        #: When the current time slice ends (round-robin preemption).
        self.slice_end = 0
        #: CPU time used, ns, in whole ticks (``utime + stime`` as tick-based
        #: accounting samples it: what ps shows as TIME and %CPU).
        self.cpu_ns = 0
        #: When it last started running after a voluntary sleep (soft-lockup watch).
        self.spin_start: int | None = None
        self.lockup_report_at = 0
        #: Reference count (``get_task_struct``); the task is freed at 0.
        self.usage = 1
        self.exit_code = 0
        #: The module whose code this task runs, if any.
        self.module: Any = None
        #: A user process's terminal: a callable taking one line of stderr.
        self.tty: Callable[[str], None] | None = None
        #: What it sleeps on (a wait queue head, a completion...), for inspection.
        self.blocked_on: Any = None
        self.sleep_timer: Timer | None = None
        self.cpu = 0
        self.kaddr = 0
        self.user = user
        self.oopsed = False
        #: Pending signal numbers, as a bit mask (1 << signo).
        self.signals = 0
        #: Signals a kthread let in with allow_signal(), as a bit mask (a kthread
        #: ignores the others; user processes take them all).
        self.sig_allowed = 0
        #: Called with the task when it exits (the simulation's wait4()).
        self.on_exit: Callable[[Task], None] | None = None
        #: Raised in the task when it next runs (its module's code was freed).
        self.doomed: BaseException | None = None
        #: While it sleeps inside the C accelerator (``_fastpath.c``): what a
        #: stack trace shows for the C frames, which Python cannot see --
        #: ``(anchor, code, ...)``: the code objects of the kernel functions
        #: they stand for, innermost first, to be shown right after the frame
        #: running *anchor* (a code object), or first of all if it is None.
        self.sleep_site: tuple[Any, ...] | None = None
        #: A task running C module code: where its stack's live module frames
        #: end, as of its latest call into the kernel (the C runtime's record).
        self.c_stack: Any = None
        #: ``preempt_count()`` of the task's own locking: +1 per spinlock held
        #: (``PREEMPT_LOCK_OFFSET``), +0x200 more for a ``_bh`` one.  Nonzero:
        #: sleeping is a bug (``BUG: scheduling while atomic``, see ``_lockdep``).
        self.preempt_count = 0
        #: lockdep's ``held_locks``: the locks it holds, oldest first, or None
        #: if it never took one (see ``_lockdep.HeldLock``).
        self.held_locks: list[Any] | None = None
        #: When it was created, ns since boot (``task->start_time``: ps's START, ETIME).
        self.start_time = 0
        #: A user process's argv (``/proc/PID/cmdline``); empty for a kthread.
        self.cmdline: list[str] = []

    def set_name(self, name: str) -> None:
        """Name a kthread as ``kthread_create`` does (``set_task_comm`` + full name)."""
        self.full_name = name[:KTHREAD_FULL_NAME_MAX]
        self.comm = name[: TASK_COMM_LEN - 1]

    @property
    def state_letter(self) -> str:
        """The state as ``ps`` shows it: R, S, D, I, P, ..."""
        return state_letter(self.state, self.exit_state)

    @property
    def alive(self) -> bool:
        return not self.exit_state

    def __repr__(self) -> str:
        return f"<task {self.pid} {self.full_name!r} {self.state_letter} {state_names(self.state)}>"
