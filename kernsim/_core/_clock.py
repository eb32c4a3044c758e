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

import threading
import time
from typing import Callable, Protocol


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

    def spin_until(self, when_ns: int) -> int:
        """Busy-wait until *when_ns* (``udelay``); return the time it is then."""


class VirtualClock:
    """Time jumps to the next event when nothing can run."""

    virtual = True

    def start(self) -> None:
        pass

    def read(self, accounted_ns: int) -> int:
        return accounted_ns

    def wait_until(self, when_ns: int) -> int:
        return when_ns

    spin_until = wait_until


class RealClock:
    """Time is the wall clock's: an idle kernel sleeps until its next timer.

    The outside world can :meth:`interrupt` it (a live kernel's socket has a
    request): an idle wait returns at once, and the kernel's thread calls
    ``on_interrupt`` at its next reading of the clock -- every scheduling
    point, on a wall clock -- so a busy kernel hears it too.
    """

    virtual = False

    def __init__(self) -> None:
        self._origin = time.monotonic_ns()
        self._last = 0
        self._wake = threading.Event()
        self._interrupted = False
        #: Called in the kernel's thread after :meth:`interrupt` (e.g. ``request_stop``).
        self.on_interrupt: Callable[[], None] | None = None

    def interrupt(self) -> None:
        """Thread-safe: end an idle wait now and have ``on_interrupt`` called."""
        self._interrupted = True
        self._wake.set()

    def _take_interrupt(self) -> None:
        self._interrupted = False
        self._wake.clear()
        if self.on_interrupt is not None:
            self.on_interrupt()

    def start(self) -> None:
        self._origin = time.monotonic_ns()
        self._last = 0

    def read(self, accounted_ns: int) -> int:
        if self._interrupted:
            self._take_interrupt()
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
        """Sleep until *when_ns*, or less if interrupted: the time it is then."""
        delay = when_ns - (time.monotonic_ns() - self._origin)
        if delay > 0 and not self._interrupted:
            self._wake.wait(delay / 1e9)
        if self._interrupted:
            return self.read(0)
        return max(self.read(0), when_ns)

    def spin_until(self, when_ns: int) -> int:
        """Busy-wait (``udelay``) until *when_ns*: no interrupt ends it early."""
        delay = when_ns - (time.monotonic_ns() - self._origin)
        if delay > 0:
            time.sleep(delay / 1e9)
        return max(self.read(0), when_ns)
