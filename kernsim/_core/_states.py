"""Task state bits and how ``ps`` reports them (``include/linux/sched.h``,
``fs/proc/array.c``).

States are plain ints with the kernel's bit values rather than an ``IntFlag``:
they are tested on every wake-up, and enum arithmetic would cost more than the
rest of the wake-up path.  :func:`state_names` gives the readable form.
"""

from __future__ import annotations

from typing import Final

TASK_RUNNING: Final = 0x0000
TASK_INTERRUPTIBLE: Final = 0x0001
TASK_UNINTERRUPTIBLE: Final = 0x0002
__TASK_STOPPED: Final = 0x0004
__TASK_TRACED: Final = 0x0008
EXIT_DEAD: Final = 0x0010
EXIT_ZOMBIE: Final = 0x0020
TASK_PARKED: Final = 0x0040
TASK_DEAD: Final = 0x0080
TASK_WAKEKILL: Final = 0x0100
TASK_WAKING: Final = 0x0200
TASK_NOLOAD: Final = 0x0400
TASK_NEW: Final = 0x0800
TASK_RTLOCK_WAIT: Final = 0x1000
TASK_FREEZABLE: Final = 0x2000
TASK_FROZEN: Final = 0x8000

TASK_KILLABLE: Final = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE
TASK_STOPPED: Final = TASK_WAKEKILL | __TASK_STOPPED
TASK_TRACED: Final = __TASK_TRACED
TASK_IDLE: Final = TASK_UNINTERRUPTIBLE | TASK_NOLOAD
TASK_NORMAL: Final = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE

TASK_REPORT: Final = (
    TASK_RUNNING | TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE | __TASK_STOPPED
    | __TASK_TRACED | EXIT_DEAD | EXIT_ZOMBIE | TASK_PARKED
)

_LETTERS: Final = "RSDTtXZPI"
_STATUS_NAMES: Final = (
    "R (running)", "S (sleeping)", "D (disk sleep)", "T (stopped)",
    "t (tracing stop)", "X (dead)", "Z (zombie)", "P (parked)", "I (idle)",
)

_NAMES: Final = (
    (TASK_INTERRUPTIBLE, "TASK_INTERRUPTIBLE"),
    (TASK_UNINTERRUPTIBLE, "TASK_UNINTERRUPTIBLE"),
    (__TASK_STOPPED, "__TASK_STOPPED"),
    (__TASK_TRACED, "__TASK_TRACED"),
    (TASK_PARKED, "TASK_PARKED"),
    (TASK_DEAD, "TASK_DEAD"),
    (TASK_WAKEKILL, "TASK_WAKEKILL"),
    (TASK_WAKING, "TASK_WAKING"),
    (TASK_NOLOAD, "TASK_NOLOAD"),
    (TASK_NEW, "TASK_NEW"),
    (TASK_RTLOCK_WAIT, "TASK_RTLOCK_WAIT"),
    (TASK_FREEZABLE, "TASK_FREEZABLE"),
    (TASK_FROZEN, "TASK_FROZEN"),
)


def state_index(state: int, exit_state: int = 0) -> int:
    """``__task_state_index()``: index into ``RSDTtXZPI`` for a state word."""
    # include/linux/sched.h assigns ``state = TASK_REPORT_IDLE`` first and then
    # ``state = TASK_UNINTERRUPTIBLE`` for RTLOCK_WAIT / FROZEN, so the latter
    # wins: a frozen idle sleeper (TASK_IDLE | TASK_FROZEN) shows ``D``, not ``I``.
    if state & (TASK_RTLOCK_WAIT | TASK_FROZEN):
        return 2
    if (state & TASK_IDLE) == TASK_IDLE:
        return 8
    reported = (state | exit_state) & TASK_REPORT
    return reported.bit_length()


def state_letter(state: int, exit_state: int = 0) -> str:
    """The letter ``ps`` and ``/proc/PID/stat`` show (R, S, D, T, t, X, Z, P, I)."""
    return _LETTERS[state_index(state, exit_state)]


def status_name(state: int, exit_state: int = 0) -> str:
    """The ``State:`` value of ``/proc/PID/status``, e.g. ``D (disk sleep)``."""
    return _STATUS_NAMES[state_index(state, exit_state)]


def state_names(state: int) -> str:
    """A readable rendering of a state word, e.g. ``TASK_WAKEKILL|TASK_UNINTERRUPTIBLE``."""
    if state == TASK_RUNNING:
        return "TASK_RUNNING"
    if state == TASK_KILLABLE:
        return "TASK_KILLABLE"
    if state == TASK_IDLE:
        return "TASK_IDLE"
    parts = [name for bit, name in _NAMES if state & bit]
    rest = state & ~sum(bit for bit, _ in _NAMES)
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)
