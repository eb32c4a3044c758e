"""Real memory for C modules' ``kmalloc``/``vmalloc``, and their bad accesses.

The simulated kernel's allocators (``kernsim/_core/_slab.py``) keep the books;
this module gives them memory.  Each kernel gets an *arena*: one reservation
of address space, inaccessible (``PROT_NONE``) until the allocator opens the
pages of a block, and closed again when the block is freed.  Blocks are laid
out one after the other, each followed by a page that stays closed, and
address space is never reused within a kernel -- so an access to a freed
block, or just past the end of one, faults.  ``runtime.c``'s fault handler
turns such a fault into a note (where, what, the module's frames), opens the
page and lets the access go on; the kernel reports the note as KASAN would
(:func:`report_memfault`).

The arena is reserved at a fixed address when it is free, so the addresses
a session prints are the same from run to run.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from .._core import _slab
from .._core._current import cur
from .._core._export import EXPORTS, KSYMS

#: Address space of one kernel's arena, and where it is asked for.
ARENA_SIZES: Final = (256 << 30, 16 << 30, 1 << 30)
ARENA_BASE: Final = 0x6888_0000_0000
PAGE: Final = 4096
#: Packed blocks are carved from open chunks of this size.
PACKED_CHUNK: Final = 1 << 20


class CArena:
    """One kernel's module memory."""

    def __init__(self, memory: CMemory) -> None:
        self.memory = memory
        lib = memory.lib
        self.lo = 0
        for size in ARENA_SIZES:
            for i in range(8):  # the fixed place, or the next ones (another kernel holds it)
                self.lo = int(lib.kernsim_arena_reserve(ARENA_BASE + i * (256 << 30), size))
                if self.lo:
                    break
            if not self.lo:
                self.lo = int(lib.kernsim_arena_reserve(0, size))
            if self.lo:
                self.size = size
                break
        else:
            raise MemoryError("kernsim: cannot reserve address space for module memory")
        self.next = self.lo + PAGE  # the first page stays closed too
        #: The open chunk blocks are packed into once guard pages run out.
        self.packed_next = self.packed_end = 0

    def take(self, length: int) -> int | None:
        """*length* bytes of fresh address space (page-aligned), or None."""
        if self.next + length > self.lo + self.size:
            return None
        addr = self.next
        self.next += length
        return addr

    def protect(self, addr: int, length: int, rw: bool) -> bool:
        """Open or close pages; False if the system refused (each open block
        is a mapping of its own, and a process may have only so many)."""
        return bool(self.memory.lib.kernsim_mem_protect(addr, length, 1 if rw else 0) == 0)

    def take_packed(self, size: int, align: int = 0) -> int | None:
        """*size* bytes in open memory shared with other blocks (no guard
        page, not closed when freed): where blocks go once ``protect`` fails.
        Aligned to *align*, or to the size's power of two (at most a page)."""
        align = align or min(1 << max(3, (size - 1).bit_length()), PAGE)
        addr = (self.packed_next + align - 1) & ~(align - 1)
        if not self.packed_next or addr + size > self.packed_end:
            length = max(PACKED_CHUNK, (size + PAGE - 1) & ~(PAGE - 1))
            chunk = self.take(length)
            if chunk is None or not self.protect(chunk, length, True):
                return None
            self.packed_next, self.packed_end = chunk, chunk + length
            addr = chunk
        self.packed_next = addr + size
        return addr

    def discard(self, addr: int, length: int) -> None:
        self.memory.lib.kernsim_mem_discard(addr, length)

    def read(self, addr: int, n: int) -> bytes:
        ffi = self.memory.ffi
        return bytes(ffi.buffer(ffi.cast("char *", addr), n))

    def write(self, addr: int, data: bytes) -> None:
        ffi = self.memory.ffi
        ffi.memmove(ffi.cast("char *", addr), data, len(data))

    def release(self) -> None:
        bridge = self.memory.bridge
        bridge.forget_range(self.lo, self.lo + self.size)
        self.memory.lib.kernsim_arena_release(self.lo, self.size)


class CMemory:
    """The C side of the allocators (installed as ``_slab.C_MEMORY``)."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge
        self.ffi = bridge.ffi
        self.lib = bridge.lib

    def new_arena(self) -> CArena:
        return CArena(self)

    def address(self, p: Any) -> int:
        """The address a C argument holds (a pointer, or an int)."""
        if isinstance(p, int):
            return p
        return int(self.ffi.cast("uintptr_t", p))

    def read(self, addr: int, n: int) -> bytes:
        """*n* bytes of any memory the module could read (kmemdup's source)."""
        return bytes(self.ffi.buffer(self.ffi.cast("char *", addr), n))


# -- bad accesses ------------------------------------------------------------------------

def report_memfault(bridge: Any, where: Any, frame: Any) -> None:
    """Report the accesses ``runtime.c`` noted, if any, as KASAN does.

    *where*: the kernel function the module was in the middle of calling
    (when kernel code made the access), or None.  *frame*: the Python frame
    of the guard that entered module code (the trace below the module's frames).
    """
    note = bridge.ffi.new("struct kernsim_memfault *")
    while bridge.lib.kernsim_take_memfault(note):
        if cur.k:
            _report(bridge, note, where, frame)


def _report(bridge: Any, note: Any, where: Any, frame: Any) -> None:
    ffi, lib = bridge.ffi, bridge.lib
    k = cur.k
    addr = int(note.addr)
    frames: list[str] = []
    ip_sym = bridge.symbol(int(note.ip))
    size = 0
    if ip_sym is not None:
        frames.append(ip_sym)
        ip = int(note.ip)
        # The instruction's page is mapped (it ran); the next one may not be.
        size = access_size(bytes(ffi.buffer(ffi.cast("char *", ip), min(15, PAGE - ip % PAGE))))
    elif note.sp_word:
        leaf_caller = bridge.backtrace_symbol(int(note.sp_word))
        if leaf_caller is not None:
            frames.append(leaf_caller)  # a library function (memcpy...) the module called
    for i in range(min(int(note.chain.n), len(note.chain.pc))):
        sym = bridge.backtrace_symbol(bridge.addr(note.chain.pc[i]))
        if sym is None:
            break
        if not frames or frames[-1].split("+")[0] != sym.split("+")[0]:
            frames.append(sym)
    if not frames and where != ffi.NULL and where is not None:
        # The kernel touched it while the module called it: name that call.
        name = ffi.string(where).decode()
        sym = EXPORTS.get(name)
        impl = getattr(sym.obj, "__wrapped__", sym.obj) if sym is not None else None
        code = getattr(impl, "__code__", None)
        frames.append(k.frame_symbol(code, None) if code in KSYMS else f"{name}+0x0/0x0")
        caller = lib.kernsim_last_caller()
        for i in range(min(int(caller.n), len(caller.pc))):
            sym_ = bridge.backtrace_symbol(bridge.addr(caller.pc[i]))
            if sym_ is None:
                break
            frames.append(sym_)
    task = k.current
    below = k.trace_from_frame(frame) if frame is not None else []
    frames += below + (k.trace_base(task) if task else [])
    k.kasan_report_access(k.slab_c_block_at(addr), addr, size, bool(note.write), frames)


def memory_fault_op(bridge: Any) -> Any:
    """The runtime's ``memory_fault`` callback."""

    def memory_fault(where: Any) -> None:
        # The frame below this callback is the guard's (module code called
        # the kernel) or the adapter's (the kernel touched the memory).
        frame = sys._getframe(1)
        report_memfault(bridge, where, _guard_frame(frame))

    return memory_fault


def _guard_frame(frame: Any) -> Any:
    """The Python frame below the C frames: where the task entered module code."""
    from .bridge import CFunction, CWakeFunction

    guards = (CFunction.__call__.__code__, CWakeFunction.__call__.__code__)
    f = frame
    while f is not None and f.f_code not in guards:
        f = f.f_back
    return f


# -- how wide an access was -----------------------------------------------------------

_PREFIXES: Final = frozenset({0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x2E, 0x3E, 0x26, 0x64, 0x65, 0x36})


def access_size(code: bytes) -> int:
    """The operand size of the x86-64 instruction at the start of *code*, for
    the usual loads and stores a compiler emits (``mov``, ``movzx``, ALU ops
    with a memory operand); 0 when it is not one of those (the report then
    says ``Read at addr`` without a size, as KASAN does for unknown sizes)."""
    i = 0
    opsize16 = rep = False
    while i < len(code) and code[i] in _PREFIXES:
        opsize16 |= code[i] == 0x66
        rep |= code[i] in (0xF2, 0xF3)
        i += 1
    rex_w = False
    if i < len(code) and 0x40 <= code[i] <= 0x4F:
        rex_w = bool(code[i] & 8)
        i += 1
    if i >= len(code):
        return 0
    v = 8 if rex_w else 2 if opsize16 else 4
    op = code[i]
    if op == 0x0F and i + 1 < len(code):
        op2 = code[i + 1]
        if op2 in (0xB6, 0xBE, 0xB0, 0xC0) or 0x90 <= op2 <= 0x9F:
            return 1
        if op2 in (0xB7, 0xBF):
            return 2
        if op2 in (0xB1, 0xC1) or 0x40 <= op2 <= 0x4F or op2 == 0xAF:
            return v
        return 0
    if op < 0x40 and op & 7 in (0, 2):
        return 1
    if op < 0x40 and op & 7 in (1, 3):
        return v
    if op in (0x88, 0x8A, 0xC6, 0x80, 0xF6, 0xFE, 0x84, 0x86, 0xC0, 0xD0, 0xD2, 0xA4, 0xAA, 0xAC):
        return 1
    if op in (0x89, 0x8B, 0xC7, 0x81, 0x83, 0xF7, 0xFF, 0x85, 0x87, 0xC1, 0xD1, 0xD3, 0xA5, 0xAB,
              0xAD):
        return v
    if op == 0x63:  # movsxd
        return 4
    return 0


def install(bridge: Any) -> None:
    """Give the allocators their C memory."""
    _slab.C_MEMORY = CMemory(bridge)
