"""The host process is the kernel's: module code may not end it or rewire it.

A Python module runs in the process that simulates the kernel, so a few
Python calls would do what no kernel module can: ``os._exit()`` would end the
whole kernel (a real module cannot link against ``exit()``: insmod refuses it
with *Unknown symbol*), ``os.abort()`` would crash it, and ``signal.signal()``
would take the kernel process's own signals (the SIGTERM and SIGINT that halt
a live kernel) away from it.

While a task of a running kernel is on the CPU -- that is, while module code
runs -- these calls raise :class:`ProcessCall` instead, which the kernel
reports as that module's fault (an oops, or a failed load for a module body),
as it does any other exception.  Everywhere else they are Python's own.
"""

from __future__ import annotations

import os
import signal
from typing import Any, Callable, NoReturn

from ._current import cur


class ProcessCall(RuntimeError):
    """Module code called something that acts on the kernel's whole process."""


def in_module_code() -> bool:
    """Is a task of a running kernel on the CPU (so the caller is module code)?"""
    k = cur.k
    return bool(k) and k.current is not None


def _refused(name: str, what: str) -> ProcessCall:
    return ProcessCall(f"{name}() called from module code: it would {what} "
                       f"(module code runs inside the simulated kernel's process)")


_installed = False


def install() -> None:
    """Wrap the calls once per process (idempotent; a cheap test when not in module code)."""
    global _installed
    if _installed:
        return
    _installed = True
    real_exit: Callable[[int], NoReturn] = os._exit
    real_abort: Callable[[], NoReturn] = os.abort
    real_signal = signal.signal

    def _exit(status: int) -> NoReturn:
        if in_module_code():
            raise _refused("os._exit", "end the whole kernel")
        real_exit(status)

    def abort() -> NoReturn:
        if in_module_code():
            raise _refused("os.abort", "crash the whole kernel")
        real_abort()

    def signal_(signalnum: Any, handler: Any) -> Any:
        if in_module_code():
            raise _refused("signal.signal", "take the kernel process's signals from it")
        return real_signal(signalnum, handler)

    os._exit = _exit
    os.abort = abort
    signal.signal = signal_
