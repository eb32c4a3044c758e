"""Memory for modules: ``kmalloc``, ``vmalloc`` and the kernel's reports about
them (``mm/slab_common.c``, ``mm/slub.c``, ``mm/vmalloc.c``, ``mm/util.c``,
``mm/page_alloc.c``; the reports of ``mm/kasan/report.c`` and ``mm/kmemleak.c``).

What the kernel does
--------------------
``kmalloc(size, gfp)`` hands out an object of the smallest ``kmalloc-N``
cache that fits (8, 16, 32, 64, 96, 128, 192, 256 ... 8k); above
``KMALLOC_MAX_CACHE_SIZE`` (8 KiB) it takes pages from the page allocator,
which refuses orders above ``MAX_ORDER`` -- 4 MiB, ``KMALLOC_MAX_SIZE`` --
with a one-time ``WARNING`` (unless ``__GFP_NOWARN``) and NULL.  ``kmalloc(0)``
returns ``ZERO_SIZE_PTR`` (``(void *)16``), which ``kfree`` accepts as it
accepts NULL.  ``vmalloc`` maps pages, with a guard page after the area.
Debian's kernels boot with ``init_on_alloc=1``: new memory reads as zeroes.

A kernel built with KASAN checks every access against shadow memory and
reports a use after free, an out-of-bounds access or a double free once --
``BUG: KASAN: slab-use-after-free in FUNC`` with the access, the task, its
stack, who allocated and who freed the object -- then lets the code go on
(only the first report is printed unless ``kasan_multi_shot``).  kmemleak
scans memory for pointers now and then; an object nothing points to is
reported as ``unreferenced object 0x... (size N)`` with who allocated it,
and the scan ends with ``kmemleak: N new suspected memory leaks``.

What kernsim does
-----------------
Every block a module allocates is recorded here (:class:`Block`): its size
and cache, the task, jiffies and stack trace of the allocation, and once it
is freed, of the free.  Freed blocks are never handed out again, so a block
is a use after free for the rest of the session.

* C modules get real memory from an arena of their own (``kernsim.cmodule
  .memory``): each block on pages of its own, ending at an inaccessible guard
  page, and its pages made inaccessible when it is freed.  An access to a
  freed block or past its end faults; the C runtime notes it, makes the page
  accessible and lets the access go on, and the report is printed at the
  module's next call into the kernel (see ``runtime.c``).
* Python modules get Python objects: ``kmalloc(n, ...)`` a :class:`KBuffer`
  of *n* bytes (indexing and slicing are checked like KASAN's shadow), and
  ``kmalloc(sizeof(Item), ...)`` an ``Item()`` -- so a port of ``struct item
  *it = kzalloc(sizeof(*it), GFP_KERNEL)`` reads
  ``it = kzalloc(sizeof(Item), GFP_KERNEL)``.  A freed object's class is
  swapped for a twin that reports every attribute access by module code.
* Double and invalid frees are caught in ``kfree``: reported, and ignored,
  as KASAN does.
* The reports are ``_kasan``'s and ``_kmemleak``'s (kmemleak scans when a
  module is freed: what it allocated and did not free is then unreferenced).

Divergence: placing each C block on pages of its own makes large ``kmalloc``
blocks not page-aligned, and leaves the bytes between the requested size and
the next multiple of 8 unchecked; past the process's limit on mappings
(about 30,000 blocks at once) blocks are packed, unchecked.
"""

from __future__ import annotations

import sys
import zlib
from collections import deque
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final

from ._current import cur
from ._export import C_ENTRIES, export, export_value, export_values
from ._printk import KERN_ERR, KERN_WARNING

# -- gfp flags (include/linux/gfp_types.h, 6.3+: no __GFP_ATOMIC) -------------

#: ``__GFP_NAME`` -> its bit (0x200 is unused since __GFP_ATOMIC went, in 6.3).
_GFP_BITS: Final = {
    "DMA": 0x01, "HIGHMEM": 0x02, "DMA32": 0x04, "MOVABLE": 0x08, "RECLAIMABLE": 0x10,
    "HIGH": 0x20, "IO": 0x40, "FS": 0x80, "ZERO": 0x100, "DIRECT_RECLAIM": 0x400,
    "KSWAPD_RECLAIM": 0x800, "WRITE": 0x1000, "NOWARN": 0x2000, "RETRY_MAYFAIL": 0x4000,
    "NOFAIL": 0x8000, "NORETRY": 0x10000, "MEMALLOC": 0x20000, "COMP": 0x40000,
    "NOMEMALLOC": 0x80000, "HARDWALL": 0x100000, "THISNODE": 0x200000, "ACCOUNT": 0x400000,
}
_RECLAIM: Final = _GFP_BITS["DIRECT_RECLAIM"] | _GFP_BITS["KSWAPD_RECLAIM"]
_KERNEL: Final = _RECLAIM | _GFP_BITS["IO"] | _GFP_BITS["FS"]
GFP_FLAGS: Final[dict[str, int]] = {
    **{f"__GFP_{name}": bit for name, bit in _GFP_BITS.items()},
    "__GFP_RECLAIM": _RECLAIM,
    "GFP_ATOMIC": _GFP_BITS["HIGH"] | _GFP_BITS["KSWAPD_RECLAIM"],
    "GFP_KERNEL": _KERNEL,
    "GFP_KERNEL_ACCOUNT": _KERNEL | _GFP_BITS["ACCOUNT"],
    "GFP_NOWAIT": _GFP_BITS["KSWAPD_RECLAIM"],
    "GFP_NOIO": _RECLAIM,
    "GFP_NOFS": _RECLAIM | _GFP_BITS["IO"],
    "GFP_USER": _KERNEL | _GFP_BITS["HARDWALL"],
    "GFP_DMA": _GFP_BITS["DMA"],
    "GFP_DMA32": _GFP_BITS["DMA32"],
}
globals().update(GFP_FLAGS)  # GFP_KERNEL & co. as names of this module (for the facade)
export_values(__name__, "linux/gfp_types.h", GFP_FLAGS)
GFP_KERNEL: Final = _KERNEL
___GFP_ZERO: Final = _GFP_BITS["ZERO"]
___GFP_NOWARN: Final = _GFP_BITS["NOWARN"]

#: The names ``%pGg`` prints, in the order of include/trace/events/mmflags.h:
#: composites first, each taking its bits.
_GFP_NAMES: Final = (
    "GFP_USER", "GFP_KERNEL_ACCOUNT", "GFP_KERNEL", "GFP_NOFS", "GFP_ATOMIC", "GFP_NOIO",
    "GFP_NOWAIT", "GFP_DMA", "__GFP_HIGHMEM", "GFP_DMA32", "__GFP_HIGH", "__GFP_IO", "__GFP_FS",
    "__GFP_NOWARN", "__GFP_RETRY_MAYFAIL", "__GFP_NOFAIL", "__GFP_NORETRY", "__GFP_COMP",
    "__GFP_ZERO", "__GFP_NOMEMALLOC", "__GFP_MEMALLOC", "__GFP_HARDWALL", "__GFP_THISNODE",
    "__GFP_RECLAIMABLE", "__GFP_MOVABLE", "__GFP_ACCOUNT", "__GFP_WRITE", "__GFP_RECLAIM",
    "__GFP_DIRECT_RECLAIM", "__GFP_KSWAPD_RECLAIM",
)


def format_gfp(flags: int) -> str:
    """``%pGg``: ``GFP_KERNEL|__GFP_ZERO``."""
    names = []
    for name in _GFP_NAMES:
        mask = GFP_FLAGS[name]
        if mask and flags & mask == mask:
            names.append(name)
            flags &= ~mask
    if flags:
        names.append(f"{flags:#x}")
    return "|".join(names) or "none"


# -- sizes ----------------------------------------------------------------------

PAGE_SHIFT: Final = 12
PAGE_SIZE: Final = 1 << PAGE_SHIFT
export_values(__name__, "asm/page.h", {"PAGE_SHIFT": PAGE_SHIFT, "PAGE_SIZE": PAGE_SIZE})
#: The largest order the page allocator grants (6.4+ counts MAX_ORDER
#: inclusively: 10; 6.1 exclusively: 11 -- the same 4 MiB).
MAX_PAGE_ORDER: Final = 10
#: MAX_ORDER as 6.4+ defines it (include/linux/mmzone.h; 6.1's was 11, exclusive).
MAX_ORDER: Final = MAX_PAGE_ORDER
export_values(__name__, "linux/mmzone.h", {"MAX_ORDER": MAX_ORDER})
KMALLOC_SHIFT_HIGH: Final = PAGE_SHIFT + 1
KMALLOC_MAX_CACHE_SIZE: Final = 1 << KMALLOC_SHIFT_HIGH
KMALLOC_MAX_SIZE: Final = 1 << (MAX_PAGE_ORDER + PAGE_SHIFT)
export_values(__name__, "linux/slab.h", {"KMALLOC_MAX_CACHE_SIZE": KMALLOC_MAX_CACHE_SIZE,
                                         "KMALLOC_MAX_SIZE": KMALLOC_MAX_SIZE})
#: The simulated machine's memory (vmalloc refuses more: "exceeds total pages").
TOTALRAM_PAGES: Final = (2 << 30) >> PAGE_SHIFT
SIZE_MAX: Final = (1 << 64) - 1
#: The kmalloc caches (SLUB, x86-64: kmalloc-96 and kmalloc-192 too).
KMALLOC_SIZES: Final = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
def kmalloc_cache(size: int) -> tuple[str, int]:
    """The ``kmalloc-N`` cache of a request (``kmalloc_slab``): name and object size."""
    for n in KMALLOC_SIZES:
        if size <= n:
            return (f"kmalloc-{n // 1024}k" if n >= 1024 else f"kmalloc-{n}"), n
    raise ValueError(f"no kmalloc cache for {size} bytes")


def get_order(size: int) -> int:
    """The page order holding *size* bytes (``get_order``)."""
    pages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT
    return max(0, (pages - 1).bit_length())


def _ptr_hash(addr: int | str) -> int:
    """A 32-bit stand-in for the kernel's hashed pointers (``%p``, ``%pK``): of
    an address, or of a symbol standing for one."""
    if isinstance(addr, int):
        return zlib.crc32(addr.to_bytes(8, "little"))
    return zlib.crc32(addr.encode())


# -- what is recorded ---------------------------------------------------------------

@dataclass(eq=False)
class Track:
    """Who allocated or freed a block: ``struct kasan_track`` and kmemleak's fields."""

    pid: int
    comm: str
    jiffies: int
    #: Stack trace below the allocator (innermost first): module and kernel frames.
    trace: list[str]


@dataclass(eq=False)
class Block:
    """One allocation: a kmalloc object, a large kmalloc, or a vmalloc area."""

    addr: int
    #: The size asked for.
    size: int
    #: ``slab`` (a kmalloc cache object), ``large`` (kmalloc from the page
    #: allocator) or ``vmalloc``.
    kind: str
    #: The kmalloc cache (``kmalloc-32``), for slab objects.
    cache: str | None
    #: The cache's object size (slab), else the size the pages hold.
    object_size: int
    alloc: Track
    #: The module whose code allocated it (kmemleak reports it when that module goes).
    module: Any
    #: Real memory in a C arena (else a Python object).
    c: bool = False
    #: C: the first byte of its pages and the end of its pages (the guard page
    #: follows); 0 for a block packed with others (once guard pages run out).
    region: int = 0
    region_end: int = 0
    #: Python: the object handed out (a KBuffer, an instance, a KArray).
    obj: Any = None
    free: Track | None = None
    leak_reported: bool = False
    #: The allocator's own frames below the caller's (``kmalloc_trace+0x26/0x90``).
    kframes: list[str] = field(default_factory=list)

    @property
    def freed(self) -> bool:
        return self.free is not None

    @property
    def end(self) -> int:
        return self.addr + self.size


# Kernel frames of the allocators' stack traces (names of a 6.x SLUB kernel;
# the offsets of the large kmalloc and of the WARNs are the oracle's 6.1 run's,
# the others representative).
_SLAB_ALLOC_FRAME: Final = "__kmem_cache_alloc_node+0x1e4/0x2e0"
_LARGE_FRAMES: Final = ["__kmalloc_large_node+0x6e/0xe0", "kmalloc_large+0x19/0xa0"]
_VMALLOC_FRAMES: Final = ["__vmalloc_node_range+0x3c3/0x880", "__vmalloc_node+0x4a/0x60"]
#: Where the allocators' own WARNs sit: (file:line, RIP) by kernel version.
#: 6.1: the oracle's run on Debian 6.1.0-57; 6.7: the source's lines around
#: 6.7 where known, the 6.1 offsets (unverified against a 6.7 build).
_WARN_SITES: Final[dict[str, dict[tuple[int, int], tuple[str, str]]]] = {
    "order": {(6, 1): ("mm/page_alloc.c:5634", "__alloc_pages+0x2a9/0x330"),
              (6, 7): ("mm/page_alloc.c:4543", "__alloc_pages+0x2a9/0x330")},
    "vmalloc0": {(6, 1): ("mm/vmalloc.c:3227", "__vmalloc_node_range+0x806/0x880"),
                 (6, 7): ("mm/vmalloc.c:3251", "__vmalloc_node_range+0x806/0x880")},
    "vfree_bad": {(6, 1): ("mm/vmalloc.c:2752", "__vunmap+0x31a/0x340"),
                  (6, 7): ("mm/vmalloc.c:2855", "vfree+0x1a1/0x1c0")},
    "vfree_none": {(6, 1): ("mm/vmalloc.c:2758", "__vunmap+0x7e/0x340"),
                   (6, 7): ("mm/vmalloc.c:2855", "vfree+0x1a1/0x1c0")},
}


def _site(k: Any, what: str) -> tuple[str, str]:
    sites = _WARN_SITES[what]
    return sites[(6, 1)] if tuple(k.kernel_version) < (6, 7) else sites[(6, 7)]


#: The C side (``kernsim.cmodule.memory``) installs itself here when the C
#: runtime loads: real memory for C modules' blocks.
C_MEMORY: Any = None

#: Freed C blocks whose contents are kept (a use after free reads the old
#: data, as KASAN's quarantine keeps it); older ones' pages are given back.
QUARANTINE_BYTES: Final = 16 << 20
#: Freed Python blocks remembered (for double frees and their reports).
QUARANTINE_OBJECTS: Final = 4096

#: Fake kernel addresses of Python modules' blocks: the direct map, vmalloc space.
_PY_SLAB_BASE: Final = 0xFFFF888100000000
_PY_VMALLOC_BASE: Final = 0xFFFFC90000000000
_PY_FOREIGN_BASE: Final = 0xFFFF888200000000


class SlabAllocator:
    """The allocators' bookkeeping (a ``Kernel`` part; their reports are
    ``_kasan``'s and ``_kmemleak``'s)."""

    def _init_slab(self) -> None:
        #: Every block not yet forgotten, by address (live and freed).
        self.slab_blocks: dict[int, Block] = {}
        #: Live blocks in allocation order (kmemleak's object_list).
        self.slab_live: dict[int, Block] = {}
        #: Python objects handed out -> their block (live, and freed in quarantine).
        self.slab_by_id: dict[int, Block] = {}
        #: C blocks by region, in address order (for faults: address -> block).
        self.slab_c_starts: list[int] = []
        self.slab_c_blocks: list[Block] = []
        self.slab_quarantine: deque[Block] = deque()
        self.slab_quarantine_bytes = 0
        self.slab_next_py = _PY_SLAB_BASE
        self.slab_next_vm = _PY_VMALLOC_BASE
        self.slab_arena: Any = None
        self.slab_warned: set[str] = set()
        #: Stack traces, each kept once (the kernel's stack depot): a loop's
        #: thousand allocations share one.
        self.slab_depot: dict[tuple[str, ...], list[str]] = {}
        #: Addresses given to Python objects freed without being allocated.
        self.slab_foreign: dict[int, int] = {}

    # -- blocks -------------------------------------------------------------------

    def slab_new(self, size: int, kind: str, trace: list[str], *, c: bool) -> Block | None:
        """Record a new block of *size* bytes (C: its memory too); None if the
        arena has no room left."""
        k: Any = self
        if kind == "slab":
            cache, object_size = kmalloc_cache(size)
        else:
            cache, object_size = None, (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        task = k.current
        trace = self.slab_stack(trace)
        track = Track(task.pid if task else 0, task.comm if task else "swapper/0", k.jiffies, trace)
        block = Block(0, size, kind, cache, object_size, track, _module_of_trace(k, trace), c=c)
        if c:
            if not self._c_place(block):
                return None
        else:
            self._py_place(block)
        self.slab_blocks[block.addr] = block
        self.slab_live[block.addr] = block
        return block

    def slab_stack(self, trace: list[str]) -> list[str]:
        """The depot's copy of *trace* (``stack_depot_save``)."""
        return self.slab_depot.setdefault(tuple(trace), trace)

    def slab_foreign_addr(self, obj: Any) -> int:
        """A stable address for a Python object the allocators never handed out."""
        addr = self.slab_foreign.get(id(obj))
        if addr is None:
            addr = self.slab_foreign[id(obj)] = _PY_FOREIGN_BASE + 0x40 * len(self.slab_foreign)
        return addr

    def _py_place(self, block: Block) -> None:
        if block.kind == "vmalloc":
            block.addr = self.slab_next_vm
            self.slab_next_vm += block.object_size + PAGE_SIZE
            return
        align = min(block.object_size, PAGE_SIZE) if block.kind == "slab" else PAGE_SIZE
        addr = (self.slab_next_py + align - 1) & ~(align - 1)
        block.addr = addr
        self.slab_next_py = addr + block.object_size

    def _c_place(self, block: Block) -> bool:
        arena = self.slab_arena
        if arena is None:
            arena = self.slab_arena = C_MEMORY.new_arena()
        pages = (block.size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        region = arena.take(pages + PAGE_SIZE)  # and its guard page
        if region is None:
            return False
        if not arena.protect(region, pages, True):
            # The process has as many mappings as it may: no more guard pages.
            addr = arena.take_packed(block.size, PAGE_SIZE if block.kind == "vmalloc" else 0)
            if addr is None:
                return False
            block.addr = addr
            return True
        block.region, block.region_end = region, region + pages
        if block.kind == "vmalloc":
            block.addr = region  # page-aligned, as vmalloc's
        else:
            # At the end of its pages, so that the guard page follows it.
            block.addr = region + pages - ((block.size + 7) & ~7)
        self.slab_c_starts.append(region)
        self.slab_c_blocks.append(block)
        return True

    def slab_free(self, block: Block, trace: list[str]) -> None:
        """Mark *block* freed (C: its pages become inaccessible)."""
        k: Any = self
        task = k.current
        block.free = Track(task.pid if task else 0, task.comm if task else "swapper/0", k.jiffies,
                           self.slab_stack(trace))
        self.slab_live.pop(block.addr, None)
        if block.region:  # a C block on pages of its own: close them
            self.slab_arena.protect(block.region, block.region_end - block.region, False)
            self.slab_quarantine_bytes += block.region_end - block.region
        self.slab_quarantine.append(block)
        while (self.slab_quarantine_bytes > QUARANTINE_BYTES
               or len(self.slab_quarantine) > QUARANTINE_OBJECTS):
            self._slab_forget(self.slab_quarantine.popleft())

    def _slab_forget(self, old: Block) -> None:
        """A block leaves the quarantine: its memory goes back."""
        if old.region:
            self.slab_quarantine_bytes -= old.region_end - old.region
            if self.slab_arena is not None:
                self.slab_arena.discard(old.region, old.region_end - old.region)
            return  # still found by address: a later access is still reported
        self.slab_blocks.pop(old.addr, None)
        if old.obj is not None:
            self.slab_by_id.pop(id(old.obj), None)
        old.obj = None

    def slab_c_block_at(self, addr: int) -> Block | None:
        """The C block whose pages or guard page hold *addr*."""
        import bisect

        i = bisect.bisect_right(self.slab_c_starts, addr) - 1
        if i < 0:
            return None
        block = self.slab_c_blocks[i]
        return block if addr < block.region_end + PAGE_SIZE else None

    def release_memory(self) -> None:
        """The kernel is gone: give its C arena back."""
        arena, self.slab_arena = self.slab_arena, None
        if arena is not None:
            arena.release()

    # -- the allocators' own warnings -----------------------------------------------

    def slab_warn_once(self, what: str, message: str | None, frames: list[str],
                       caller: FrameType | None) -> None:
        """A ``WARN_ON_ONCE``/``WARN`` of the allocators, with their frames."""
        from ._warn import _warn_report

        once = what in ("order", "vmalloc0")
        if once and what in self.slab_warned:
            return
        self.slab_warned.add(what)
        k: Any = self
        site, rip = _site(k, what)
        # vfree's WARN(1, KERN_ERR "Trying to vfree() ...")
        _warn_report(site, message, 0, rip=rip, trace=frames + _trace(k, caller),
                     message_level=KERN_ERR)

def _module_of_trace(k: Any, trace: list[str]) -> Any:
    """The module whose code is the innermost ``[module]`` frame of a trace."""
    for frame in trace:
        if frame.endswith("]") and " [" in frame:
            return k.modules.get(frame.rsplit(" [", 1)[1][:-1])
    return None


def _trace(k: Any, frame: FrameType | None) -> list[str]:
    """The call trace from *frame* (the allocator's caller) down to the task's base."""
    if frame is None:
        return []
    task = k.current
    return k.trace_from_frame(frame) + (k.trace_base(task) if task else [])


# -- who is calling ------------------------------------------------------------------

def _caller() -> tuple[FrameType, bool]:
    """The frame that called the exported function running two frames up,
    and whether it is C code (the C runtime's entry, see ``C_ENTRIES``)."""
    frame = sys._getframe(2)
    while frame.f_code.co_filename.startswith("<kernsim export"):
        frame = frame.f_back  # type: ignore[assignment]
    return frame, frame.f_code in C_ENTRIES


def _size_t(n: Any) -> int:
    return int(n) & SIZE_MAX


# -- what Python modules get -----------------------------------------------------------

def _check(buf: Any, offset: int, size: int, write: bool) -> None:
    """KASAN's check of a Python module's access to a block."""
    block = buf._block
    if block.freed or offset < 0 or offset + size > block.size:
        k = cur.k
        frames = k.trace_from_frame(sys._getframe(2))
        k.kasan_report_access(block, block.addr + offset, size, write,
                              frames + _base_of(k))


def _base_of(k: Any) -> list[str]:
    task = k.current
    return k.trace_base(task) if task else []


class KBuffer:
    """What ``kmalloc(n, ...)`` gives a Python module: *n* bytes of kernel memory.

    ``buf[i]`` and ``buf[i] = v`` read and write a byte, ``buf[a:b]`` bytes;
    ``len(buf)`` is *n*, ``bytes(buf)`` the contents, and ``str(buf)`` the C
    string it holds (up to the first NUL), so ``pr_info("%s", buf)`` prints
    it.  Indexes are C's: ``buf[-1]`` is the byte before the buffer, which is
    out of bounds.  An access out of bounds or after ``kfree`` is reported as
    KASAN reports it, then made (reading zeroes beyond the cache object).
    """

    __slots__ = ("_data", "_block", "kaddr", "__weakref__")

    def __init__(self, block: Block, data: bytearray) -> None:
        self._block = block
        self._data = data
        self.kaddr = block.addr

    def __len__(self) -> int:
        return self._block.size

    def _index(self, i: Any) -> int:
        try:
            return int(i.__index__())
        except AttributeError:
            raise TypeError(f"kernel memory indices must be integers, not {type(i).__name__}") from None

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            start, stop = self._bounds(i)
            _check(self, start, stop - start, False)
            return bytes(self._data[max(start, 0):max(stop, 0)]).ljust(stop - start, b"\0")
        n = self._index(i)
        _check(self, n, 1, False)
        return self._data[n] if 0 <= n < len(self._data) else 0

    def __setitem__(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            start, stop = self._bounds(i)
            data = bytes(value)
            if len(data) != stop - start:
                raise ValueError(f"kmalloc'd memory cannot change size: {stop - start} bytes at "
                                 f"[{start}:{stop}], {len(data)} given")
            _check(self, start, len(data), True)
            lo, hi = max(start, 0), min(stop, len(self._data))
            if lo < hi:
                self._data[lo:hi] = data[lo - start:hi - start]
            return
        n = self._index(i)
        _check(self, n, 1, True)
        if 0 <= n < len(self._data):
            self._data[n] = value & 0xFF

    def _bounds(self, s: slice) -> tuple[int, int]:
        if s.step not in (None, 1):
            raise ValueError("kernel memory slices take no step")
        start = 0 if s.start is None else self._index(s.start)
        stop = self._block.size if s.stop is None else self._index(s.stop)
        return start, max(start, stop)

    def __iter__(self) -> Any:
        for i in range(self._block.size):
            yield self[i]

    def __bytes__(self) -> bytes:
        _check(self, 0, self._block.size, False)
        return bytes(self._data[:self._block.size])

    def __str__(self) -> str:
        n = self._data.find(0)
        n = self._block.size if n < 0 or n > self._block.size else n
        _check(self, 0, n + 1 if n < self._block.size else n, False)
        return self._data[:n].decode("utf-8", "replace")

    def __repr__(self) -> str:
        b = self._block
        what = b.cache or b.kind
        state = " freed" if b.freed else ""
        return f"<{what} object at {b.addr:#x} size {b.size}{state}>"


class _ZeroSizePtr:
    """``ZERO_SIZE_PTR``, ``(void *)16``: what ``kmalloc(0)`` returns.  Not
    NULL, but any access through it is a page fault at address 0x10."""

    __slots__ = ()
    kaddr = 16

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True

    def __getitem__(self, i: Any) -> Any:
        from ._bug import PageFault

        raise PageFault(16, "ZERO_SIZE_PTR: the result of a zero-size kmalloc")

    def __setitem__(self, i: Any, value: Any) -> None:
        from ._bug import PageFault

        raise PageFault(16, "ZERO_SIZE_PTR: the result of a zero-size kmalloc", write=True)

    def __repr__(self) -> str:
        return "ZERO_SIZE_PTR"


ZERO_SIZE_PTR: Final = _ZeroSizePtr()
export_value("ZERO_SIZE_PTR", ZERO_SIZE_PTR, "linux/slab.h")


@export("linux/slab.h", kind="macro", points=False)
def ZERO_OR_NULL_PTR(x: Any) -> bool:
    """True for NULL and for ``ZERO_SIZE_PTR``: no memory behind it."""
    if x is None or x is ZERO_SIZE_PTR:
        return True
    return isinstance(x, int) and 0 <= x <= 16


class StructSize(int):
    """``sizeof(T)`` of a Python class: a byte count (8 per field, as a
    struct of longs and pointers) that remembers *T*, so that
    ``kmalloc(sizeof(T), ...)`` makes a ``T``."""

    struct: type

    def __new__(cls, t: type, size: int) -> StructSize:
        self = super().__new__(cls, size)
        self.struct = t
        return self

    def __repr__(self) -> str:
        return f"sizeof({self.struct.__name__})"


def _fields(t: type) -> list[str]:
    fields = getattr(t, "__dataclass_fields__", None)
    if fields:
        return list(fields)
    names: list[str] = []
    for klass in reversed(t.__mro__[:-1]):
        for name in getattr(klass, "__annotations__", {}):
            if name not in names:
                names.append(name)
        for name in getattr(klass, "__slots__", ()):
            if name not in names and not name.startswith("__"):
                names.append(name)
        for name, value in vars(klass).items():
            if not name.startswith("_") and not callable(value) and name not in names \
                    and not isinstance(value, (property, staticmethod, classmethod)):
                names.append(name)
    return names


@export("linux/slab.h", kind="macro", points=False)
def sizeof(t: Any) -> StructSize:
    """``sizeof(struct item)`` for a Python class (or ``sizeof(*it)`` for an
    instance): 8 bytes per field; ``kmalloc(sizeof(Item), GFP_KERNEL)``
    returns a new ``Item()``."""
    if not isinstance(t, type):
        t = type(t)
        if t is StructSize or t in (int, str, bytes):
            raise TypeError("sizeof() takes a class (a struct), as sizeof(struct item)")
    return StructSize(t, 8 * max(1, len(_fields(t))))


class KArray(list):  # type: ignore[type-arg]
    """What ``kcalloc(n, sizeof(T), ...)`` gives a Python module: *n* new ``T``s."""

    __slots__ = ("_block", "kaddr")
    _block: Block
    kaddr: int

    def __getitem__(self, i: Any) -> Any:
        block = self._block
        n = i if isinstance(i, int) else 0
        if block.freed or (isinstance(i, int) and not 0 <= i < len(self)):
            k = cur.k
            elem = block.object_size // max(1, len(self)) if len(self) else 8
            k.kasan_report_access(block, block.addr + n * elem, 8, False,
                                  k.trace_from_frame(sys._getframe(1)) + _base_of(k))
            if isinstance(i, int) and not 0 <= i < len(self):
                return None
        return super().__getitem__(i)


_FREED_TWINS: dict[type, type] = {}
#: Attribute reads by the kernel itself (printing a pointer) are no accesses.
_NOT_ACCESSES: Final = frozenset({"kaddr", "__class__", "__dict__", "__name__", "__qualname__",
                                  "__repr__", "__str__"})


def _freed_twin(t: type) -> type:
    """A subclass of *t* for freed objects: every attribute access by module
    code is reported as a use after free, then made."""
    twin = _FREED_TWINS.get(t)
    if twin is not None:
        return twin

    base: Any = t

    def __getattribute__(self: Any, name: str) -> Any:
        if name not in _NOT_ACCESSES:
            _freed_access(self, name, False)
        return base.__getattribute__(self, name)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        _freed_access(self, name, True)
        base.__setattr__(self, name, value)

    ns: dict[str, Any] = {"__getattribute__": __getattribute__, "__setattr__": __setattr__,
                          "__module__": t.__module__, "__qualname__": t.__qualname__}
    if not hasattr(t, "__dict__") or "__slots__" in vars(t):
        ns["__slots__"] = ()
    twin = _FREED_TWINS[t] = type(t.__name__, (t,), ns)
    return twin


def _freed_access(obj: Any, name: str, write: bool) -> None:
    k = cur.k
    if not k:
        return
    frame = sys._getframe(2)
    if k.module_of_code(frame.f_code) is None:
        return  # the kernel's own look (printing, the report itself)
    block = k.slab_by_id.get(id(obj))
    if block is None:
        return
    fields = _fields(type(obj).__mro__[1])
    offset = 8 * fields.index(name) if name in fields else 0
    k.kasan_report_access(block, block.addr + offset, 8, write,
                          k.trace_from_frame(frame) + _base_of(k))


def _new_object(size: StructSize) -> Any:
    try:
        return size.struct()
    except TypeError as exc:
        name = size.struct.__name__
        raise TypeError(f"kmalloc(sizeof({name})) makes a {name}() with no arguments: {exc}") from None


# -- the allocators ----------------------------------------------------------------------

#: The allocator's own frames below its caller, by entry point.
_KMALLOC: Final = ["kmalloc_trace+0x26/0x90"]
_KMALLOC_VAR: Final = ["__kmalloc+0x4b/0x150"]
_TRACK_CALLER: Final = "__kmalloc_node_track_caller+0x4e/0x140"


def _alloc(size: Any, kind: str, kframes: list[str], caller: FrameType, from_c: bool, *,
           data: bytes | None = None, count: int | None = None) -> Any:
    """Allocate a block of *size* bytes for C (its address) or Python (its
    object: bytes, a ``T()`` for ``sizeof(T)``, or *count* of them); None
    (NULL) if there is no room."""
    k = cur.k
    structs = isinstance(size, StructSize) and not from_c
    n = int(size) * (count or 1) if structs else _size_t(size)
    block = k.slab_new(n, kind, _trace(k, caller), c=from_c)
    if block is None:
        return None
    block.kframes = _LARGE_FRAMES if kind == "large" else kframes
    if from_c:
        if data:
            k.slab_arena.write(block.addr, data[:n])
        return block.addr
    if structs and count is None:
        obj: Any = _new_object(size)
        if not hasattr(obj, "kaddr"):
            try:
                object.__setattr__(obj, "kaddr", block.addr)  # what %p prints
            except (AttributeError, TypeError):
                pass
    elif structs:
        obj = KArray(_new_object(size) for _ in range(count or 0))
        obj._block = block
        obj.kaddr = block.addr
    else:
        backing = bytearray(block.object_size if kind == "slab" else n)
        if data:
            backing[:len(data[:n])] = data[:n]
        obj = KBuffer(block, backing)
    block.obj = obj
    k.slab_by_id[id(obj)] = block
    return obj


def _kmalloc(size: Any, flags: int, caller: FrameType, from_c: bool, *,
             kframes: list[str] = _KMALLOC, data: bytes | None = None,
             count: int | None = None) -> Any:
    """``__do_kmalloc_node``: a cache object, pages, ZERO_SIZE_PTR or NULL."""
    k = cur.k
    if isinstance(size, StructSize) and not from_c:
        n = int(size) * (count or 1)
        if count == 0:
            n = 0
    else:
        n = _size_t(size)
    if n == 0:
        return 16 if from_c else ZERO_SIZE_PTR
    if n > KMALLOC_MAX_CACHE_SIZE:
        if get_order(n) > MAX_PAGE_ORDER:
            # __alloc_pages(): WARN_ON_ONCE_GFP(order > MAX_ORDER, gfp)
            if not flags & ___GFP_NOWARN:
                k.slab_warn_once("order", None, list(_LARGE_FRAMES), caller)
            return None
        return _alloc(size, "large", kframes, caller, from_c, data=data, count=count)
    return _alloc(size, "slab", kframes, caller, from_c, data=data, count=count)


@export("linux/slab.h", c="void *kmalloc(size_t size, gfp_t flags)")
def kmalloc(size: Any, flags: int) -> Any:
    """Allocate *size* bytes (a :class:`KBuffer`; for ``sizeof(T)``, a new
    ``T``); ``ZERO_SIZE_PTR`` for 0, None (NULL) above ``KMALLOC_MAX_SIZE``
    (with the page allocator's one-time warning unless ``__GFP_NOWARN``).
    The memory reads as zeroes (``init_on_alloc=1``)."""
    caller, from_c = _caller()
    return _kmalloc(size, flags, caller, from_c)


@export("linux/slab.h", c="void *kzalloc(size_t size, gfp_t flags)")
def kzalloc(size: Any, flags: int) -> Any:
    """``kmalloc(size, flags | __GFP_ZERO)``: zeroed memory."""
    caller, from_c = _caller()
    return _kmalloc(size, flags | ___GFP_ZERO, caller, from_c)


def _array(n: Any, size: Any, flags: int, caller: FrameType, from_c: bool) -> Any:
    count = _size_t(n)
    if count and int(size) > SIZE_MAX // count:
        return None  # check_mul_overflow(): NULL, and no warning
    if isinstance(size, StructSize) and not from_c:
        return _kmalloc(size, flags, caller, from_c, kframes=_KMALLOC_VAR, count=count)
    return _kmalloc(count * _size_t(size), flags, caller, from_c, kframes=_KMALLOC_VAR)


@export("linux/slab.h", c="void *kmalloc_array(size_t n, size_t size, gfp_t flags)")
def kmalloc_array(n: Any, size: Any, flags: int) -> Any:
    """*n* elements of *size* bytes; None (NULL) if ``n * size`` overflows.
    With ``sizeof(T)`` a Python module gets a list of *n* new ``T``."""
    caller, from_c = _caller()
    return _array(n, size, flags, caller, from_c)


@export("linux/slab.h", c="void *kcalloc(size_t n, size_t size, gfp_t flags)")
def kcalloc(n: Any, size: Any, flags: int) -> Any:
    """``kmalloc_array(n, size, flags | __GFP_ZERO)``."""
    caller, from_c = _caller()
    return _array(n, size, flags | ___GFP_ZERO, caller, from_c)


def _block_of(p: Any, from_c: bool) -> tuple[int, Block | None]:
    """(address, block) of what a module passed to a free function."""
    k = cur.k
    if from_c:
        addr = C_MEMORY.address(p)
        return addr, k.slab_blocks.get(addr)
    block = getattr(p, "_block", None) if isinstance(p, (KBuffer, KArray)) else k.slab_by_id.get(id(p))
    if block is None:
        return (p if isinstance(p, int) else k.slab_foreign_addr(p)), None
    return block.addr, block


def _kfree(p: Any, caller: FrameType, from_c: bool) -> None:
    k = cur.k
    if p is None or p is ZERO_SIZE_PTR:
        return
    addr, block = _block_of(p, from_c)
    if from_c and addr <= 16:
        return  # ZERO_OR_NULL_PTR
    frames = _trace(k, caller)
    if block is None or block.freed or block.kind == "vmalloc":
        k.kasan_report_invalid_free(block if block is not None and block.kind != "vmalloc" else None,
                                    addr, frames)
        return  # KASAN keeps the object from being freed
    k.slab_free(block, frames)
    obj = block.obj
    if obj is not None and not isinstance(obj, (KBuffer, KArray)):
        try:
            obj.__class__ = _freed_twin(type(obj))
        except TypeError:
            pass  # a class whose instances cannot change class: no use-after-free checks


@export("linux/slab.h", c="void kfree(const void *objp)")
def kfree(objp: Any) -> None:
    """Free what ``kmalloc`` & co. returned; NULL and ``ZERO_SIZE_PTR`` are
    ignored.  A double free or a free of anything else is reported as KASAN
    does, and ignored."""
    caller, from_c = _caller()
    _kfree(objp, caller, from_c)


@export("linux/slab.h", points=False, c="size_t ksize(const void *objp)")
def ksize(objp: Any) -> int:
    """The size of the cache object behind *objp* (128 for ``kmalloc(100)``).
    Divergence: KASAN lets the caller use all of it after ``ksize()``;
    kernsim still reports an access beyond the size asked for (use
    ``krealloc``, as 6.2+ kernels ask)."""
    _caller_frame, from_c = _caller()
    if objp is None or objp is ZERO_SIZE_PTR:
        return 0
    addr, block = _block_of(objp, from_c)
    if from_c and addr <= 16:
        return 0
    if block is None:
        return 0
    return block.object_size if block.kind == "slab" else block.size


@export("linux/slab.h", c="void *krealloc(const void *objp, size_t new_size, gfp_t flags)")
def krealloc(objp: Any, new_size: Any, flags: int) -> Any:
    """Resize a block: a new block holding the old contents (the old one is
    freed), the same block if it shrinks, ``ZERO_SIZE_PTR`` (freeing *objp*)
    for 0, None (NULL, *objp* untouched) if it cannot."""
    caller, from_c = _caller()
    k = cur.k
    n = _size_t(new_size)
    if objp is None or objp is ZERO_SIZE_PTR or (from_c and C_MEMORY.address(objp) <= 16):
        return _kmalloc(n, flags, caller, from_c)
    if n == 0:
        _kfree(objp, caller, from_c)
        return 16 if from_c else ZERO_SIZE_PTR
    addr, block = _block_of(objp, from_c)
    if block is None or block.kind == "vmalloc" or isinstance(block.obj, KArray) or \
            (block.obj is not None and not isinstance(block.obj, KBuffer)):
        if block is None or block.kind == "vmalloc":
            k.kasan_report_invalid_free(None, addr, _trace(k, caller))
            return None
        raise TypeError("krealloc() resizes byte buffers, not Python objects")
    if block.freed:
        k.kasan_report_access(block, addr, block.object_size, False,
                              ["krealloc+0x8f/0xe0"] + _trace(k, caller))
    if n <= block.size and not block.freed:
        return objp  # it fits where it is
    keep = min(block.size, n)
    if block.freed:
        old = b""  # (what KASAN let it read is lost with the freed pages)
    elif block.c:
        old = k.slab_arena.read(block.addr, keep)
    else:
        buf: Any = block.obj
        old = bytes(buf._data[:keep])
    new = _kmalloc(n, flags, caller, from_c, kframes=[_TRACK_CALLER, "krealloc+0x8f/0xe0"],
                   data=old)
    if new is not None and not block.freed:
        k.slab_free(block, _trace(k, caller))
    return new


# -- vmalloc -------------------------------------------------------------------------------

def _vmalloc(size: Any, flags: int, caller: FrameType, from_c: bool) -> Any:
    """``__vmalloc_node_range``: page-aligned pages and a guard page, or NULL."""
    k = cur.k
    n = _size_t(size)
    if n == 0:
        k.slab_warn_once("vmalloc0", None, list(_VMALLOC_FRAMES[1:]), caller)
        return None
    if (n >> PAGE_SHIFT) > TOTALRAM_PAGES:
        if not flags & ___GFP_NOWARN:
            task = k.current
            k.flush_log()
            k.printk_ln(KERN_WARNING, f"{task.comm if task else 'swapper/0'}: vmalloc error: "
                                      f"size {n}, exceeds total pages, mode:{flags:#x}"
                                      f"({format_gfp(flags)}), nodemask=(null),cpuset=/,"
                                      f"mems_allowed=0")
            k.printk_ln(KERN_WARNING, k.cpu_line(task))
            k.printk_ln(KERN_WARNING, k.hardware_line())
            k.print_call_trace(["dump_stack_lvl+0x44/0x5c", "warn_alloc+0x151/0x170",
                                "__vmalloc_node_range+0x838/0x880", "__vmalloc_node+0x4a/0x60"]
                               + _trace(k, caller), KERN_WARNING)
        return None
    return _alloc(n, "vmalloc", _VMALLOC_FRAMES, caller, from_c)


@export("linux/vmalloc.h", c="void *vmalloc(unsigned long size)")
def vmalloc(size: Any) -> Any:
    """*size* bytes of virtually contiguous memory, page-aligned, followed by
    a guard page; None (NULL) for 0 (with a one-time warning) or more than
    the machine has (``vmalloc error: ... exceeds total pages``)."""
    caller, from_c = _caller()
    return _vmalloc(size, GFP_KERNEL, caller, from_c)


@export("linux/vmalloc.h", c="void *vzalloc(unsigned long size)")
def vzalloc(size: Any) -> Any:
    """``vmalloc`` of zeroed memory."""
    caller, from_c = _caller()
    return _vmalloc(size, GFP_KERNEL | ___GFP_ZERO, caller, from_c)


def _vfree(addr_or_obj: Any, caller: FrameType, from_c: bool) -> None:
    k = cur.k
    if addr_or_obj is None:
        return
    addr, block = _block_of(addr_or_obj, from_c)
    if from_c and addr == 0:
        return
    if block is not None and block.kind == "vmalloc" and not block.freed:
        k.slab_free(block, _trace(k, caller))
        return
    shown = f"{_ptr_hash(addr):016x}"
    if tuple(k.kernel_version) < (6, 7) and addr % PAGE_SIZE:
        k.slab_warn_once("vfree_bad", f"Trying to vfree() bad address ({shown})", [], caller)
    else:
        k.slab_warn_once("vfree_none", f"Trying to vfree() nonexistent vm area ({shown})", [], caller)


@export("linux/vmalloc.h", c="void vfree(const void *addr)")
def vfree(addr: Any) -> None:
    """Free what ``vmalloc`` returned; NULL is ignored.  Anything else gets the
    kernel's warning (``Trying to vfree() nonexistent vm area``)."""
    caller, from_c = _caller()
    _vfree(addr, caller, from_c)


@export("linux/slab.h", c="void *kvmalloc(size_t size, gfp_t flags)")
def kvmalloc(size: Any, flags: int) -> Any:
    """``kmalloc`` if it can (up to ``KMALLOC_MAX_SIZE``), else ``vmalloc``."""
    caller, from_c = _caller()
    n = _size_t(size)
    if n <= KMALLOC_MAX_SIZE or (isinstance(size, StructSize) and not from_c):
        return _kmalloc(size, flags | ___GFP_NOWARN, caller, from_c)
    return _vmalloc(n, flags, caller, from_c)


@export("linux/slab.h", c="void *kvzalloc(size_t size, gfp_t flags)")
def kvzalloc(size: Any, flags: int) -> Any:
    """``kvmalloc(size, flags | __GFP_ZERO)``."""
    caller, from_c = _caller()
    n = _size_t(size)
    if n <= KMALLOC_MAX_SIZE or (isinstance(size, StructSize) and not from_c):
        return _kmalloc(size, flags | ___GFP_NOWARN | ___GFP_ZERO, caller, from_c)
    return _vmalloc(n, flags | ___GFP_ZERO, caller, from_c)


@export("linux/slab.h", c="void kvfree(const void *addr)")
def kvfree(addr: Any) -> None:
    """Free what ``kvmalloc`` returned, whichever allocator it came from."""
    caller, from_c = _caller()
    if addr is None or addr is ZERO_SIZE_PTR:
        return
    _, block = _block_of(addr, from_c)
    if block is not None and block.kind == "vmalloc":
        _vfree(addr, caller, from_c)
    else:
        _kfree(addr, caller, from_c)


# -- copies ------------------------------------------------------------------------------

def _dup(data: bytes | None, flags: int, frame_name: str, caller: FrameType, from_c: bool) -> Any:
    if data is None:
        return None
    return _kmalloc(len(data), flags, caller, from_c, kframes=[_TRACK_CALLER, frame_name],
                    data=data)


def _c_string(s: Any, from_c: bool) -> bytes | None:
    if s is None:
        return None
    if isinstance(s, KBuffer):
        return str(s).encode()
    return str(s).encode("utf-8", "replace")


@export("linux/string.h", c="char *kstrdup(const char *s, gfp_t gfp)")
def kstrdup(s: Any, gfp: int) -> Any:
    """A kmalloc'd copy of the C string *s* (with its NUL); None for None."""
    caller, from_c = _caller()
    data = _c_string(s, from_c)
    return _dup(None if data is None else data + b"\0", gfp, "kstrdup+0x34/0x60", caller, from_c)


@export("linux/string.h", c="char *kstrndup(const char *s, size_t max, gfp_t gfp)")
def kstrndup(s: Any, max: Any, gfp: int) -> Any:
    """``kstrdup`` of at most *max* characters."""
    caller, from_c = _caller()
    data = _c_string(s, from_c)
    return _dup(None if data is None else data[:_size_t(max)] + b"\0", gfp, "kstrndup+0x2f/0x60",
                caller, from_c)


@export("linux/string.h", c="void *kmemdup(const void *src, size_t len, gfp_t gfp)")
def kmemdup(src: Any, len: Any, gfp: int) -> Any:  # noqa: A002  (the kernel's name)
    """A kmalloc'd copy of *len* bytes at *src*."""
    caller, from_c = _caller()
    n = _size_t(len)
    if from_c:
        data = C_MEMORY.read(C_MEMORY.address(src), n)
    elif isinstance(src, KBuffer):
        data = src[0:n]
    else:
        data = bytes(src)[:n]
    return _dup(data, gfp, "kmemdup+0x25/0x50", caller, from_c)
