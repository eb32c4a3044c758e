"""The host process is the kernel's: module code may not end it or rewire it.

A Python module runs in the process that simulates the kernel, so a few
Python calls would do what no kernel module can: ``os._exit()`` would end the
whole kernel (a real module cannot link against ``exit()``: insmod refuses it
with *Unknown symbol*), ``os.fork()`` would copy it, ``os.kill()`` and
``signal.alarm()`` would signal it, and ``signal.signal()`` or
``signal.pthread_sigmask()`` would take its own signals (the SIGTERM and
SIGINT that halt a live kernel) away from it.

These calls raise :class:`ProcessCall` instead when module code makes them:
while a task of a running kernel is on the CPU in the kernel's thread, or in
a Python thread that module code started (and the threads those start).  The
kernel reports the first as that module's fault (an oops, or a failed load for
a module body), as it does any other exception; a module's thread that dies
of one is reported in one line on stderr.  Everywhere else the calls are
Python's own.

This guards against mistakes, not malice: Python code can always find another
way to harm the process it runs in (closing its file descriptors, say).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, Callable, Final

from ._current import cur

#: (module, function, what it would do to the kernel's process).
GUARDED: Final = (
    (os, "_exit", "end the whole kernel"),
    (os, "abort", "crash the whole kernel"),
    (os, "fork", "copy the whole kernel"),
    (os, "forkpty", "copy the whole kernel"),
    (os, "kill", "send a signal from inside the kernel"),
    (os, "killpg", "send a signal from inside the kernel"),
    (signal, "signal", "take the kernel process's signals from it"),
    (signal, "pthread_sigmask", "take the kernel process's signals from it"),
    (signal, "alarm", "signal the kernel's process"),
    (signal, "setitimer", "signal the kernel's process"),
    (signal, "raise_signal", "signal the kernel's process"),
    (signal, "pthread_kill", "signal a thread of the kernel's process"),
)

#: Set on a threading.Thread that module code started.
_MODULE_THREAD: Final = "_kernsim_module_thread"


class ProcessCall(RuntimeError):
    """Module code called something that acts on the kernel's whole process."""


def in_module_code() -> bool:
    """Is the caller module code: a task on the CPU of the running kernel, in
    the kernel's own thread, or a Python thread that module code started?"""
    if getattr(threading.current_thread(), _MODULE_THREAD, False):
        return True
    k = cur.k
    return bool(k) and k.current is not None and threading.get_ident() == k.run_thread


def _guard(name: str, what: str, real: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if in_module_code():
            raise ProcessCall(f"{name}() called from module code: it would {what} "
                              f"(module code runs inside the simulated kernel's process)")
        return real(*args, **kwargs)

    guarded.__name__ = real.__name__
    guarded.__doc__ = real.__doc__
    return guarded


def _mark_module_threads(real_start: Callable[[threading.Thread], None]) -> Callable[[threading.Thread], None]:
    """``Thread.start`` that marks a thread started by module code, and has it
    end in one line on stderr rather than a traceback if it raises."""

    def start(self: threading.Thread) -> None:
        if in_module_code():
            setattr(self, _MODULE_THREAD, True)
            run = self.run

            def run_reported() -> None:
                try:
                    run()
                except BaseException as exc:  # noqa: BLE001 - the thread's end, reported
                    print(f"kernsim: a Python thread started by module code ({self.name}) died: "
                          f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

            self.run = run_reported  # type: ignore[method-assign]
        real_start(self)

    return start


_installed = False


def install() -> None:
    """Wrap the calls once per process (idempotent; a cheap test when not in module code)."""
    global _installed
    if _installed:
        return
    _installed = True
    for module, name, what in GUARDED:
        real = getattr(module, name, None)
        if real is not None:
            setattr(module, name, _guard(f"{module.__name__}.{name}", what, real))
    threading.Thread.start = _mark_module_threads(threading.Thread.start)  # type: ignore[method-assign, assignment]
