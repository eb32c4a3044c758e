"""Exceptions that stand for the kernel's own crash reports.

Core code raises these where a real kernel would hit ``BUG()`` or fault on a
corrupted structure because a module misused an API.  They unwind the
offending task like any exception in module code and become an oops report
in the log (see ``_diag``); the simulated kernel keeps running.
"""

from __future__ import annotations


class KernelBug(Exception):
    """A ``BUG()`` / list-corruption style failure detected by the core.

    message: the kernel-style first line, e.g.
        ``list_add corruption. next is LIST_POISON1 (dead000000000100).``
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NullPointerDereference(KernelBug):
    """The module used NULL (None) where a kernel object was expected."""

    def __init__(self, what: str = "") -> None:
        super().__init__("BUG: kernel NULL pointer dereference, address: 0000000000000000")
        self.what = what
