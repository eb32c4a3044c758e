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


class PageFault(KernelBug):
    """Module code touched memory that is not mapped: a page fault in kernel mode.

    address: the faulting address (0 for a NULL dereference).
    fetch: True for an instruction fetch (running code of an unloaded module,
        calling a NULL function pointer).
    write: True for a store (``p->field = x`` through NULL).
    what: a note for the report (which object it was).
    """

    def __init__(self, address: int, what: str = "", *, fetch: bool = False,
                 write: bool = False) -> None:
        address &= (1 << 64) - 1
        if address < 4096:
            first = f"BUG: kernel NULL pointer dereference, address: {address:016x}"
        else:
            first = f"BUG: unable to handle page fault for address: {address:016x}"
        super().__init__(first)
        self.address = address
        self.fetch = fetch
        self.write = write and not fetch
        self.what = what

    @property
    def error_code(self) -> int:
        """x86 page-fault error code: bit 1 = write, bit 4 = instruction fetch."""
        return 0x10 if self.fetch else 0x2 if self.write else 0

    @property
    def access(self) -> str:
        """How ``#PF:`` describes it (``show_fault_oops``)."""
        return "instruction fetch" if self.fetch else "write access" if self.write else "read access"


class NullPointerDereference(PageFault):
    """The module used NULL (None) where a kernel object was expected."""

    def __init__(self, what: str = "", *, fetch: bool = False, write: bool = False) -> None:
        super().__init__(0, what, fetch=fetch, write=write)


class BugTrap(KernelBug):
    """``BUG()``: the module's own assertion failed at *site* (``file:line``)."""

    def __init__(self, site: str) -> None:
        super().__init__("")
        self.site = site


class Trap(KernelBug):
    """A CPU exception in kernel code other than a page fault: ``die()``'s
    report names it (``divide error``, ``invalid opcode``) and nothing else."""

    def __init__(self, trap: str, what: str = "") -> None:
        super().__init__("")
        self.trap = trap
        self.what = what
