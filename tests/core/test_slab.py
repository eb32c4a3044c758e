"""The allocators for Python modules (kernsim/_core/_slab.py) and the twins of
tests/c/test_cmemory.py: the same reports, taught with Python modules.

A Python module's kmalloc(n) is a KBuffer of n bytes; kmalloc(sizeof(T)) is
a new T().  Leaks, double frees, uses after free and accesses out of bounds
are reported as the C modules' are (KASAN's and kmemleak's words)."""

from __future__ import annotations

from typing import Callable

import pytest

from conftest import Run, in_kernel
from kernsim._core._slab import KBuffer, format_gfp, get_order, kmalloc_cache
from kernsim.linux import (
    GFP_ATOMIC,
    GFP_KERNEL,
    KMALLOC_MAX_SIZE,
    ZERO_OR_NULL_PTR,
    ZERO_SIZE_PTR,
    __GFP_NOWARN,
    __GFP_ZERO,
    kcalloc,
    kfree,
    kmalloc,
    kstrdup,
    ksize,
    krealloc,
    kvfree,
    kvmalloc,
    kzalloc,
    sizeof,
    vfree,
    vmalloc,
)

KASAN_RULE = "=" * 66
RunSource = Callable[..., Run]


def names(frames: list[str]) -> list[str]:
    """``fn+0x25/0x60 [mod]`` -> ``fn [mod]`` (offsets follow line numbers)."""
    return [f.split("+")[0].strip() + (" [" + f.rsplit(" [", 1)[1] if f.endswith("]") else "")
            for f in frames]


def report(run: Run, first: str) -> list[str]:
    texts = run.texts
    i = next(i for i, t in enumerate(texts) if t.startswith(first))
    assert texts[i - 1] == KASAN_RULE
    j = texts.index(KASAN_RULE, i)
    return [line for t in texts[i:j] for line in t.split("\n")]


# -- the pieces ---------------------------------------------------------------------

@pytest.mark.parametrize("size,cache", [(1, ("kmalloc-8", 8)), (24, ("kmalloc-32", 32)),
                                        (65, ("kmalloc-96", 96)), (100, ("kmalloc-128", 128)),
                                        (129, ("kmalloc-192", 192)), (200, ("kmalloc-256", 256)),
                                        (1025, ("kmalloc-2k", 2048)), (8192, ("kmalloc-8k", 8192))])
def test_kmalloc_caches_are_slubs(size: int, cache: tuple[str, int]) -> None:
    assert kmalloc_cache(size) == cache


def test_gfp_flags_and_how_the_kernel_prints_them() -> None:
    assert (GFP_KERNEL, GFP_ATOMIC) == (0xCC0, 0x820)   # 6.3+: no __GFP_ATOMIC bit
    assert format_gfp(GFP_KERNEL) == "GFP_KERNEL"        # the oracle: mode:0xcc0(GFP_KERNEL)
    assert format_gfp(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN) == "GFP_KERNEL|__GFP_NOWARN|__GFP_ZERO"
    assert format_gfp(GFP_ATOMIC) == "GFP_ATOMIC"
    assert (get_order(4096), get_order(4097), get_order(KMALLOC_MAX_SIZE)) == (0, 1, 10)


def test_what_kmalloc_returns_to_python_code() -> None:
    class Item:
        value = 0
        next = None

    def body() -> list[object]:
        buf = kzalloc(10, GFP_KERNEL)
        buf[0:3] = b"abc"
        big = kvmalloc(KMALLOC_MAX_SIZE * 2, GFP_KERNEL)
        grown = krealloc(buf, 20, GFP_KERNEL)
        it = kmalloc(sizeof(Item), GFP_KERNEL)
        items = kcalloc(3, sizeof(Item), GFP_KERNEL)
        name = kstrdup("hi", GFP_KERNEL)
        out = [len(grown), bytes(grown[0:4]), type(it).__name__, len(items), str(name), ksize(name),
               int(sizeof(Item)), kmalloc(0, GFP_KERNEL) is ZERO_SIZE_PTR,
               ZERO_OR_NULL_PTR(ZERO_SIZE_PTR), ZERO_OR_NULL_PTR(None), ZERO_OR_NULL_PTR(grown),
               kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL | __GFP_NOWARN),
               kcalloc(1 << 62, 8, GFP_KERNEL), vmalloc(1 << 40) is None, len(big)]
        for p in (grown, it, items, name):
            kfree(p)
        kvfree(big)
        kfree(None)
        kfree(ZERO_SIZE_PTR)
        return out

    out, k = in_kernel(body)
    assert out == [20, b"abc\0", "Item", 3, "hi", 8, 16, True, True, True, False, None, None, True,
                   2 * KMALLOC_MAX_SIZE]
    texts = [r.text for r in k.log_records()]
    assert any(t.startswith("test: vmalloc error: size 1099511627776, exceeds total pages, "
                            "mode:0xcc0(GFP_KERNEL)") for t in texts)
    assert not any("KASAN" in t for t in texts)


def test_kbuffer_indexes_are_c_indexes(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        def init():
            buf = kmalloc(4, GFP_KERNEL)
            buf[3] = 0x41
            pr_info("%d %d %d\\n", buf[3], len(buf), buf[-1])
            kfree(buf)
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, seconds=1, kasan_multi_shot=True)
    lines = report(run, "BUG: KASAN:")
    assert names([lines[0].split(" in ")[1]]) == ["init [mod]"]
    assert lines[0].startswith("BUG: KASAN: slab-out-of-bounds in ")
    assert lines[1] == "Read of size 1 at addr ffff8880ffffffff by task insmod/100"
    assert lines[-3:-1] == ["The buggy address is located 1 bytes to the left of",
                            " allocated 4-byte region [ffff888100000000, ffff888100000004)"]


# -- the twins of the C modules' tests -----------------------------------------------

def test_a_module_that_frees_what_it_allocates_gets_no_report(run_source: RunSource) -> None:
    run = run_source("""
        from dataclasses import dataclass
        MODULE_LICENSE("GPL")

        @dataclass
        class Item:
            value: int = 0
            next: object = None

        head = None
        name = None

        def init():
            global head, name
            for i in range(3):
                it = kzalloc(sizeof(Item), GFP_KERNEL)
                if not it:
                    return -ENOMEM
                it.value = i
                it.next = head
                head = it
            name = kstrdup("kernsim", GFP_KERNEL)
            pr_info("%s %d\\n", name, head.value)
            return 0

        def exit():
            global head
            while head:
                nxt = head.next
                kfree(head)
                head = nxt
            kfree(name)
            pr_info("all freed\\n")

        module_init(init)
        module_exit(exit)
    """, seconds=1)
    assert "kernsim 2" in run.texts and run.texts[-1] == "all freed"
    assert not any("KASAN" in t or "kmemleak" in t for t in run.texts)
    assert run.result.exit_code == 0 and run.stderr == []


def test_blocks_left_allocated_are_reported_by_kmemleak_at_rmmod(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        class Item:
            value = 0
        buf = None
        def init():
            global buf
            buf = kmalloc(20, GFP_KERNEL)
            buf[0:18] = b"leaked bytes here!"
            kmalloc(sizeof(Item), GFP_KERNEL)
            return 0
        def exit():
            pr_info("exit without kfree\\n")
        module_init(init)
        module_exit(exit)
    """, seconds=6)
    after = run.after("exit without kfree")
    assert after[:8] == [
        "kmemleak: unreferenced object 0xffff888100000000 (size 32):",
        'kmemleak:   comm "insmod", pid 100, jiffies 4294892546 (age 6.000s)',
        "kmemleak:   hex dump (first 32 bytes):",
        "kmemleak:     6c 65 61 6b 65 64 20 62 79 74 65 73 20 68 65 72  leaked bytes her",
        "kmemleak:     65 21 00 00 00 00 00 00 00 00 00 00 00 00 00 00  e!..............",
        "kmemleak:   backtrace:",
        "kmemleak:     [<0000000076caf0a7>] __kmem_cache_alloc_node+0x1e4/0x2e0",
        "kmemleak:     [<00000000afdc212a>] kmalloc_trace+0x26/0x90",
    ]
    assert names([after[8].split("] ", 1)[1]]) == ["init [mod]"]
    # A Python object's fields are not bytes: no hex dump for it.
    i = after.index("kmemleak: unreferenced object 0xffff888100000020 (size 8):")
    assert after[i + 2] == "kmemleak:   backtrace:"
    assert after[-1] == "kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)"
    assert run.stderr == ["kernsim: the kernel reported memory leaks (see the log above)"]
    assert run.result.exit_code == 1


def test_a_double_free_is_reported_and_ignored(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        def drop(p):
            kfree(p)
        def init():
            p = kmalloc(64, GFP_KERNEL)
            drop(p)
            drop(p)
            pr_info("still here\\n")
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, seconds=1)
    lines = report(run, "BUG: KASAN:")
    assert lines[:2] == ["BUG: KASAN: double-free in __kmem_cache_free+0xaf/0x2d0",
                         "Free of addr ffff888100000000 by task insmod/100"]
    trace = lines[lines.index(" <TASK>") + 1:lines.index(" </TASK>")]
    assert names(trace[6:8]) == ["drop [mod]", "init [mod]"]
    freed = lines[lines.index("Freed by task 100:") + 1:]
    assert names(freed[6:8]) == ["drop [mod]", "init [mod]"]
    assert trace[6] == freed[6]  # drop's kfree, both times
    assert lines[-5:-1] == ["The buggy address belongs to the object at ffff888100000000",
                            " which belongs to the cache kmalloc-64 of size 64",
                            "The buggy address is located 0 bytes inside of",
                            " 64-byte region [ffff888100000000, ffff888100000040)"]
    assert run.texts[-2:] == ["Disabling lock debugging due to kernel taint", "still here"]
    assert run.result.exit_code == 1


def test_a_use_after_free_of_an_object_is_reported_then_made(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        class Item:
            value = 0
            other = 0
        it = None
        t = None
        def user_fn(data):
            kfree(it)
            pr_info("read after free: %d\\n", it.other)
            while not kthread_should_stop():
                msleep(100)
            return 0
        def init():
            global it, t
            it = kmalloc(sizeof(Item), GFP_KERNEL)
            it.other = 42
            t = kthread_run(user_fn, None, "user")
            return 0
        def exit():
            kthread_stop(t)
        module_init(init)
        module_exit(exit)
    """, seconds=1)
    lines = report(run, "BUG: KASAN:")
    assert lines[0].startswith("BUG: KASAN: slab-use-after-free in user_fn+0x")
    assert lines[1] == "Read of size 8 at addr ffff888100000008 by task user/101"
    trace = lines[lines.index(" <TASK>") + 1:lines.index(" </TASK>")]
    assert trace[3] == " " + lines[0].split(" in ")[1]
    assert names(trace[3:]) == ["user_fn [mod]", "kthread", "ret_from_fork", "ret_from_fork_asm"]
    assert names([lines[lines.index("Allocated by task 100:") + 5]]) == ["init [mod]"]
    assert names([lines[lines.index("Freed by task 101:") + 7]]) == ["user_fn [mod]"]
    assert lines[-5:-1] == ["The buggy address belongs to the object at ffff888100000000",
                            " which belongs to the cache kmalloc-16 of size 16",
                            "The buggy address is located 8 bytes inside of",
                            " freed 16-byte region [ffff888100000000, ffff888100000010)"]
    assert "read after free: 42" in run.texts


def test_a_kbuffer_read_after_free_and_past_its_end(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        def init():
            p = kmalloc(24, GFP_KERNEL)
            q = kmalloc(24, GFP_KERNEL)
            p[24] = 1
            kfree(q)
            pr_info("%d\\n", q[0])
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, seconds=1, kasan_multi_shot=True)
    oob = report(run, "BUG: KASAN: slab-out-of-bounds")
    assert oob[1] == "Write of size 1 at addr ffff888100000018 by task insmod/100"
    assert oob[-3:-1] == ["The buggy address is located 0 bytes to the right of",
                          " allocated 24-byte region [ffff888100000000, ffff888100000018)"]
    uaf = report(run, "BUG: KASAN: slab-use-after-free")
    assert uaf[1] == "Read of size 1 at addr ffff888100000020 by task insmod/100"
    assert "Disabling lock debugging due to kernel taint" in run.texts


def test_kmalloc_of_too_much_warns_once_and_returns_none(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        def init():
            pr_info("%px %px\\n", kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL), kzalloc(1 << 40, GFP_KERNEL))
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, seconds=1)
    assert [t for t in run.texts if t.startswith("WARNING:")] == [
        "WARNING: CPU: 0 PID: 100 at mm/page_alloc.c:4543 __alloc_pages+0x2a9/0x330"]
    assert "0000000000000000 0000000000000000" in run.texts


def test_an_access_through_zero_size_ptr_is_a_page_fault_at_16(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        def init():
            p = kmalloc(0, GFP_KERNEL)
            p[0] = 1
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, seconds=1)
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000010" in run.texts
    assert "#PF: supervisor write access in kernel mode" in run.texts


def test_vfree_of_what_vmalloc_did_not_return_warns(run_source: RunSource) -> None:
    run = run_source("""
        MODULE_LICENSE("GPL")
        def init():
            v = vmalloc(100)
            vfree(v)
            vfree(v)
            return 0
        module_init(init)
        module_exit(lambda: None)
    """, seconds=1)
    i = run.texts.index("------------[ cut here ]------------")
    assert run.texts[i + 1].startswith("Trying to vfree() nonexistent vm area (00000000")
    assert run.texts[i + 2].startswith("WARNING: CPU: 0 PID: 100 at mm/vmalloc.c:")
    assert run.result.records[i + 1].level == 3  # WARN(1, KERN_ERR "...")


def test_kernsim_run_kasan_multi_shot(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from kernsim.cli import main

    src = tmp_path / "twice.py"
    src.write_text("from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
                   "def init():\n    p = kmalloc(8, GFP_KERNEL)\n    kfree(p)\n    kfree(p)\n"
                   "    kfree(p)\n    return 0\nmodule_init(init)\nmodule_exit(lambda: None)\n")
    assert main(["run", str(src), "--for", "1"]) == 1
    assert capsys.readouterr().out.count("BUG: KASAN: double-free") == 1
    assert main(["run", str(src), "--for", "1", "--kasan-multi-shot"]) == 1
    out, err = capsys.readouterr()
    assert out.count("BUG: KASAN: double-free") == 2
    assert "kernsim: the kernel reported 2 faults in module code (see the log above)" in err
