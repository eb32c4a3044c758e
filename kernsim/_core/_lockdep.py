"""Lock debugging: what lockdep and the scheduler say about misused locks
(``kernel/locking/lockdep.c``, ``kernel/sched/core.c:__schedule_bug``).

What the kernel does
--------------------
With ``CONFIG_PROVE_LOCKING`` every lock acquisition and release goes through
lockdep, which keeps each task's ``held_locks`` and reports, in its own
words, a task taking a lock it already holds (``possible recursive locking
detected``), releasing one it does not hold (``bad unlock balance
detected!``) or exiting with locks held (``still has locks held!``).  The
first report turns lock debugging off for the rest of the boot
(``debug_locks_off()``), as do a proprietary module's taint and an oops.
Independently of lockdep, ``schedule()`` called with preemption disabled --
a task sleeping while it holds a spinlock -- prints ``BUG: scheduling while
atomic``, the task's held locks, and a stack dump, and taints the kernel
``W``; the task then sleeps all the same.

What kernsim does
-----------------
The same reports, with the kernel's first lines and format strings, the
task's name and pid and the module's frames, and the same one-report-per-boot
rule.  Every task keeps ``held_locks`` (:class:`HeldLock`: the lock, where it
was taken, with interrupts or bottom halves off) and a ``preempt_count``
counting its spinlocks, whether or not a report is due: a later checker can
read who holds what (``Task.held_locks``, ``lock.owner``) and who waits for
what (``lock.waiters`` / ``lock.spinners``, ``Task.blocked_on``).

Divergence: a lock class is a lock instance (the kernel's is the static key
of its initialiser, shared by every lock a ``mutex_init()`` call site
initialises); lock addresses are kernsim's (per kernel, in order of first
use), so that runs are reproducible; ``preempt_count`` is the task's, not the
CPU's, and the lock-dependency graph (``possible circular locking
dependency``) is not built -- an ABBA deadlock is found by the hung-task
detector, as on a kernel without lockdep.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any, Final

from ._export import FRAME_EXPANDERS
from ._printk import KERN_DEFAULT, KERN_ERR, KERN_INFO, KERN_WARNING
from ._task import Task

#: ``enum lockdep_wait_type`` without CONFIG_PROVE_RAW_LOCK_NESTING:
#: ``{2:2}`` for a spinlock_t, ``{3:3}`` for a mutex in lockdep's lock lines.
LD_WAIT_SPIN: Final = 2
LD_WAIT_CONFIG: Final = LD_WAIT_SPIN
LD_WAIT_SLEEP: Final = 3

#: preempt_count() offsets (include/linux/preempt.h): a spinlock adds
#: PREEMPT_LOCK_OFFSET, a ``_bh`` one SOFTIRQ_LOCK_OFFSET.
PREEMPT_OFFSET: Final = 0x1
SOFTIRQ_DISABLE_OFFSET: Final = 0x200
PREEMPT_LOCK_OFFSET: Final = PREEMPT_OFFSET
SOFTIRQ_LOCK_OFFSET: Final = SOFTIRQ_DISABLE_OFFSET + PREEMPT_LOCK_OFFSET

#: How a lock was taken (what its HeldLock remembers).
MODE_PLAIN: Final = ""
MODE_BH: Final = "bh"
MODE_IRQ: Final = "irq"
MODE_IRQSAVE: Final = "irqsave"

# Lock class usage bits (the +/. of lockdep's {+.+.}): taken with hard
# interrupts enabled, taken with softirqs enabled.
_USED_HARDIRQS_ON: Final = 1
_USED_SOFTIRQS_ON: Final = 2

#: Where kernsim's lock addresses start (the direct map, as kmalloc'd memory).
_LOCK_ADDR_BASE: Final = 0xFFFF888003A00000

_TAINT_PROPRIETARY_MODULE: Final = 0
_TAINT_DIE: Final = 7
_TAINT_WARN: Final = 9


class HeldLock:
    """``struct held_lock``: one lock a task holds."""

    __slots__ = ("lock", "ip", "mode")

    def __init__(self, lock: Any, ip: Any, mode: str) -> None:
        self.lock = lock
        #: Where it was taken: a trace line, or (code, line) of a module frame.
        self.ip = ip
        self.mode = mode

    def __repr__(self) -> str:
        return f"<held_lock {getattr(self.lock, 'name', '') or self.lock!r} {self.mode or 'plain'}>"


class LockClass:
    """What lockdep knows of one lock: its address and how it has been used."""

    __slots__ = ("addr", "usage")

    def __init__(self, addr: int) -> None:
        self.addr = addr
        self.usage = 0


class LockdepState:
    """The per-kernel part: ``debug_locks`` and the lock classes."""

    def __init__(self) -> None:
        self.debug_locks = True
        self.classes: dict[Any, LockClass] = {}


def state(k: Any) -> LockdepState:
    """The kernel's lockdep state (made on first use)."""
    st = k.__dict__.get("_lockdep")
    if st is None:
        st = k.__dict__["_lockdep"] = LockdepState()
    return st  # type: ignore[no-any-return]


def debug_locks_off(k: Any) -> bool:
    """``debug_locks_off()``: True if lock debugging was on (the caller reports)."""
    st = state(k)
    if not st.debug_locks:
        return False
    st.debug_locks = False
    # A proprietary module's taint and an oops turned it off already
    # (add_taint(..., LOCKDEP_NOW_UNRELIABLE)).
    return not k.taints & ((1 << _TAINT_PROPRIETARY_MODULE) | (1 << _TAINT_DIE))


def debug_locks_on(k: Any) -> bool:
    return state(k).debug_locks and not k.taints & ((1 << _TAINT_PROPRIETARY_MODULE) | (1 << _TAINT_DIE))


def lock_class(k: Any, lock: Any) -> LockClass:
    classes = state(k).classes
    c = classes.get(lock)
    if c is None:
        c = classes[lock] = LockClass(_LOCK_ADDR_BASE + 0x40 * len(classes))
    return c


# -- where a lock was taken ---------------------------------------------------------

def acquire_ip(k: Any, depth: int = 1) -> Any:
    """``_RET_IP_`` of a lock call: the innermost module frame above the
    caller's frame *depth* levels up -- a Python frame as (code, line), to be
    named only if a report needs it, or a C caller's trace line."""
    return frame_ip(k, sys._getframe(depth + 1))


def frame_ip(k: Any, frame: FrameType | None) -> Any:
    """As acquire_ip, from *frame* up."""
    module_of_code = k.module_of_code
    while frame is not None:
        code = frame.f_code
        expand = FRAME_EXPANDERS.get(code)
        if expand is not None:
            lines = expand(frame)
            if lines:
                return lines[0]
        elif module_of_code(code) is not None:
            return (code, frame.f_lineno)
        frame = frame.f_back
    return "0x0"


def ip_symbol(k: Any, ip: Any) -> str:
    """How ``%pS`` prints an acquire ip."""
    if isinstance(ip, tuple):
        code, line = ip
        return k.frame_symbol(code, line) or "0x0"
    return str(ip)


def ip_address(k: Any, ip: Any) -> int:
    """The address ``%px`` prints for an ip (kernsim's: module base + offset)."""
    sym = ip_symbol(k, ip)
    off = 0
    if "+0x" in sym:
        try:
            off = int(sym.split("+", 1)[1].split("/", 1)[0], 16)
        except ValueError:
            off = 0
    mod = None
    if sym.endswith("]") and " [" in sym:
        mod = k.modules.get(sym.rsplit(" [", 1)[1][:-1])
    base = mod.kaddr if mod is not None else 0xFFFFFFFF81000000
    return base + off


# -- naming and printing locks ----------------------------------------------------

def lock_name(k: Any, lock: Any) -> str:
    """The lock's class name: what its initialiser named it (DEFINE_MUTEX(m):
    ``m``; mutex_init(&d->m): ``&d->m``), else the module variable or C
    symbol holding it."""
    name = getattr(lock, "name", "")
    if name:
        return str(name)
    symbol = getattr(lock, "symbol_name", None)
    if symbol is not None:
        found = symbol()
        if found:
            return str(found)
    for mod in k.modules_newest_first():
        for var, value in mod.namespace.items():
            if value is lock:
                return str(var)
    return "&lock"


def _usage_chars(usage: int) -> str:
    hard = "+" if usage & _USED_HARDIRQS_ON else "."
    soft = "+" if usage & _USED_SOFTIRQS_ON else "."
    return f"{hard}.{soft}."


def lock_line(k: Any, lock: Any, ip: Any) -> str:
    """``print_lock()``: ``%px (name){usage}-{outer:inner}, at: %pS``."""
    cls = lock_class(k, lock)
    wt = getattr(lock, "lockdep_wait_type", LD_WAIT_SLEEP)
    return (f"{cls.addr:016x} ({lock_name(k, lock)}){{{_usage_chars(cls.usage)}}}-{{{wt}:{wt}}}, "
            f"at: {ip_symbol(k, ip)}")


def kernel_ident(k: Any) -> str:
    """``print_kernel_ident()``: release, version up to a blank, taint."""
    return f"{k.release} {k.uts_version.split(' ')[0]} {k.print_tainted()}"


def print_held_locks(k: Any, task: Task) -> None:
    """``lockdep_print_held_locks()``."""
    held = task.held_locks or []
    depth = len(held)
    if not depth:
        k.printk_ln(KERN_DEFAULT, f"no locks held by {task.comm}/{task.pid}.")
        return
    k.printk_ln(KERN_DEFAULT, f"{depth} lock{'s' if depth > 1 else ''} held by {task.comm}/{task.pid}:")
    if task is not k.current and task.state == 0:
        return  # not reliable for a running task that is not current
    for i, h in enumerate(held):
        k.printk_ln(KERN_DEFAULT, f" #{i}: {lock_line(k, h.lock, h.ip)}")


def _stack_backtrace(k: Any, task: Task, frame: FrameType | None) -> None:
    """The end of every lockdep report; the session counts it as a fault."""
    k.vprintk(KERN_WARNING + "\nstack backtrace:\n")
    k.dump_stack(frame)
    k._notify_fault(task, "lockdep")


# -- held_locks bookkeeping (lock_acquire / lock_release) -----------------------------

def irqs_disabled(task: Task) -> bool:
    """Hard interrupts are off while the task holds a lock taken with ``_irq``/``_irqsave``."""
    return any(h.mode in (MODE_IRQ, MODE_IRQSAVE) for h in task.held_locks or ())


def softirqs_disabled(task: Task) -> bool:
    return any(h.mode == MODE_BH for h in task.held_locks or ())


def check_acquire(k: Any, task: Task, lock: Any, ip: Any, mode: str, *, trylock: bool = False,
                  frame: FrameType | None = None) -> None:
    """The checks of ``__lock_acquire()`` before the lock is taken: mark how it
    is used; a task taking a lock it holds is reported (not for a trylock)."""
    cls = lock_class(k, lock)
    held_locks = task.held_locks
    if mode != MODE_IRQ and mode != MODE_IRQSAVE:
        if not held_locks:
            cls.usage |= _USED_HARDIRQS_ON if mode == MODE_BH else _USED_HARDIRQS_ON | _USED_SOFTIRQS_ON
        elif not irqs_disabled(task):
            cls.usage |= _USED_HARDIRQS_ON
            if mode != MODE_BH and not softirqs_disabled(task):
                cls.usage |= _USED_SOFTIRQS_ON
    if trylock or not held_locks:
        return
    for held in held_locks:
        if held.lock is lock:
            print_deadlock_bug(k, task, held, lock, ip, frame)
            return


def note_acquired(task: Task, lock: Any, ip: Any, mode: str) -> None:
    """The lock is the task's now: add it to ``held_locks``."""
    if task.held_locks is None:
        task.held_locks = []
    task.held_locks.append(HeldLock(lock, ip, mode))


def lock_release(k: Any, task: Task, lock: Any, frame: FrameType) -> HeldLock | None:
    """``lock_release()``: drop the lock from the task's ``held_locks``; a lock
    it does not hold is a bad unlock balance, reported with the caller of the
    unlock function running in *frame*.  Returns what it held, or None."""
    held = task.held_locks
    if held:
        for i in range(len(held) - 1, -1, -1):
            if held[i].lock is lock:
                return held.pop(i)
    print_unlock_imbalance_bug(k, task, lock, frame_ip(k, frame), frame)
    return None


# -- the reports -------------------------------------------------------------------

def print_deadlock_bug(k: Any, task: Task, prev: HeldLock, lock: Any, ip: Any,
                       frame: FrameType | None) -> None:
    """``possible recursive locking detected``: *task* takes *lock* again."""
    if not debug_locks_off(k):
        return
    k.flush_log()
    name = lock_name(k, lock)
    k.printk_ln(KERN_WARNING, "")
    k.printk_ln(KERN_WARNING, "============================================")
    k.printk_ln(KERN_WARNING, "WARNING: possible recursive locking detected")
    k.printk_ln(KERN_WARNING, kernel_ident(k))
    k.printk_ln(KERN_WARNING, "--------------------------------------------")
    k.printk_ln(KERN_WARNING, f"{task.comm}/{task.pid} is trying to acquire lock:")
    k.printk_ln(KERN_DEFAULT, lock_line(k, lock, ip))
    k.vprintk(KERN_WARNING + "\nbut task is already holding lock:\n")
    k.printk_ln(KERN_DEFAULT, lock_line(k, prev.lock, prev.ip))
    k.vprintk(KERN_WARNING + "\nother info that might help us debug this:\n")
    k.vprintk(KERN_DEFAULT + " Possible unsafe locking scenario:\n\n")
    k.printk_ln(KERN_DEFAULT, "       CPU0")
    k.printk_ln(KERN_DEFAULT, "       ----")
    k.printk_ln(KERN_DEFAULT, f"  lock({name});")
    k.printk_ln(KERN_DEFAULT, f"  lock({name});")
    k.vprintk(KERN_DEFAULT + "\n *** DEADLOCK ***\n\n")
    k.vprintk(KERN_DEFAULT + " May be due to missing lock nesting notation\n\n")
    print_held_locks(k, task)
    _stack_backtrace(k, task, frame)


def print_unlock_imbalance_bug(k: Any, task: Task, lock: Any, ip: Any,
                               frame: FrameType | None) -> None:
    """``bad unlock balance detected!``: *task* releases a lock it does not hold."""
    if not debug_locks_off(k):
        return
    k.flush_log()
    k.printk_ln(KERN_WARNING, "")
    k.printk_ln(KERN_WARNING, "=====================================")
    k.printk_ln(KERN_WARNING, "WARNING: bad unlock balance detected!")
    k.printk_ln(KERN_WARNING, kernel_ident(k))
    k.printk_ln(KERN_WARNING, "-------------------------------------")
    k.printk_ln(KERN_WARNING, f"{task.comm}/{task.pid} is trying to release lock ({lock_name(k, lock)}) at:")
    k.printk_ln(KERN_WARNING, f"[<{ip_address(k, ip):016x}>] {ip_symbol(k, ip)}")
    k.printk_ln(KERN_WARNING, "but there are no more locks to release!")
    k.vprintk(KERN_WARNING + "\nother info that might help us debug this:\n")
    print_held_locks(k, task)
    _stack_backtrace(k, task, frame)


def exit_lock_checks(k: Any, task: Task, frame: FrameType | None) -> None:
    """What a task that ends holding locks meets on its way out: after an
    oops, ``make_task_dead()``'s notes (and the count is reset); then
    ``do_exit()``'s lockdep check; then, for a task still counting a
    spinlock, the last ``schedule()``'s ``scheduling while atomic``."""
    if task.oopsed:
        if irqs_disabled(task):
            k.printk_ln(KERN_INFO, f"note: {task.comm}[{task.pid}] exited with irqs disabled")
        if task.preempt_count:
            k.printk_ln(KERN_INFO, f"note: {task.comm}[{task.pid}] exited with preempt_count "
                                   f"{task.preempt_count}")
            task.preempt_count = 0
    debug_check_no_locks_held(k, task, frame)
    if task.preempt_count:
        schedule_bug(k, task, frame)


def debug_check_no_locks_held(k: Any, task: Task, frame: FrameType | None = None) -> None:
    """``do_exit()``'s check: a task that ends holding locks is reported
    (``print_held_locks_bug``).  The locks stay held by the dead task."""
    if not task.held_locks or not debug_locks_off(k):
        return
    k.flush_log()
    k.printk_ln(KERN_WARNING, "")
    k.printk_ln(KERN_WARNING, "====================================")
    k.printk_ln(KERN_WARNING, f"WARNING: {task.comm}/{task.pid} still has locks held!")
    k.printk_ln(KERN_WARNING, kernel_ident(k))
    k.printk_ln(KERN_WARNING, "------------------------------------")
    print_held_locks(k, task)
    _stack_backtrace(k, task, frame)


def schedule_bug(k: Any, prev: Task, frame: FrameType | None) -> None:
    """``__schedule_bug()``: *prev* calls ``schedule()`` with preemption
    disabled -- it holds a spinlock.  Then, as ``schedule_debug()`` does,
    its count is reset: the sleep goes on, and the next report needs a new
    spinlock (the kernel's count would underflow at the unlock instead)."""
    k.flush_log()
    count = prev.preempt_count + PREEMPT_OFFSET  # __schedule() disabled preemption itself
    k.printk_ln(KERN_ERR, f"BUG: scheduling while atomic: {prev.comm}/{prev.pid}/0x{count:08x}")
    if debug_locks_on(k):
        print_held_locks(k, prev)  # debug_show_held_locks()
    else:
        k.printk_ln(KERN_DEFAULT, "INFO: lockdep is turned off.")
    k.printk_ln(KERN_WARNING, k.modules_linked_in())
    # dump_stack(), with the C accelerator's frames if it called schedule()
    k.printk_ln(KERN_DEFAULT, k.cpu_line(prev))
    k.printk_ln(KERN_DEFAULT, k.hardware_line())
    k.print_call_trace(k.trace_from_frame(frame, prev.sleep_site) + k.trace_base(prev))
    k.add_taint(_TAINT_WARN)  # LOCKDEP_STILL_OK
    prev.preempt_count = 0
    k._notify_fault(prev, "scheduling while atomic")
