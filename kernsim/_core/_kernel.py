"""The simulated kernel: the core's parts put together, and booted.

``Kernel`` is one object holding everything a running kernel has -- run queue
and time line (``Scheduler``), log buffer (``PrintkLog``), kthreadd
(``Kthreads``), module list (``ModuleLoader``) and its own reports
(``Diagnostics``).  Each part lives in its own module as a mixin; this module
only chooses the configuration and boots.

Booting creates what ``ps`` shows on a freshly booted machine that matters
here: ``init`` (PID 1, a user process asleep), ``kthreadd`` (PID 2) and
``khungtaskd``; later tasks get pids from 100 up, as a real system has used
the low ones by then.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Final

from ._bug import PageFault
from ._clock import Clock, RealClock, VirtualClock
from ._current import cur
from ._diag import Diagnostics
from ._kthread import KthreadInfo, Kthreads
from ._module import Module, ModuleLoader
from ._policy import Fifo, Policy
from ._printk import KERN_INFO, KERN_NOTICE, PrintkLog
from ._sched import NSEC_PER_SEC, STOP_HORIZON, STOP_IDLE, STOP_REQUESTED, Scheduler
from ._kasan import Kasan
from ._kmemleak import Kmemleak
from ._slab import SlabAllocator
from ._states import TASK_INTERRUPTIBLE
from ._task import PF_EXITING, PF_SUPERPRIV, Task
from ._time import initial_jiffies

#: The first pid after boot's own tasks.
FIRST_USER_PID: Final = 100

#: Called with each kernel as it boots: state kept outside the kernel object
#: for the whole process (the C runtime's) that a new kernel must find clean.
BOOT_HOOKS: Final[list[Callable[[Any], None]]] = []


@dataclass
class KernelConfig:
    """What a kernel is booted with (``kernsim run`` options map onto these)."""

    #: CONFIG_HZ: ticks per second (jiffies, timer granules).
    hz: int = 250
    #: Pace the kernel by the wall clock instead of jumping over idle time.
    realtime: bool = False
    #: Who runs next at each decision point (see ``_policy``).
    policy: Policy = field(default_factory=Fifo)
    #: Simulated CPU time one kernel call costs, in ns.
    cost_ns: int = 1000
    release: str = "6.7.9-kernsim"
    uts_version: str = "#1 SMP PREEMPT_DYNAMIC"
    #: The version whose formats are printed (hung-task lines, stack bases).
    kernel_version: tuple[int, int] = (6, 7)
    #: /proc/sys/kernel/hung_task_timeout_secs (0 disables the detector).
    hung_task_timeout_secs: int = 120
    #: /proc/sys/kernel/hung_task_check_interval_secs (0: the timeout).
    hung_task_check_interval_secs: int = 0
    #: /proc/sys/kernel/hung_task_warnings (-1: unlimited).
    hung_task_warnings: int = 10
    #: Wall seconds module code may run without calling the kernel before the
    #: watchdog stops it (0 disables).
    stuck_wall_seconds: float = 2.0
    #: Log buffer size in bytes (CONFIG_LOG_BUF_SHIFT=17).
    log_buf_len: int = 1 << 17
    #: Run every task on an OS thread of its own, as tasks that run C code
    #: are (for testing that both kinds of context schedule alike).
    native_tasks: bool = False
    #: Print every KASAN report, not only the first (the kasan_multi_shot boot option).
    kasan_multi_shot: bool = False


class Kernel(Kthreads, ModuleLoader, SlabAllocator, Kasan, Kmemleak, Diagnostics, PrintkLog,
             Scheduler):
    """A booted simulated kernel.  Create it, then :meth:`run` it.

    ``Scheduler`` comes last: the other parts override its hooks
    (``exit_notify``, ``task_fault``, ``check_soft_lockup``...).
    """

    def __init__(self, config: KernelConfig | None = None) -> None:
        config = config or KernelConfig()
        if config.hz not in (100, 250, 300, 1000):
            raise ValueError(f"HZ must be one of 100, 250, 300, 1000 (CONFIG_HZ choices), not {config.hz}")
        self.config = config
        self.release = config.release
        self.uts_version = config.uts_version
        self.kernel_version = config.kernel_version
        clock: Clock = RealClock() if config.realtime else VirtualClock()
        self._init_sched(hz=config.hz, clock=clock, policy=config.policy, cost_ns=config.cost_ns,
                         initial_jiffies=initial_jiffies(config.hz))
        self.native_tasks = config.native_tasks
        #: The message of panic(), once it was called: the kernel runs no more.
        self.panicked: str | None = None
        self._init_printk(log_buf_len=config.log_buf_len)
        self._init_kthreads()
        self._init_modules()
        self._init_slab()
        self._init_kasan(multi_shot=config.kasan_multi_shot)
        self._init_diag(hung_task_timeout_secs=config.hung_task_timeout_secs,
                        hung_task_check_interval_secs=config.hung_task_check_interval_secs,
                        hung_task_warnings=config.hung_task_warnings,
                        stuck_wall_seconds=config.stuck_wall_seconds)
        self._boot()

    # -- boot -----------------------------------------------------------------

    def _boot(self) -> None:
        for hook in BOOT_HOOKS:
            hook(self)
        self.clock.start()
        clock = "real-time clock" if self.config.realtime else "virtual clock"
        self.printk_ln(KERN_NOTICE, f"Linux version {self.release} (kernsim@kernsim) "
                                    f"(Python {sys.version.split()[0]}) {self.uts_version}")
        self.printk_ln(KERN_INFO, f"kernsim: simulated kernel, HZ={self.hz}, {clock}, "
                                  f"policy {self.policy.name}")
        init = self.spawn("init", _never_runs, user=True, state=TASK_INTERRUPTIBLE)
        init.full_name = "/sbin/init"
        init.cmdline = ["/sbin/init"]
        # A real init has long used root's capabilities (mounting, for one).
        init.flags |= PF_SUPERPRIV
        self.init_task = init
        kthreadd = self.start_kthreadd()
        kthreadd.parent = None
        if self.hung_task_timeout_secs:
            self.start_khungtaskd()
        self.next_pid = max(self.next_pid, FIRST_USER_PID)

    def spawn_kthread(self, name: str, fn: Callable[[], int]) -> Task:
        """A kthread started by the kernel itself at boot (no creator waits)."""
        task = self.spawn(name, fn, parent=self.kthreadd_task)
        task.set_name(name)
        task.kthread = KthreadInfo(lambda _data: fn(), None)
        task.kthread.started = True
        return task

    # -- user processes -------------------------------------------------------

    def spawn_process(self, comm: str, main: Callable[[], int], *,
                      tty: Callable[[str], None] | None = None,
                      on_exit: Callable[[Task], None] | None = None, native: bool = False,
                      argv: list[str] | None = None) -> Task:
        """Start a user process (``insmod``, ``rmmod``...) as a child of init;
        *native* if it will run C module code (a C module's init or exit);
        *argv* its command line, as ``ps`` shows it (default: just *comm*)."""
        task = self.spawn(comm, main, parent=self.init_task, user=True, native=native)
        task.cmdline = list(argv) if argv else [comm]
        task.tty = tty
        task.on_exit = on_exit
        return task

    def hung_report_wait_secs(self) -> int:
        """How long a front end lets a blocked command wait for its hung-task
        report (``run_until_exited(until_hung=True)``), seconds of kernel time:
        the report comes at khungtaskd's second scan after the command
        blocked, and the timer wheel rounds each of its sleeps up by up to an
        eighth, so two timeouts are not enough.  With the detector off, 120 s."""
        timeout = self.hung_task_timeout_secs
        return 3 * timeout if timeout else 120

    def run_until_exited(self, task: Task, limit: int, *, step: int | None = None,
                         keep_going: Callable[[], bool] | None = None,
                         until_hung: bool = False) -> str:
        """Run until the user process *task* has exited (``EXITED``), or until
        something else ends the wait first: ``PANICKED``; ``HUNG`` (with
        *until_hung*: the hung-task detector has reported *task*);
        ``STOP_IDLE`` (nothing can ever wake it); ``STOP_HORIZON`` (time
        *limit*, ns, has come); ``STOP_REQUESTED`` (*keep_going*, asked after
        every run and every *step* ns of kernel time, said no).

        The one way every front end waits for an ``insmod`` or ``rmmod``:
        whoever stops the kernel for a reason of its own (a client that went
        away) says so in *keep_going*.
        """
        previous = task.on_exit
        hung: list[Task] = []

        def on_exit(t: Task) -> None:
            if previous is not None:
                previous(t)
            self.request_stop()

        def on_hung(t: Task) -> None:
            if t is task:
                hung.append(t)
                self.request_stop()

        task.on_exit = on_exit
        if until_hung:
            self.hung_task_listeners.append(on_hung)
        try:
            while not task.flags & PF_EXITING:
                reason = self.run(limit if step is None else min(limit, self.now + step))
                if task.flags & PF_EXITING:
                    break
                if self.panicked is not None:
                    return PANICKED
                if hung:
                    return HUNG
                if keep_going is not None and not keep_going():
                    return STOP_REQUESTED
                if reason == STOP_IDLE:
                    return STOP_IDLE
                if self.now >= limit:
                    return STOP_HORIZON
        finally:
            if task.on_exit is on_exit:
                task.on_exit = previous
            if until_hung:
                self.hung_task_listeners.remove(on_hung)
        return EXITED

    # -- modules --------------------------------------------------------------

    def module_freed(self, mod: Module, why: str = "its exit function did not stop it") -> None:
        """A module's memory is gone: what it allocated and did not free can no
        longer be referenced (kmemleak reports it), and any task still
        executing its code faults when it next runs (as a kthread left behind
        by a buggy exit does)."""
        self.kmemleak_scan(mod)
        left_behind = False
        for task in list(self.tasks.values()):
            if task.module is mod and task.alive:
                left_behind = True
                addr = mod.kaddr + 0x10 * (task.pid % 64)
                task.doomed = PageFault(
                    addr, f"{task.comm}:{task.pid} still runs code of module {mod.name}, "
                          f"which was removed ({why})", fetch=True)
        release = getattr(mod.image, "release", None)
        if release is not None and not left_behind:
            release(mod)  # a C module's code is unmapped (none of its threads is left)

    # -- running --------------------------------------------------------------

    def run(self, until: int | None = None) -> str:
        """Run until time *until* (ns since boot) or until nothing can happen;
        module code stuck in a loop that never calls the kernel is stopped by
        the watchdog (see ``_diag``)."""
        with self.stuck_watchdog():
            return super().run(until)

    def run_for(self, seconds: float) -> str:
        """Run for *seconds* more of kernel time."""
        return self.run(self.now + int(seconds * NSEC_PER_SEC))

    @property
    def uptime(self) -> float:
        return self.now / NSEC_PER_SEC

    def close(self) -> None:
        """Unwind every task; the kernel is not usable afterwards."""
        self.teardown()
        self.release_memory()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: :meth:`Kernel.run_until_exited`'s answers besides the scheduler's stop reasons.
EXITED: Final = "exited"
PANICKED: Final = "panicked"
HUNG: Final = "hung"


def _never_runs() -> int:
    """``init``: asleep for the whole simulation (nothing wakes it)."""
    return 0


def running_kernel() -> Any:
    """The kernel whose code is executing, or a placeholder that raises."""
    return cur.k
