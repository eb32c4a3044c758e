"""The kernel whose tasks are running right now.

Kernel API functions (``wake_up``, ``msleep``...) take no kernel argument, as
in C, so they find the running kernel here.  Only one kernel runs at a time in
a process: :meth:`Kernel.run` installs itself for the duration of the run.

Outside a run ``cur.k`` is a placeholder whose every attribute raises
:class:`KernelNotRunning`, so a kernel API call made from plain Python (a
test, a REPL) fails with one clear message instead of an ``AttributeError``
on ``None`` -- and the hot path pays nothing for the check.
"""

from __future__ import annotations

from typing import Any


class KernelNotRunning(RuntimeError):
    """A kernel API function was called while no simulated kernel is running."""


class _NoKernel:
    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise KernelNotRunning(
            "kernsim: a kernel API function was called outside a running kernel "
            "(call it from module code: module_init/module_exit or a kthread)"
        )

    def __bool__(self) -> bool:
        return False


NO_KERNEL: Any = _NoKernel()


class _Current:
    """Holder of the running kernel (a slot, so reading it is one attribute load)."""

    __slots__ = ("k",)

    def __init__(self) -> None:
        self.k: Any = NO_KERNEL


cur = _Current()
