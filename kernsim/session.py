"""One ``kernsim run``: boot, insmod, let the module run, rmmod, report.

This is the tutorial's command sequence against a fresh simulated kernel::

    (boot) ... insmod MODULE at 1 s ... SECONDS later: rmmod NAME

``insmod`` and ``rmmod`` are user processes of the simulation (see
``kmod``), so the module's init and exit run in them and block them exactly
as on a real kernel.  A command that never returns -- an exit stuck in
``kthread_stop`` -- is not waited for forever: the run goes on until the
hung-task detector has reported the stuck command (in the kernel's words),
then ends with a clear message.  Faults in module code (oops, soft lockup)
are reported by the kernel and the run goes on; they make the exit status 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Final

from ._core._kernel import EXITED, Kernel, KernelConfig
from ._core._kernel import HUNG as KERNEL_HUNG
from ._core._kernel import PANICKED as KERNEL_PANICKED
from ._core._module import ModuleImage
from ._core._policy import Fifo, Policy
from ._core._printk import Record
from ._core._sched import NSEC_PER_SEC, STOP_IDLE
from ._core._task import Task
from .image import open_image
from .kmod import insmod, rmmod, shell_status

#: When insmod runs (seconds since boot), as a shell would shortly after boot.
DEFAULT_LOAD_AT: Final = 1.0
#: How long a module stays loaded by default (simulated seconds).
DEFAULT_SECONDS: Final = 6.0
#: How long to let a kthread left behind by a removed module run on (it faults
#: when it next wakes up), seconds.
LEFTOVER_GRACE: Final = 2.0

# Outcomes of a session.
OK: Final = "ok"
LOAD_FAILED: Final = "load-failed"
RMMOD_FAILED: Final = "rmmod-failed"
HUNG: Final = "hung"
STUCK: Final = "stuck"
ABORTED: Final = "aborted"
PANICKED: Final = "panic"


@dataclass
class SessionOptions:
    """What ``kernsim run`` was asked to do."""

    seconds: float = DEFAULT_SECONDS
    hz: int = 250
    policy: Policy = field(default_factory=Fifo)
    realtime: bool = False
    #: hung_task_timeout_secs of the simulated kernel (0 disables the detector).
    hung_task_timeout: int = 120
    load_at: float = DEFAULT_LOAD_AT
    #: Module parameters, as insmod passes them ("a=1 b=x").
    params: str = ""
    stuck_wall_seconds: float = 2.0
    #: Run every task on an OS thread (as C tasks run); see KernelConfig.native_tasks.
    native_tasks: bool = False
    #: Print every KASAN report, not only the first.
    kasan_multi_shot: bool = False


@dataclass
class SessionResult:
    """How the session ended."""

    #: 0 for a clean load, run and unload; 1 otherwise (as the tools would).
    exit_code: int
    #: OK, LOAD_FAILED, RMMOD_FAILED, HUNG, STUCK or ABORTED.
    outcome: str
    #: Every dmesg record of the session, oldest first.
    records: list[Record]
    #: The replay string of the schedule the run took.
    decisions: str
    #: Number of oops, soft-lockup, KASAN and kmemleak reports.
    faults: int = 0
    #: Simulated seconds since boot when the session ended.
    uptime: float = 0.0


class Session:
    """Drives one kernel through the insmod / run / rmmod sequence.

    console: called with each dmesg record as the kernel finalizes it.
    stderr: called with each line the tools and kernsim print to stderr.
    """

    def __init__(self, image: ModuleImage, options: SessionOptions, *,
                 console: Callable[[Record], None] | None = None,
                 stderr: Callable[[str], None] | None = None,
                 argument: str | None = None) -> None:
        self.image = image
        self.options = options
        self.argument = argument or image.display_path
        self.stderr = stderr or (lambda line: None)
        self.kernel = Kernel(KernelConfig(
            hz=options.hz, realtime=options.realtime, policy=options.policy,
            hung_task_timeout_secs=options.hung_task_timeout,
            stuck_wall_seconds=options.stuck_wall_seconds, native_tasks=options.native_tasks,
            kasan_multi_shot=options.kasan_multi_shot))
        k = self.kernel
        if console is not None:
            for rec in k.log_records():  # what boot printed before the console was attached
                console(rec)
            k.consoles.append(console)
        self.faults: list[tuple[Task, str]] = []
        k.fault_listeners.append(self._on_fault)
        #: The pids of the commands run so far (insmod, rmmod), by pid.
        self.command_pids: dict[int, str] = {}
        self.aborted = False

    # -- controls for observers -------------------------------------------------

    def abort(self) -> None:
        """Stop the session as soon as possible (an observer has seen enough)."""
        self.aborted = True
        self.kernel.request_stop()

    # -- the sequence ---------------------------------------------------------

    def run(self) -> SessionResult:
        k = self.kernel
        opts = self.options
        try:
            reason = self._run_until(int(opts.load_at * NSEC_PER_SEC))
            if reason in (ABORTED, PANICKED):
                return self._result(reason)
            status, code = self._command("insmod", lambda tty: insmod(
                k, self.image, self.argument, opts.params, tty))
            if status != OK:
                return self._result(status)
            if code != 0:
                return self._after_failed_load()
            reason = self._run_until(k.now + int(opts.seconds * NSEC_PER_SEC))
            if reason in (ABORTED, PANICKED):
                return self._result(reason)
            mod = k.modules.get(self.image.name)
            status, code = self._command("rmmod", lambda tty: rmmod(k, self.image.name, tty))
            if status != OK:
                return self._result(status)
            if code != 0:
                return self._result(RMMOD_FAILED)
            if mod is not None and any(t.module is mod for t in k.tasks.values()):
                self.stderr(f"kernsim: warning: module {mod.name} was removed while its threads "
                            f"still ran (its exit did not stop them)")
                reason = self._run_until(k.now + int(LEFTOVER_GRACE * NSEC_PER_SEC))
                if reason in (ABORTED, PANICKED):
                    return self._result(reason)
            return self._result(OK)
        finally:
            k.flush_log()

    def _after_failed_load(self) -> SessionResult:
        """insmod failed.  What the module started runs on, as on a real kernel:

        - its init died in an oops: the module stays "Loading" and its threads
          keep running; the session goes on, and its rmmod fails (the kernel
          refuses to remove a module that never finished loading);
        - its init returned an error: the module is freed, and threads it left
          running fault when they next run -- shown for a short grace time.
        """
        k = self.kernel
        name = self.image.name
        if name in k.modules:
            reason = self._run_until(k.now + int(self.options.seconds * NSEC_PER_SEC))
            if reason in (ABORTED, PANICKED):
                return self._result(reason)
            status, _ = self._command("rmmod", lambda tty: rmmod(k, name, tty))
            return self._result(status if status != OK else LOAD_FAILED)
        if any(t.module is not None and t.module.name == name for t in k.tasks.values()):
            self.stderr(f"kernsim: warning: module {name} failed to load while threads it started "
                        f"still ran (its init did not stop them)")
            reason = self._run_until(k.now + int(LEFTOVER_GRACE * NSEC_PER_SEC))
            if reason in (ABORTED, PANICKED):
                return self._result(reason)
        return self._result(LOAD_FAILED)

    def _run_until(self, when: int) -> str:
        reason = self.kernel.run(when)
        if self.kernel.panicked is not None:
            return PANICKED
        return ABORTED if self.aborted else reason

    def _command(self, comm: str, main: Callable[[Callable[[str], None]], int]) -> tuple[str, int]:
        """Run a user command to completion; (OK, exit code) or (why not, -1)."""
        k = self.kernel
        task = k.spawn_process(comm, lambda: main(self.stderr), tty=self.stderr,
                               native=self.image.native)
        self.command_pids[task.pid] = comm
        seconds = k.hung_report_wait_secs()
        reason = k.run_until_exited(task, k.now + seconds * NSEC_PER_SEC,
                                    keep_going=lambda: not self.aborted, until_hung=True)
        if reason == EXITED:
            return OK, shell_status(task.exit_code, self.stderr)  # killed by its module's oops?
        if reason == KERNEL_PANICKED:
            return PANICKED, -1
        if self.aborted:
            return ABORTED, -1
        if reason == KERNEL_HUNG:
            self._report_stuck(task, "the hung-task detector reported it above")
            return HUNG, -1
        if reason == STOP_IDLE:
            self._report_stuck(task, "nothing in the kernel can wake it: no task can run and no "
                                     "timer is pending")
        else:
            self._report_stuck(task, f"still blocked after {seconds} simulated seconds")
        return STUCK, -1

    def _on_fault(self, task: Task, kind: str) -> None:
        self.faults.append((task, kind))
        if kind == "stopped":
            self.kernel.flush_log()
            self.stderr(self.kernel.stopped_note(task))

    def _report_stuck(self, task: Task, why: str) -> None:
        k = self.kernel
        k.flush_log()
        what = "module init" if task.comm == "insmod" else "module exit"
        self.stderr(f"kernsim: {task.comm} (pid {task.pid}) never returned: the {what} of "
                    f"{self.image.name} is blocked in state {task.state_letter} "
                    f"({why}); stopping the simulation at {k.uptime:.3f} s")

    def _result(self, outcome: str) -> SessionResult:
        k = self.kernel
        k.flush_log()
        faults = len(self.faults)
        if outcome == OK and faults:
            leaks = sum(kind == "kmemleak" for _, kind in self.faults)
            what = []
            if faults - leaks:
                n = faults - leaks
                what.append(f"{n} fault{'s' if n > 1 else ''} in module code")
            if leaks:
                what.append("memory leaks")
            self.stderr(f"kernsim: the kernel reported {' and '.join(what)} (see the log above)")
        if outcome == PANICKED:
            self.stderr(f"kernsim: the kernel panicked ({k.panicked}); stopping the simulation "
                        f"at {k.uptime:.3f} s")
        exit_code = 0 if outcome == OK and not faults else 1
        return SessionResult(exit_code, outcome, k.log_records(), k.decisions.encode(),
                             faults, k.uptime)

    def close(self) -> None:
        self.kernel.close()


def run_module(path: str, options: SessionOptions | None = None, *,
               console: Callable[[Record], None] | None = None,
               stderr: Callable[[str], None] | None = None) -> SessionResult:
    """Build the module at *path* and run one session (see :class:`Session`).

    Raises ``ModuleBuildError`` if the file cannot be read or compiled.
    """
    image = open_image(path)
    session = Session(image, options or SessionOptions(), console=console, stderr=stderr,
                      argument=path)
    try:
        return session.run()
    finally:
        session.close()
