"""Clocks: where simulated time comes from.

The kernel keeps its own notion of "now" (``Kernel.now``, nanoseconds since
boot), advanced by the cost of every kernel call a task makes.  A clock decides
what happens around that:

* :class:`VirtualClock` -- time is only what the kernel accounts for; when no
  task can run, time jumps to the next timer.  Ten simulated seconds cost
  milliseconds, and every run is identical.  (SimPy's ``Environment``, trio's
  ``MockClock(autojump_threshold=0)``, UML's ``time-travel=inf-cpu``.)
* :class:`RealClock` -- the same kernel paced by the wall clock: "now" is the
  monotonic time since boot, and an idle kernel sleeps until its next timer.

The scheduler calls :meth:`read` at every slow scheduling point and
:meth:`wait_until` when idle; from ``virtual`` it learns how far it may run on
its fast path: up to the next event on a virtual clock, not one kernel call on
the wall clock, which moves on its own.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the scheduler needs from a clock."""

    #: True if time only moves when the kernel says so (reproducible runs).
    virtual: bool

    def start(self) -> None:
        """Called once at boot: time 0 is now."""

    def read(self, accounted_ns: int) -> int:
        """The current time, given the time the kernel has accounted for."""

    def wait_until(self, when_ns: int) -> int:
        """Idle until *when_ns*; return the time it is then."""


class VirtualClock:
    """Time jumps to the next event when nothing can run."""

    virtual = True

    def start(self) -> None:
        pass

    def read(self, accounted_ns: int) -> int:
        return accounted_ns

    def wait_until(self, when_ns: int) -> int:
        return when_ns


class RealClock:
    """Time is the wall clock's: an idle kernel sleeps until its next timer."""

    virtual = False

    def __init__(self) -> None:
        self._origin = time.monotonic_ns()
        self._last = 0

    def start(self) -> None:
        self._origin = time.monotonic_ns()
        self._last = 0

    def read(self, accounted_ns: int) -> int:
        now = time.monotonic_ns() - self._origin
        # Never run backwards, even though the kernel's own accounting may be
        # ahead of the wall clock by a few call costs.
        if now < accounted_ns:
            now = accounted_ns
        if now < self._last:
            now = self._last
        self._last = now
        return now

    def wait_until(self, when_ns: int) -> int:
        delay = when_ns - (time.monotonic_ns() - self._origin)
        if delay > 0:
            time.sleep(delay / 1e9)
        return max(self.read(0), when_ns)
