"""The kernel's own reports: oops, hung tasks, soft lockups, stack dumps, taint
(``kernel/panic.c``, ``kernel/hung_task.c``, ``kernel/watchdog.c``,
``arch/x86/kernel/dumpstack.c``, ``kernel/sched/core.c:sched_show_task``).

Stack traces are built from the Python frames of the task: frames of kernel
functions print under their kernel symbol (see ``_export.KSYMS``), frames of
a module's code as ``function+0xOFF/0xSIZE [module]`` (offsets derived from
line numbers, so they are stable from run to run), and everything else in
kernsim -- the simulation machinery and inlined macros -- is left out, as
inlined code is in a real trace.

Divergences, deliberately: an exception in module code is reported as a BUG
(or, for a use of ``None``, as a NULL pointer dereference) with the Python
exception as its message; the task is then killed as the kernel kills an
oopsing task.  Module code that runs for seconds of wall time without calling
the kernel cannot be preempted by a simulator, so a watchdog thread stops it
with a soft-lockup report and kills the task (the real kernel would report
it every ~24 s and let it spin).
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
import time
import traceback
from types import CodeType, FrameType, TracebackType
from typing import Any, Callable, Final

from ._bug import KernelBug, NullPointerDereference, PageFault, Trap
from ._export import FRAME_EXPANDERS, KSYMS, ksym
from ._printk import KERN_ALERT, KERN_DEFAULT, KERN_EMERG, KERN_ERR, KERN_INFO, KERN_WARNING
from ._sched import MAX_SCHEDULE_TIMEOUT, NSEC_PER_SEC, TaskKill
from ._states import TASK_INTERRUPTIBLE, TASK_NOLOAD, TASK_UNINTERRUPTIBLE, TASK_WAKEKILL
from ._task import Task

SIGSEGV: Final = 11
SIGKILL: Final = 9

# Taint bits (include/linux/panic.h) and their letters, in print_tainted() order.
TAINT_PROPRIETARY_MODULE: Final = 0
TAINT_FORCED_MODULE: Final = 1
TAINT_FORCED_RMMOD: Final = 3
TAINT_DIE: Final = 7
TAINT_WARN: Final = 9
TAINT_OOT_MODULE: Final = 12
TAINT_UNSIGNED_MODULE: Final = 13
TAINT_SOFTLOCKUP: Final = 14
_TAINT_LETTERS: Final = "PFSRMBUDAWCIOELKXTN"
_TAINT_UNSET: Final = "G" + " " * 18

#: Soft-lockup threshold: 2 * watchdog_thresh (10 s); samples every 4 s
#: (threshold / 5).  kernel/watchdog.c counts in get_timestamp()'s units,
#: ``running_clock() >> 30`` ("2^30 ~= 10^9"), so a task is reported at the
#: first sample whose timestamp exceeds the last touch's by more than 20 units,
#: and "stuck for 22s!" is the 24 s of wall time from that touch.
SOFTLOCKUP_THRESH_NS: Final = 20 * NSEC_PER_SEC
SOFTLOCKUP_THRESH_UNITS: Final = 20
SOFTLOCKUP_SAMPLE_NS: Final = 4 * NSEC_PER_SEC


def watchdog_timestamp(ns: int) -> int:
    """``get_timestamp()`` of kernel/watchdog.c: the clock in units of 2^30 ns."""
    return ns >> 30


def last_watchdog_touch(start: int) -> int:
    """When the watchdog's stopper work last ran before a loop that began at
    *start*: the sample at or before it (the loop keeps it from running again)."""
    return start - start % SOFTLOCKUP_SAMPLE_NS


def next_lockup_report(period: int) -> int:
    """The first watchdog sample after *period* (a sample time) at which
    ``is_softlockup()`` holds: its timestamp is more than the threshold past
    *period*'s."""
    when = period + SOFTLOCKUP_SAMPLE_NS
    limit = watchdog_timestamp(period) + SOFTLOCKUP_THRESH_UNITS
    while watchdog_timestamp(when) <= limit:
        when += SOFTLOCKUP_SAMPLE_NS
    return when


class StuckInModuleCode(TaskKill):
    """Injected into a task whose module code has not called the kernel for
    too long (a loop the simulator cannot preempt)."""


def taint_string(taints: int) -> str:
    """``print_tainted()``: ``Not tainted`` or ``Tainted: G           OE     ``."""
    if not taints:
        return "Not tainted"
    chars = []
    for bit, letter in enumerate(_TAINT_LETTERS):
        if taints & (1 << bit):
            chars.append(letter)
        else:
            chars.append(_TAINT_UNSET[bit] if bit else "G")
    return "Tainted: " + "".join(chars)


def taint_flags(taints: int) -> str:
    """The module-list form of a taint set, e.g. ``OE``."""
    return "".join(letter for bit, letter in enumerate(_TAINT_LETTERS) if taints & (1 << bit))


class Diagnostics:
    """Oops, hung-task and soft-lockup reports; taint; stack traces."""

    def _init_diag(self, *, hung_task_timeout_secs: int, hung_task_check_interval_secs: int,
                   hung_task_warnings: int, stuck_wall_seconds: float) -> None:
        self.taints = 0
        self.oops_count = 0
        self.hung_task_timeout_secs = hung_task_timeout_secs
        self.hung_task_check_interval_secs = hung_task_check_interval_secs
        self.hung_task_warnings = hung_task_warnings
        self.stuck_wall_seconds = stuck_wall_seconds
        #: The scheduler's lower bound for a first soft-lockup report.
        self.lockup_thresh_ns = SOFTLOCKUP_THRESH_NS
        #: The WARN_ON_ONCE() sites that have warned (the kernel's .data.once).
        self.warned_once: set[Any] = set()
        #: Called with each task the hung-task detector reports.
        self.hung_task_listeners: list[Callable[[Task], None]] = []
        #: Called with (task, kind) after each oops or lockup report.
        self.fault_listeners: list[Callable[[Task, str], None]] = []

    # -- taint --------------------------------------------------------------

    def add_taint(self, flag: int) -> None:
        self.taints |= 1 << flag

    def test_taint(self, flag: int) -> bool:
        return bool(self.taints & (1 << flag))

    def print_tainted(self) -> str:
        return taint_string(self.taints)

    def utsname_line(self) -> str:
        """``<taint> <release> <version up to the first blank>``."""
        k: Any = self
        return f"{self.print_tainted()} {k.release} {k.uts_version.split(' ')[0]}"

    # -- stack traces ---------------------------------------------------------

    def frame_symbol(self, code: CodeType, lineno: int | None) -> str | None:
        """How a frame prints in a trace, or None to leave it out."""
        sym = KSYMS.get(code)
        if sym is not None:
            name, off, size = sym
            if not off:
                off = 0x10 * max(0, (lineno or code.co_firstlineno) - code.co_firstlineno) + 5
                off = min(off, size - 1)
            return f"{name}+{off:#x}/{size:#x}"
        k: Any = self
        module = k.module_of_code(code)
        if module is None:
            return None
        lines = [ln for _, _, ln in code.co_lines() if ln is not None]
        size = 0x10 * (max(lines, default=code.co_firstlineno) - code.co_firstlineno + 2)
        off = 0x10 * max(0, (lineno or code.co_firstlineno) - code.co_firstlineno) + 5
        name = code.co_name.strip("<>")
        return f"{name}+{off:#x}/{size:#x} [{module.name}]"

    def _frame_lines(self, frame: FrameType, lineno: int | None, out: list[str]) -> None:
        expand = FRAME_EXPANDERS.get(frame.f_code)
        if expand is not None:
            for line in expand(frame):
                # A C function seen from both sides of a call (where it called
                # the kernel, and as the function a guard entered) shows once.
                if not out or out[-1].split("+")[0] != line.split("+")[0]:
                    out.append(line)
            return
        sym = self.frame_symbol(frame.f_code, lineno)
        if sym is not None:
            out.append(sym)

    def trace_from_frame(self, frame: FrameType | None,
                         site: tuple[Any, ...] | None = None) -> list[str]:
        """Symbols of a frame chain, innermost first; *site*: a sleeping
        task's ``Task.sleep_site`` (C frames the chain cannot show)."""
        out: list[str] = []
        anchor, codes = (site[0], site[1:]) if site else (None, ())
        if site and anchor is None:
            out.extend(self.frame_symbol(code, None) or "?" for code in codes)
        while frame is not None:
            self._frame_lines(frame, frame.f_lineno, out)
            if anchor is not None and frame.f_code is anchor:
                out.extend(self.frame_symbol(code, None) or "?" for code in codes)
                anchor = None
            frame = frame.f_back
        return out

    def trace_from_traceback(self, tb: TracebackType | None) -> list[str]:
        frames = []
        while tb is not None:
            frames.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
        out: list[str] = []
        for frame, lineno in reversed(frames):
            self._frame_lines(frame, lineno, out)
        # The frames above the one that caught the exception (the task's base).
        return out

    def task_trace(self, task: Task, frame: FrameType | None = None) -> list[str]:
        """The ``Call Trace`` lines of *task* (suspended, or at *frame*)."""
        if frame is None and task.context is not None:
            frame = task.context.frame()
        asleep = task.context is not None and frame is task.context.frame()
        syms = self.trace_from_frame(frame, task.sleep_site if asleep else None)
        return syms + self.trace_base(task)

    def trace_base(self, task: Task) -> list[str]:
        """The frames below every task's code: how it was entered."""
        k: Any = self
        if task.user:
            return ["do_syscall_64+0x5d/0xb0", "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"]
        if k.kernel_version >= (6, 7):
            return ["ret_from_fork+0x31/0x50", "ret_from_fork_asm+0x1b/0x30"]
        return ["ret_from_fork+0x22/0x30"]

    def print_call_trace(self, lines: list[str], level: str = KERN_DEFAULT) -> None:
        k: Any = self
        k.printk_ln(level, "Call Trace:")
        k.printk_ln(level, " <TASK>")
        for sym in lines:
            k.printk_ln(level, " " + sym)
        k.printk_ln(level, " </TASK>")

    def cpu_line(self, task: Task | None) -> str:
        pid = task.pid if task else 0
        comm = task.comm if task else "swapper/0"
        cpu = task.cpu if task else 0
        return f"CPU: {cpu} PID: {pid} Comm: {comm[:20]} {self.utsname_line()}"

    def hardware_line(self) -> str:
        return "Hardware name: kernsim simulated machine, BIOS kernsim 01/01/2024"

    def modules_linked_in(self) -> str:
        k: Any = self
        names = []
        for mod in k.modules_newest_first():
            flags = taint_flags(mod.taints)
            if mod.state_name == "Loading":
                flags += "+"
            elif mod.state_name == "Unloading":
                flags += "-"
            names.append(f"{mod.name}({flags})" if flags else mod.name)
        # print_modules(): "Modules linked in:", then " %s" per module.
        line = "Modules linked in:" + "".join(" " + n for n in names)
        if k.last_unloaded:
            line += f" [last unloaded: {k.last_unloaded}]"
        return line

    def dump_stack(self, frame: FrameType | None = None, level: str = KERN_DEFAULT) -> None:
        """``dump_stack()``: who is running and its call trace."""
        k: Any = self
        task = k.current
        k.printk_ln(level, self.cpu_line(task))
        k.printk_ln(level, self.hardware_line())
        if frame is None:
            frame = sys._getframe(1)
        self.print_call_trace(self.trace_from_frame(frame) + (self.trace_base(task) if task else []), level)

    # -- oops -----------------------------------------------------------------

    def task_fault(self, task: Task, exc: BaseException) -> int:
        """Module code raised *exc* in *task*: report it as the kernel would and
        return the exit code the task dies with."""
        k: Any = self
        k.flush_log()
        if isinstance(exc, StuckInModuleCode):
            # The loop would have held the CPU until the watchdog's first
            # report: in virtual time, that is when the report comes.
            start = task.spin_start if task.spin_start is not None else k.now
            first = self.first_lockup_report(start)
            if k.clock_virtual and k.now < first:
                k.now = first
            self.report_soft_lockup(task, exc.__traceback__, killed=True)
            # A real kernel would leave it spinning; kernsim cannot, so it
            # stops the task -- and keeps its task_struct, so that the module's
            # kthread_stop() finds a thread that exited, not freed memory.
            task.usage += 1
            self._notify_fault(task, "stopped")
            return SIGKILL
        trace = self.trace_from_traceback(exc.__traceback__)
        site = getattr(exc, "site", None) or self._fault_site(exc.__traceback__)
        fault = exc if isinstance(exc, PageFault) else None
        if fault is None and _is_none_use(exc):
            fetch, write = _none_use_access(exc)
            fault = NullPointerDereference(_exception_text(exc), fetch=fetch, write=write)
        self.oops_count += 1
        rip = next((s for s in trace), "0x0")
        header = f"[#{self.oops_count}] PREEMPT SMP NOPTI"
        if fault is not None:
            access = fault.access
            k.printk_ln(KERN_ALERT, fault.message)
            k.printk_ln(KERN_ALERT, f"#PF: supervisor {access} in kernel mode")
            k.printk_ln(KERN_ALERT, f"#PF: error_code({fault.error_code:#06x}) - not-present page")
            k.printk_ln(KERN_DEFAULT, "PGD 0 P4D 0 ")
            k.printk_ln(KERN_EMERG, f"Oops: {fault.error_code:04x} {header}")
        elif isinstance(exc, (ZeroDivisionError, Trap)):
            # die("divide error" / "invalid opcode", ...): no "cut here", no BUG line
            trap = exc.trap if isinstance(exc, Trap) else "divide error"
            k.printk_ln(KERN_EMERG, f"{trap}: 0000 {header}")
        else:
            if isinstance(exc, KernelBug) and exc.message:
                k.printk_ln(KERN_ERR, exc.message)
            k.printk_ln(KERN_WARNING, "------------[ cut here ]------------")
            if not isinstance(exc, KernelBug):
                k.printk_ln(KERN_WARNING, _exception_text(exc))
            k.printk_ln(KERN_WARNING, f"kernel BUG at {site}!")
            k.printk_ln(KERN_EMERG, f"invalid opcode: 0000 {header}")
        k.printk_ln(KERN_WARNING, self.cpu_line(task))
        k.printk_ln(KERN_WARNING, self.hardware_line())
        k.printk_ln(KERN_WARNING, f"RIP: 0010:{rip}")
        code = _source_line(exc.__traceback__, lambda c: k.module_of_code(c) is not None)
        if fault is not None and fault.what:
            k.printk_ln(KERN_WARNING, "Code: " + fault.what + (f" ({code})" if code else ""))
        elif code:
            k.printk_ln(KERN_WARNING, f"Code: {code}")
        self.print_call_trace(trace + self.trace_base(task), KERN_WARNING)
        k.printk_ln(KERN_WARNING, self.modules_linked_in())
        if fault is not None:
            k.printk_ln(KERN_WARNING, f"CR2: {fault.address:016x}")
        k.printk_ln(KERN_WARNING, "---[ end trace 0000000000000000 ]---")
        k.printk_ln(KERN_WARNING, f"RIP: 0010:{rip}")
        self.add_taint(TAINT_DIE)
        task.oopsed = True
        if "KERNSIM_DEBUG" in __import__("os").environ:
            traceback.print_exception(type(exc), exc, exc.__traceback__)
        self._notify_fault(task, "oops")
        # page_fault_oops() ends the task with SIGKILL, die() with SIGSEGV.
        return SIGKILL if fault is not None else SIGSEGV

    def task_killed(self, task: Task, exc: BaseException) -> int:
        """A task was killed by the simulation; the watchdog's kill is reported."""
        if isinstance(exc, StuckInModuleCode):
            return self.task_fault(task, exc)
        return SIGKILL

    def stopped_note(self, task: Task) -> str:
        """kernsim's own word (not the kernel's) on a task its watchdog stopped."""
        return (f"kernsim: {task.comm} (pid {task.pid}) ran module code for "
                f"{self.stuck_wall_seconds:g} s of wall time without calling the kernel: "
                f"kernsim stopped it (a real kernel would leave it spinning)")

    def _notify_fault(self, task: Task, kind: str) -> None:
        for listener in list(self.fault_listeners):
            listener(task, kind)

    def _fault_site(self, tb: TracebackType | None) -> str:
        """``file:line`` of the innermost module frame of a traceback."""
        k: Any = self
        site = "kernel/kernsim.c:0"
        while tb is not None:
            module = k.module_of_code(tb.tb_frame.f_code)
            if module is not None:
                site = f"{module.image.display_path}:{tb.tb_lineno}"
            tb = tb.tb_next
        return site

    # -- soft lockup ----------------------------------------------------------

    def first_lockup_report(self, start: int) -> Any:
        """When a task that started running at *start* and never sleeps is
        first reported: 24 s after the watchdog's last touch before it (never
        less than the scheduler's bound, start + 20 s)."""
        return next_lockup_report(last_watchdog_touch(start))

    def check_soft_lockup(self, task: Task) -> None:
        """Called at a scheduling point once *task* has run for its report time
        without sleeping: report, and schedule the next report.

        The scheduler sets a cheap lower bound (start + threshold) when the task
        starts running; the exact time, on a watchdog sample, is computed here."""
        first = self.first_lockup_report(task.spin_start if task.spin_start is not None else 0)
        if task.lockup_report_at < first:
            task.lockup_report_at = first
            k: Any = self
            if k.now < first:
                return
        self.report_soft_lockup(task, None, killed=False, frame=sys._getframe(2))
        # update_report_ts(): the next report is a threshold past this one.
        task.lockup_report_at = next_lockup_report(task.lockup_report_at)
        self._notify_fault(task, "soft lockup")

    def report_soft_lockup(self, task: Task, tb: TracebackType | None, *, killed: bool,
                           frame: FrameType | None = None) -> None:
        k: Any = self
        start = task.spin_start if task.spin_start is not None else k.now
        if not killed:
            at = task.lockup_report_at  # the watchdog sample that reports it
        elif k.clock_virtual:
            at = k.now  # task_fault moved the clock to the report's sample
        else:
            # On the wall clock kernsim stopped the loop long before a kernel's
            # watchdog would report it: say when, and for how long it was stuck.
            at = k.now = k.clock.read(k.now)
        secs = watchdog_timestamp(at) - watchdog_timestamp(last_watchdog_touch(start))
        k.printk_ln(KERN_EMERG, f"watchdog: BUG: soft lockup - CPU#{task.cpu} stuck for {secs}s! [{task.comm}:{task.pid}]")
        k.printk_ln(KERN_WARNING, self.modules_linked_in())
        k.printk_ln(KERN_WARNING, self.cpu_line(task))
        k.printk_ln(KERN_WARNING, self.hardware_line())
        trace = self.trace_from_traceback(tb) if tb is not None else self.trace_from_frame(frame)
        k.printk_ln(KERN_WARNING, f"RIP: 0010:{trace[0] if trace else '0x0'}")
        k.printk_ln(KERN_WARNING, "Call Trace:")
        k.printk_ln(KERN_WARNING, " <IRQ>")
        k.printk_ln(KERN_WARNING, " watchdog_timer_fn+0x1d5/0x240")
        k.printk_ln(KERN_WARNING, " __hrtimer_run_queues+0x112/0x2b0")
        k.printk_ln(KERN_WARNING, " hrtimer_interrupt+0xfc/0x210")
        k.printk_ln(KERN_WARNING, " </IRQ>")
        k.printk_ln(KERN_WARNING, " <TASK>")
        for sym in trace + self.trace_base(task):
            k.printk_ln(KERN_WARNING, " " + sym)
        k.printk_ln(KERN_WARNING, " </TASK>")
        self.add_taint(TAINT_SOFTLOCKUP)

    def stuck_watchdog(self) -> _StuckWatchdog:
        return _StuckWatchdog(self, self.stuck_wall_seconds)

    # -- hung tasks -------------------------------------------------------------

    def start_khungtaskd(self) -> Task:
        k: Any = self
        return k.spawn_kthread("khungtaskd", lambda: khungtaskd(k))

    def check_hung_uninterruptible_tasks(self, timeout: int) -> None:
        """One scan of ``khungtaskd``: report tasks in plain ``D`` that have not
        been scheduled for *timeout* seconds."""
        k: Any = self
        if self.test_taint(TAINT_DIE):
            return
        for task in list(k.tasks.values()):
            state = task.state
            if state & TASK_UNINTERRUPTIBLE and not state & (TASK_WAKEKILL | TASK_NOLOAD):
                self.check_hung_task(task, timeout)

    def check_hung_task(self, t: Task, timeout: int) -> None:
        k: Any = self
        switch_count = t.nvcsw + t.nivcsw
        if not switch_count:
            return
        if switch_count != t.last_switch_count:
            t.last_switch_count = switch_count
            t.last_switch_time = k.jiffies
            return
        if k.jiffies - t.last_switch_time < timeout * k.hz:
            return
        if not self.hung_task_warnings:
            return
        if self.hung_task_warnings > 0:
            self.hung_task_warnings -= 1
        secs = (k.jiffies - t.last_switch_time) // k.hz
        k.printk_ln(KERN_ERR, f"INFO: task {t.comm}:{t.pid} blocked for more than {secs} seconds.")
        k.printk_ln(KERN_ERR, f"      {self.utsname_line()}")
        k.printk_ln(KERN_ERR, '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.')
        self.sched_show_task(t)
        if not self.hung_task_warnings:
            k.printk_ln(KERN_INFO, "Future hung task reports are suppressed, see sysctl kernel.hung_task_warnings")
        self._notify_fault(t, "hung task")
        for listener in list(self.hung_task_listeners):
            listener(t)

    def sched_show_task(self, p: Task) -> None:
        """The ``task:`` line and call trace (``sched_show_task``)."""
        k: Any = self
        ppid = p.parent.pid if p.parent is not None else 0
        line = f"task:{p.comm[:15]:<15} state:{p.state_letter}"
        if p.state == 0:
            line += "  running task    "
        if k.kernel_version >= (6, 7):
            line += f" stack:{0:<5} pid:{p.pid:<5} tgid:{p.tgid:<5} ppid:{ppid:<6} flags:0x{p.tif:08x}"
        else:
            line += f" stack:{0:<5} pid:{p.pid:<5} ppid:{ppid:<6} flags:0x{p.tif:08x}"
        k.printk_ln(KERN_INFO, line)
        self.print_call_trace(self.task_trace(p), KERN_INFO)


#: How the watchdog stops Python module code on the main thread: a signal whose
#: default action is to be ignored, so one that arrives late harms nothing.
_INTERRUPT_SIGNAL: Final = signal.SIGURG


class _StuckWatchdog:
    """A thread that stops module code which never returns to the kernel.

    While the kernel runs, it samples ``Kernel.now``: every kernel call moves
    it, so if a task is on the CPU and ``now`` has not moved for
    ``stuck_wall_seconds`` of wall time, the task is inside module code that
    does not call the kernel -- an infinite loop, as far as a simulator can
    tell.  It then raises :class:`StuckInModuleCode` in the kernel's thread.
    """

    def __init__(self, kernel: Any, seconds: float) -> None:
        self.kernel = kernel
        self.seconds = seconds
        self.thread_id = threading.get_ident()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Set by the watchdog thread for the signal handler, which raises.
        self._stop_pending = False
        self._previous_handler: Any = None

    def __enter__(self) -> _StuckWatchdog:
        if self.seconds and self.seconds > 0:
            if (threading.current_thread() is threading.main_thread()
                    and signal.getsignal(_INTERRUPT_SIGNAL) in (signal.SIG_DFL, None)):
                # On the main thread a signal reaches module code even inside a
                # blocking call (time.sleep(30), a read), which an asynchronous
                # exception would only reach once the call returned.
                self._previous_handler = signal.signal(_INTERRUPT_SIGNAL, self._interrupt)
            self._thread = threading.Thread(target=self._watch, name="kernsim-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._previous_handler is not None:
            signal.signal(_INTERRUPT_SIGNAL, self._previous_handler)
            self._previous_handler = None

    def _interrupt(self, signum: int, frame: object) -> None:
        if self._stop_pending:
            self._stop_pending = False
            raise StuckInModuleCode

    def _watch(self) -> None:
        k = self.kernel
        period = min(0.25, self.seconds / 4)
        last_now = None
        last_task = None
        since = time.monotonic()
        while not self._stop.wait(period):
            task = k.current
            now = k.now
            if task is None or not task.on_rq or now != last_now or task is not last_task:
                last_now, last_task, since = now, task, time.monotonic()
                continue
            if time.monotonic() - since >= self.seconds:
                # The task runs on the kernel's thread, or on its own (ThreadContext).
                thread = getattr(task.context, "thread", None)
                stop = getattr(task.context, "stop_signal", None)
                if thread is not None and thread.ident is not None and stop:
                    # C module code: a Python exception cannot reach it; the C
                    # runtime's handler leaves it through its guard instead.
                    signal.pthread_kill(thread.ident, stop)
                elif thread is None and self._previous_handler is not None:
                    self._stop_pending = True
                    signal.pthread_kill(self.thread_id, _INTERRUPT_SIGNAL)
                else:
                    tid = thread.ident if thread is not None else self.thread_id
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(tid), ctypes.py_object(StuckInModuleCode))
                since = time.monotonic() + self.seconds  # one shot per stall


def khungtaskd(k: Any) -> int:
    """``watchdog()`` of kernel/hung_task.c: scan every check interval."""
    from ._time import _schedule_timeout as sleep_for

    task = k.current
    hung_last_checked = k.jiffies
    while True:
        timeout = k.hung_task_timeout_secs
        interval = k.hung_task_check_interval_secs or timeout
        interval = min(interval, timeout)
        t = hung_last_checked - k.jiffies + interval * k.hz if interval else MAX_SCHEDULE_TIMEOUT
        if t <= 0:
            k.check_hung_uninterruptible_tasks(timeout)
            hung_last_checked = k.jiffies
            continue
        task.state = TASK_INTERRUPTIBLE
        sleep_for(t)


ksym(khungtaskd, "watchdog")


def _is_none_use(exc: BaseException) -> bool:
    """Did module code use ``None`` as an object (the Python face of a NULL pointer)?"""
    text = str(exc)
    return isinstance(exc, (AttributeError, TypeError)) and "'NoneType'" in text


def _none_use_access(exc: BaseException) -> tuple[bool, bool]:
    """(instruction fetch, write) of a use of ``None``: calling it is a jump to
    address 0, assigning through it a store; anything else a load."""
    text = str(exc)
    if isinstance(exc, TypeError):
        if "not callable" in text:
            return True, False
        return False, "does not support item" in text  # assignment / deletion
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False, False
    import dis

    for ins in dis.get_instructions(tb.tb_frame.f_code):
        if ins.offset == tb.tb_lasti:
            return False, ins.opname in ("STORE_ATTR", "DELETE_ATTR")
    return False, False


def _exception_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _source_line(tb: TracebackType | None, is_module: Callable[[CodeType], bool]) -> str:
    """The source text of the innermost module frame of a traceback."""
    last = None
    while tb is not None:
        if is_module(tb.tb_frame.f_code):
            last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    import linecache

    return linecache.getline(last.tb_frame.f_code.co_filename, last.tb_lineno).strip()
