"""kmemleak's report (``mm/kmemleak.c``).

kmemleak scans memory for pointers to the blocks it tracks; a block nothing
points to is a suspected leak.  It prints each one it has not reported yet
(in the log with ``kmemleak.verbose=1``, else in
``/sys/kernel/debug/kmemleak``), then ``kmemleak: N new suspected memory
leaks``.  A record (6.7)::

    unreferenced object 0xffff888103c6e000 (size 32):
      comm "insmod", pid 100, jiffies 4294892546 (age 6.000s)
      hex dump (first 32 bytes):
        6c 65 61 6b 65 64 ...  leaked bytes her
      backtrace:
        [<00000000afdc212a>] kmalloc_trace+0x26/0x90
        [<00000000e41ac01c>] my_init+0x25/0x60 [mod]

The size is the cache's object size for a kmalloc object.  kernsim scans when
a module is freed (rmmod, or an init that failed): what the module allocated
and did not free cannot be referenced any more, as nothing of the module is
left to point to it.

Divergence: a real scan skips blocks younger than 5 s (they are reported by
the next scan), and once a module is gone it can print only the bare
addresses of its functions; kernsim reports every block at once and names
the functions.  A Python object's fields are not bytes: no hex dump for it.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from ._printk import KERN_INFO, KERN_WARNING
from ._slab import _SLAB_ALLOC_FRAME, KBuffer

if TYPE_CHECKING:
    from ._slab import Block


class Kmemleak:
    """kmemleak's scan at module removal (a ``Kernel`` part)."""

    def kmemleak_scan(self, mod: Any) -> int:
        """*mod* is gone: its blocks still allocated are unreferenced.  Print
        them as ``kmemleak.verbose=1`` does, then the summary; return how many."""
        k: Any = self
        leaks = [b for b in k.slab_live.values() if b.module is mod and not b.leak_reported]
        if not leaks:
            return 0
        k.flush_log()
        hz = k.hz
        for b in leaks:
            b.leak_reported = True
            # kmemleak_alloc's size: the cache's object size, the size asked
            # of the page allocator, a vmalloc area's pages.
            size = b.size if b.kind == "large" else b.object_size
            age_ms = (k.jiffies - b.alloc.jiffies) * 1000 // hz
            lines = [f"unreferenced object {b.addr:#010x} (size {size}):",
                     f"  comm \"{b.alloc.comm}\", pid {b.alloc.pid}, jiffies {b.alloc.jiffies} "
                     f"(age {age_ms // 1000}.{age_ms % 1000:03d}s)"]
            data = self._contents(b, min(size, 32))
            if data is not None:
                lines.append(f"  hex dump (first {len(data)} bytes):")
                lines += [f"    {_hex_line(data[i:i + 16])}" for i in range(0, len(data), 16)]
            lines.append("  backtrace:")
            lines += [f"    [<{_ptr_hash(frame):016x}>] {frame}" for frame in _alloc_frames(b)]
            for line in lines:
                k.printk_ln(KERN_WARNING, "kmemleak: " + line)
        n = len(leaks)
        k.printk_ln(KERN_INFO, f"kmemleak: {n} new suspected memory leaks "
                               f"(see /sys/kernel/debug/kmemleak)")
        task = k.current
        if task is not None:
            k._notify_fault(task, "kmemleak")
        return n

    def _contents(self, block: Block, n: int) -> bytes | None:
        """The first *n* bytes of a live block (None: it holds Python fields, not bytes)."""
        k: Any = self
        if block.c:
            return k.slab_arena.read(block.addr, n) if k.slab_arena is not None else None
        obj = block.obj
        if isinstance(obj, KBuffer):
            return bytes(obj._data[:n])
        return None


def _hex_line(data: bytes) -> str:
    """``hex_dump_to_buffer(..., rowsize 16, groupsize 1, ascii)``."""
    hexes = " ".join(f"{b:02x}" for b in data)
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)
    return f"{hexes:<49}{text}"  # the text starts at column 49 (rowsize * 3 + 1)


def _alloc_frames(block: Block) -> list[str]:
    """kmemleak's backtrace: the allocator's frames, then the caller's."""
    prefix = [_SLAB_ALLOC_FRAME] if block.kind == "slab" else []
    return prefix + block.kframes + block.alloc.trace


def _ptr_hash(addr: str) -> int:
    """``%pK`` of a backtrace entry: a stable 32-bit stand-in for the kernel's
    hashed pointer, from the symbol the entry stands for."""
    return zlib.crc32(addr.encode())
