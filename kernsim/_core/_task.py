"""Tasks (``struct task_struct``) and the contexts their code runs on.

A task is the scheduler's unit: pid, name, state word, run-queue membership,
context-switch counts, and -- for kthreads -- the ``struct kthread`` that
``kthread_stop`` talks to.  What a task *executes* is kept behind a small
interface, :class:`TaskContext`: the scheduler only ever asks a context to
hand the CPU to another one.  Python tasks run on greenlets
(:class:`GreenletContext`): cheap to create, cheap to switch, a few KiB each.

Divergence and its reason: a greenlet copies its C stack away while it is
suspended.  That is invisible to Python code, but C module code keeps wait
entries and completions on its stack and other tasks write into them, so C
tasks will need contexts with stacks that never move (an OS thread each,
handed a baton so that exactly one runs at a time).  Such a context only has
to implement :meth:`TaskContext.transfer_to`; the scheduler does not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Final, Protocol

from greenlet import greenlet

from ._states import TASK_RUNNING, state_letter, state_names

if TYPE_CHECKING:
    from ._kthread import KthreadInfo
    from ._timer import Timer

TASK_COMM_LEN: Final = 16
#: /proc/PID/comm shows at most this many characters of a kthread's full name.
KTHREAD_FULL_NAME_MAX: Final = 63

# task->flags (include/linux/sched.h)
PF_EXITING: Final = 0x00000004
PF_KTHREAD: Final = 0x00200000
PF_NOFREEZE: Final = 0x00008000

# thread_info flags as x86-64 numbers them (arch/x86/include/asm/thread_info.h);
# the hung-task report prints them ("flags:0x00004000").
TIF_NOTIFY_RESUME: Final = 1 << 1
TIF_SIGPENDING: Final = 1 << 2
TIF_NEED_FPU_LOAD: Final = 1 << 14
TIF_NOTIFY_SIGNAL: Final = 1 << 17


class TaskContext(Protocol):
    """How a task's code is run and switched."""

    def transfer_to(self, target: TaskContext) -> Any:
        """Run *target* now; return when this context is resumed (with the value
        passed back, for the host context)."""


class GreenletContext:
    """A Python task on its own greenlet."""

    __slots__ = ("glet",)

    def __init__(self, run: Callable[[], Any] | None, parent: greenlet | None) -> None:
        self.glet = greenlet(run, parent) if run is not None else greenlet.getcurrent()

    def transfer_to(self, target: TaskContext) -> Any:
        return target.glet.switch()  # type: ignore[attr-defined]

    def return_to(self, target: TaskContext, value: Any) -> Any:
        """Hand *value* to *target* (the host) and suspend."""
        return target.glet.switch(value)  # type: ignore[attr-defined]

    @property
    def started(self) -> bool:
        return bool(self.glet)

    def frame(self) -> Any:
        """The innermost Python frame of a suspended task (for stack traces)."""
        return self.glet.gr_frame


class Task:
    """A ``struct task_struct``: a kthread or a user process of the simulation."""

    __slots__ = (
        "pid", "tgid", "comm", "full_name", "state", "exit_state", "on_rq", "flags",
        "tif", "parent", "kthread", "context", "nvcsw", "nivcsw", "last_switch_count",
        "last_switch_time", "slice_end", "spin_start", "lockup_report_at", "usage",
        "exit_code", "module", "tty", "blocked_on", "sleep_timer", "cpu",
        "kaddr", "user", "oopsed", "signals", "on_exit", "doomed", "__weakref__",
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
        self.flags = 0 if user else PF_KTHREAD
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
        #: Called with the task when it exits (the simulation's wait4()).
        self.on_exit: Callable[[Task], None] | None = None
        #: Raised in the task when it next runs (its module's code was freed).
        self.doomed: BaseException | None = None

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
