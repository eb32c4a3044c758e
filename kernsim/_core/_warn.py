"""The kernel's self-checks: ``BUG()``, ``WARN()``, ``panic()`` (``include/asm-generic/bug.h``,
``kernel/panic.c``).

``BUG_ON(c)`` kills the running task with an oops (``kernel BUG at file:line!``);
``WARN_ON(c)`` prints the report and goes on, returning *c*, and taints the
kernel ``W`` after printing; ``panic()`` prints its message and stops the
kernel.  C modules reach the same code through ``kernsim_bug``/``kernsim_warn``
/``panic`` (``linux/bug.h``, ``linux/panic.h``), with their file and line.
"""

from __future__ import annotations

import sys
from typing import Any

from ._bug import BugTrap
from ._current import cur
from ._diag import TAINT_WARN
from ._export import export
from ._printk import KERN_EMERG, KERN_WARNING, format_printf
from ._states import TASK_UNINTERRUPTIBLE


def _caller_site(depth: int) -> str:
    """``file:line`` of the module code *depth* frames up, as the user named the file."""
    frame = sys._getframe(depth + 1)
    module = cur.k.module_of_code(frame.f_code)
    path = module.image.display_path if module is not None else frame.f_code.co_filename
    return f"{path}:{frame.f_lineno}"


CUT_HERE = "------------[ cut here ]------------"


def _warn_report(site: str, message: str | None, depth: int, *, cut: bool = True,
                 rip: str | None = None, trace: list[str] | None = None,
                 message_level: str = KERN_WARNING) -> None:
    """``__warn()``: the report, then TAINT_WARN.  For a warning of kernel
    code that has no Python frames of its own (the allocators' checks), *rip*
    is the function that warned and *trace* its callers; else both come from
    the frame *depth* up from the caller.  *message_level*: the level of
    WARN()'s message (its format may start with one, as ``KERN_ERR``)."""
    k = cur.k
    task = k.current
    k.flush_log()
    if cut:
        k.printk_ln(KERN_WARNING, CUT_HERE)
    if message:
        k.printk_ln(message_level, message)
    if trace is None:
        trace = k.trace_from_frame(sys._getframe(depth + 1)) + (k.trace_base(task) if task else [])
    where = rip or (trace[0] if trace else "0x0")
    cpu = task.cpu if task else 0
    pid = task.pid if task else 0
    k.printk_ln(KERN_WARNING, f"WARNING: CPU: {cpu} PID: {pid} at {site} {where}")
    k.printk_ln(KERN_WARNING, k.modules_linked_in())
    k.printk_ln(KERN_WARNING, k.cpu_line(task))
    k.printk_ln(KERN_WARNING, k.hardware_line())
    k.printk_ln(KERN_WARNING, f"RIP: 0010:{where}")
    k.print_call_trace(trace, KERN_WARNING)
    k.printk_ln(KERN_WARNING, "---[ end trace 0000000000000000 ]---")
    k.add_taint(TAINT_WARN)
    if task is not None:
        k._notify_fault(task, "warning")  # a clean run has none: the exit status is 1


@export("asm-generic/bug.h", kind="macro", points=False)
def BUG() -> None:
    """Oops here: the running task dies with ``kernel BUG at file:line!``."""
    raise BugTrap(_caller_site(1))


@export("asm-generic/bug.h", kind="macro", points=False)
def BUG_ON(condition: Any) -> None:
    """``if (condition) BUG();``"""
    if condition:
        raise BugTrap(_caller_site(1))


@export("asm-generic/bug.h", kind="macro", points=False)
def WARN_ON(condition: Any) -> bool:
    """Print a warning with a stack trace if *condition*; return it (as ``if (WARN_ON(x))``)."""
    cond = bool(condition)
    if cond:
        _warn_report(_caller_site(1), None, 1)
    return cond


@export("asm-generic/bug.h", kind="macro", points=False)
def WARN(condition: Any, fmt: str, *args: Any) -> bool:
    """WARN_ON with a message (printed first)."""
    cond = bool(condition)
    if cond:
        _warn_report(_caller_site(1), format_printf(fmt, args).rstrip("\n"), 1)
    return cond


def _first_time_here(depth: int) -> bool:
    """Has the module code *depth* frames up not warned "once" yet?  The site is
    its code object and line (a module loaded again runs new code objects: its
    .data.once starts afresh, as a reloaded C module's does)."""
    frame = sys._getframe(depth + 1)
    key = (frame.f_code, frame.f_lineno)
    seen = cur.k.warned_once
    if key in seen:
        return False
    seen.add(key)
    return True


@export("asm-generic/bug.h", kind="macro", points=False)
def WARN_ON_ONCE(condition: Any) -> bool:
    """As WARN_ON, but only the first time this line warns; returns *condition* every time."""
    cond = bool(condition)
    if cond and _first_time_here(1):
        _warn_report(_caller_site(1), None, 1)
    return cond


@export("asm-generic/bug.h", kind="macro", points=False)
def WARN_ONCE(condition: Any, fmt: str, *args: Any) -> bool:
    """As WARN, but only the first time this line warns."""
    cond = bool(condition)
    if cond and _first_time_here(1):
        _warn_report(_caller_site(1), format_printf(fmt, args).rstrip("\n"), 1)
    return cond


@export("linux/panic.h", points=False)  # variadic in C: runtime.c packs its arguments
def panic(fmt: str, *args: Any) -> None:
    """Print ``Kernel panic - not syncing: MSG`` and stop the kernel for good."""
    k = cur.k
    msg = format_printf(fmt, args).rstrip("\n")
    task = k.current
    k.flush_log()
    k.printk_ln(KERN_EMERG, f"Kernel panic - not syncing: {msg}")
    k.printk_ln(KERN_EMERG, k.cpu_line(task))
    k.printk_ln(KERN_EMERG, k.hardware_line())
    trace = k.trace_from_frame(sys._getframe(1))
    k.print_call_trace(trace + (k.trace_base(task) if task else []), KERN_EMERG)
    k.printk_ln(KERN_EMERG, f"---[ end Kernel panic - not syncing: {msg} ]---")
    k.panicked = msg
    k.request_stop()
    # A panicked CPU never schedules again: this task never returns.
    while True:
        task.state = TASK_UNINTERRUPTIBLE
        k.schedule_core()


# -- the C side: file and line come from the macro ---------------------------------

@export("linux/bug.h", kind="macro", points=False, c="void kernsim_bug(const char *file, int line)")
def kernsim_bug(file: str, line: int) -> None:
    """``BUG()`` from C."""
    raise BugTrap(f"{file}:{line}")


@export("linux/bug.h", kind="macro", points=False, c="void kernsim_warn_cut(void)")
def kernsim_warn_cut() -> None:
    """``WARN()`` from C: the cut line, before the module prints its message."""
    cur.k.printk_ln(KERN_WARNING, CUT_HERE)


@export("linux/bug.h", kind="macro", points=False, c="void kernsim_warn(const char *file, int line, int cut_printed)")
def kernsim_warn(file: str, line: int, cut_printed: int) -> None:
    """The report of a ``WARN_ON()``/``WARN()`` whose condition was true, from C."""
    _warn_report(f"{file}:{line}", None, 1, cut=not cut_printed)
