"""KASAN's reports (``mm/kasan/report.c``, ``mm/kasan/report_generic.c``).

The generic KASAN checks every access of kernel code against shadow memory;
kernsim's allocators know the same things -- every block's bounds, and
whether it is freed (``_slab``) -- and report what KASAN would:

* an access to a freed object: ``slab-use-after-free`` (6.3+; ``use-after-free``
  before, and for memory from the page allocator), ``vmalloc-out-of-bounds``
  for a freed vmalloc area;
* an access past the end of an object: ``slab-out-of-bounds``,
  ``vmalloc-out-of-bounds``;
* a double free or a free of something never allocated: ``double-free``,
  ``invalid-free`` (``kasan_report_invalid_free``).

A report is, as ``print_report()`` prints it: the rule, the bug and the
access (``Read of size 4 at addr ... by task T/PID``), ``dump_stack_lvl()``,
the allocation and free stacks, where the address lies in the object, the
rule.  Only the first report is printed unless ``kasan_multi_shot``; after
one the kernel is tainted ``B`` and goes on.

Divergence: the physical page (``dump_page()``) and the shadow bytes ("Memory
state around the buggy address") are left out; the kernel frames of the
stacks have a 6.x SLUB kernel's names with representative offsets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._diag import TAINT_DIE, TAINT_PROPRIETARY_MODULE
from ._printk import KERN_ERR, KERN_WARNING
from ._slab import PAGE_SIZE

if TYPE_CHECKING:
    from ._slab import Block

#: A page was found bad (taint ``B``); KASAN adds it after a report.
TAINT_BAD_PAGE: Final = 5

#: KASAN's report delimiter.
KASAN_RULE: Final = "=" * 66



_KASAN_ALLOC: Final = ["kasan_save_stack+0x22/0x40", "kasan_set_track+0x25/0x30",
                       "__kasan_kmalloc+0xa2/0xb0"]
_KASAN_FREE: Final = ["kasan_save_stack+0x22/0x40", "kasan_set_track+0x25/0x30",
                      "kasan_save_free_info+0x2e/0x40", "____kasan_slab_free+0x160/0x1c0",
                      "slab_free_freelist_hook+0x8b/0x1c0", "__kmem_cache_free+0xaf/0x2d0"]
_KASAN_REPORT: Final = ["dump_stack_lvl+0x48/0x70", "print_report+0xd2/0x660"]


class Kasan:
    """KASAN's reports (a ``Kernel`` part)."""

    def _init_kasan(self, *, multi_shot: bool = False) -> None:
        #: Print every report (the ``kasan_multi_shot`` boot option), not only the first.
        self.kasan_multi_shot = multi_shot
        self.kasan_reported = False

    def _kasan_start(self) -> bool:
        """Should a report be printed (only the first, unless kasan_multi_shot)?"""
        if self.kasan_reported and not self.kasan_multi_shot:
            return False
        self.kasan_reported = True
        k: Any = self
        k.flush_log()
        k.printk_ln(KERN_ERR, KASAN_RULE)
        return True

    def _kasan_end(self) -> None:
        k: Any = self
        k.printk_ln(KERN_ERR, KASAN_RULE)
        quiet = k.test_taint(TAINT_PROPRIETARY_MODULE) or k.test_taint(TAINT_DIE) or \
            k.test_taint(TAINT_BAD_PAGE)
        k.add_taint(TAINT_BAD_PAGE)
        if not quiet:  # add_taint(TAINT_BAD_PAGE, LOCKDEP_NOW_UNRELIABLE)
            k.printk_ln(KERN_WARNING, "Disabling lock debugging due to kernel taint")
        task = k.current
        if task is not None:
            k._notify_fault(task, "kasan")

    def _kasan_stack(self, frames: list[str]) -> None:
        """``dump_stack_lvl(KERN_ERR)`` inside a report."""
        k: Any = self
        task = k.current
        k.printk_ln(KERN_ERR, k.cpu_line(task))
        k.printk_ln(KERN_ERR, k.hardware_line())
        k.print_call_trace(frames, KERN_ERR)

    def _kasan_describe(self, block: Block | None, addr: int, bug: str) -> None:
        """Who allocated and freed the object, and where the address lies in it."""
        k: Any = self
        if block is None:
            return
        if block.kind == "vmalloc":
            if not block.freed:
                caller = next((f for f in block.alloc.trace if f.endswith("]")), "0x0")
                k.printk_ln(KERN_ERR, f"The buggy address belongs to the virtual mapping at\n"
                                      f" [{block.addr:016x}, {block.addr + block.object_size + PAGE_SIZE:016x})"
                                      f" created by:\n {caller}")
                k.printk_ln(KERN_ERR, "")
            return
        if block.kind != "slab":
            return  # pages: "The buggy address belongs to the physical page:" (left out)
        for what, track, prefix in (("Allocated", block.alloc, _KASAN_ALLOC + block.kframes),
                                    ("Freed", block.free, _KASAN_FREE)):
            if track is None:
                continue
            k.printk_ln(KERN_ERR, f"{what} by task {track.pid}:")
            if track.trace:
                for frame in prefix + track.trace:
                    k.printk_ln(KERN_ERR, " " + frame)
            else:
                k.printk_ln(KERN_ERR, "(stack is not available)")
            k.printk_ln(KERN_ERR, "")
        new_format = tuple(k.kernel_version) >= (6, 3)
        # 6.3+ measures against the size asked for (a freed object: the cache's).
        size = block.size if new_format and not block.freed else block.object_size
        if addr < block.addr:
            rel = f"{block.addr - addr} bytes to the left of"
        elif addr >= block.addr + size:
            rel = f"{addr - block.addr - size} bytes to the right of"
        else:
            rel = f"{addr - block.addr} bytes inside of"
        state = ""
        if new_format:
            state = {"slab-out-of-bounds": "allocated ", "slab-use-after-free": "freed "}.get(bug, "")
        k.printk_ln(KERN_ERR, f"The buggy address belongs to the object at {block.addr:016x}\n"
                              f" which belongs to the cache {block.cache} of size {block.object_size}")
        k.printk_ln(KERN_ERR, f"The buggy address is located {rel}\n"
                              f" {state}{size}-byte region [{block.addr:016x}, {block.addr + size:016x})")
        k.printk_ln(KERN_ERR, "")

    def kasan_bug_type(self, block: Block | None, addr: int) -> str:
        """What KASAN's shadow would call an access to *addr* (``get_shadow_bug_type``)."""
        k: Any = self
        if block is None:
            return "wild-memory-access"
        if block.kind == "vmalloc":
            return "vmalloc-out-of-bounds"
        inside = block.addr <= addr < block.addr + block.object_size
        if block.freed and (inside or block.kind == "large"):
            if block.kind == "large":
                return "use-after-free"
            return "slab-use-after-free" if tuple(k.kernel_version) >= (6, 3) else "use-after-free"
        return "slab-out-of-bounds"

    def kasan_report_access(self, block: Block | None, addr: int, size: int, write: bool,
                            frames: list[str]) -> None:
        """An access KASAN's shadow forbids: a use after free or out of bounds.
        *frames*: the call trace from the accessing function down."""
        if not self._kasan_start():
            return
        k: Any = self
        task = k.current
        bug = self.kasan_bug_type(block, addr)
        where = frames[0] if frames else "0x0"
        k.printk_ln(KERN_ERR, f"BUG: KASAN: {bug} in {where}")
        access = "Write" if write else "Read"
        who = f"by task {task.comm if task else 'swapper/0'}/{task.pid if task else 0}"
        if size:
            k.printk_ln(KERN_ERR, f"{access} of size {size} at addr {addr:016x} {who}")
        else:
            k.printk_ln(KERN_ERR, f"{access} at addr {addr:016x} {who}")
        k.printk_ln(KERN_ERR, "")
        self._kasan_stack(_KASAN_REPORT + ["kasan_report+0xd7/0x110"] + frames)
        k.printk_ln(KERN_ERR, "")
        self._kasan_describe(block, addr, bug)
        self._kasan_end()

    def kasan_report_invalid_free(self, block: Block | None, addr: int, frames: list[str]) -> None:
        """``kasan_report_invalid_free``: a double free (*block* freed) or a free
        of something that was never allocated (*block* None)."""
        if not self._kasan_start():
            return
        k: Any = self
        task = k.current
        double = block is not None and block.freed
        bug = "double-free" if double else "invalid-free"
        free_site = _KASAN_FREE[-1]
        k.printk_ln(KERN_ERR, f"BUG: KASAN: {bug} in {free_site}")
        k.printk_ln(KERN_ERR, f"Free of addr {addr:016x} by task "
                              f"{task.comm if task else 'swapper/0'}/{task.pid if task else 0}")
        k.printk_ln(KERN_ERR, "")
        self._kasan_stack(_KASAN_REPORT + ["kasan_report_invalid_free+0xe8/0x100",
                                           "____kasan_slab_free+0x185/0x1c0",
                                           "slab_free_freelist_hook+0x8b/0x1c0", free_site] + frames)
        k.printk_ln(KERN_ERR, "")
        self._kasan_describe(block, addr, bug)
        self._kasan_end()
