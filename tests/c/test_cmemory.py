"""Memory for C modules (kernsim/_core/_slab.py, kernsim/cmodule/memory.py):
kmalloc & co. give real memory; a module that frees what it allocates gets no
report; what it leaves allocated is reported by kmemleak when it is removed;
a double free, a use after free and an access past the end of a block are
reported as KASAN reports them, and the module goes on.

The expected texts follow mm/kasan/report.c and mm/kmemleak.c of 6.7 (see
the module docstring of _slab for what kernsim leaves out)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import Run, run_file
from kernsim import kbuild

KASAN_RULE = "=" * 66


def build(tmp_path: Path, source: str, name: str = "mem") -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text("#include <linux/module.h>\n#include <linux/kernel.h>\n#include <linux/kthread.h>\n"
                   "#include <linux/delay.h>\n#include <linux/slab.h>\n#include <linux/vmalloc.h>\n"
                   "MODULE_LICENSE(\"GPL\");\n" + textwrap.dedent(source))
    return kbuild.build_file(src, echo=lambda line: None).modules[0]


def report(run: Run, first: str) -> list[str]:
    """The lines of the KASAN report whose BUG line starts with *first*
    (records with several lines split), rule to rule."""
    texts = run.texts
    i = next(i for i, t in enumerate(texts) if t.startswith(first))
    assert texts[i - 1] == KASAN_RULE
    j = texts.index(KASAN_RULE, i)
    return [line for t in texts[i:j] for line in t.split("\n")]


def test_a_module_that_frees_what_it_allocates_gets_no_report(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        struct item { int value; struct item *next; };
        static struct item *head;
        static char *name;
        static int *numbers;
        static void *big, *area, *kv;
        static int __init mem_init(void)
        {
            int i;
            for (i = 0; i < 3; i++) {
                struct item *it = kzalloc(sizeof(*it), GFP_KERNEL);
                if (!it)
                    return -ENOMEM;
                it->value = i;
                it->next = head;
                head = it;
            }
            name = kstrdup("kernsim", GFP_KERNEL);
            numbers = kcalloc(4, sizeof(int), GFP_KERNEL);
            numbers[3] = 7;
            numbers = krealloc(numbers, 100 * sizeof(int), GFP_KERNEL);
            numbers[99] = 9;
            big = kmalloc(100000, GFP_KERNEL);
            memset(big, 0xab, 100000);
            area = vzalloc(3 * PAGE_SIZE);
            ((char *)area)[3 * PAGE_SIZE - 1] = 1;
            kv = kvmalloc(8 << 20, GFP_KERNEL);
            pr_info("%s %d %d %d zeroed=%d aligned=%d kv=%d ksize=%zu\\n", name, head->value,
                    numbers[3], numbers[99], ((char *)area)[0] == 0,
                    ((unsigned long)area & (PAGE_SIZE - 1)) == 0, kv != NULL, ksize(name));
            {
                char small[4];
                long r = strscpy(small, name, sizeof(small));
                pr_info("strscpy %ld %s %zu\\n", r, small, strlen(name));
            }
            return 0;
        }
        static void __exit mem_exit(void)
        {
            while (head) {
                struct item *next = head->next;
                kfree(head);
                head = next;
            }
            kfree(name);
            kfree(numbers);
            kfree(big);
            vfree(area);
            kvfree(kv);
            kfree(NULL);
            vfree(NULL);
            kfree(kmalloc(0, GFP_KERNEL));
            pr_info("all freed\\n");
        }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "kernsim 2 7 9 zeroed=1 aligned=1 kv=1 ksize=8" in run.texts
    assert "strscpy -7 ker 7" in run.texts  # -E2BIG: truncated
    assert run.texts[-1] == "all freed"
    assert not any("KASAN" in t or "kmemleak" in t or "WARNING" in t for t in run.texts)
    assert run.result.exit_code == 0 and run.stderr == []


def test_kmalloc_of_zero_and_of_too_much(tmp_path: Path) -> None:
    """mm/slab_common.c: kmalloc(0) is ZERO_SIZE_PTR; above KMALLOC_MAX_SIZE the
    page allocator refuses the order with one WARNING (none with __GFP_NOWARN);
    kcalloc's overflow is NULL without a word."""
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            void *z = kmalloc(0, GFP_KERNEL);
            pr_info("zero %px %d %d\\n", z, ZERO_OR_NULL_PTR(z), ZERO_OR_NULL_PTR(NULL));
            pr_info("max %d\\n", kmalloc(KMALLOC_MAX_SIZE, GFP_KERNEL | __GFP_NOWARN) != NULL);
            pr_info("huge %px\\n", kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL));
            pr_info("again %px\\n", kzalloc(1UL << 40, GFP_KERNEL));
            pr_info("calloc %px\\n", kcalloc(~0UL / 2, 4, GFP_KERNEL));
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    texts = run.texts
    assert "zero 0000000000000010 1 1" in texts
    assert "max 1" in texts
    assert [t for t in texts if t.startswith("WARNING:")] == [
        "WARNING: CPU: 0 PID: 100 at mm/page_alloc.c:4543 __alloc_pages+0x2a9/0x330"]
    i = texts.index("Call Trace:", texts.index("RIP: 0010:__alloc_pages+0x2a9/0x330"))
    assert texts[i + 2:i + 4] == [" __kmalloc_large_node+0x6e/0xe0", " kmalloc_large+0x19/0xa0"]
    assert texts[i + 4].startswith(" mem_init+0x") and texts[i + 4].endswith(" [mem]")
    assert ["huge 0000000000000000", "again 0000000000000000", "calloc 0000000000000000"] == \
        [t for t in texts if t.startswith(("huge", "again", "calloc"))]
    # The max block was never freed: kmemleak says so when the module goes.
    assert "kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)" in texts


def test_blocks_left_allocated_are_reported_by_kmemleak_at_rmmod(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static char *buf;
        static int __init mem_init(void)
        {
            buf = kmalloc(20, GFP_KERNEL);
            strcpy(buf, "leaked bytes here!");
            vmalloc(5000);
            return 0;
        }
        static void __exit mem_exit(void) { pr_info("exit without kfree\\n"); }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=6)
    after = run.after("exit without kfree")
    assert after[0] == "kmemleak: unreferenced object 0x688800001fe8 (size 32):"
    assert after[1] == 'kmemleak:   comm "insmod", pid 100, jiffies 4294892546 (age 6.000s)'
    assert after[2:5] == [
        "kmemleak:   hex dump (first 32 bytes):",
        "kmemleak:     6c 65 61 6b 65 64 20 62 79 74 65 73 20 68 65 72  leaked bytes her",
        "kmemleak:     65 21 00 00 00 00 00 00 00 00 00 00 00 00 00 00  e!..............",
    ]
    assert after[5] == "kmemleak:   backtrace:"
    frames = [line.split("] ", 1)[1] for line in after[6:10]]
    assert frames[:2] == ["__kmem_cache_alloc_node+0x1e4/0x2e0", "kmalloc_trace+0x26/0x90"]
    assert frames[2].startswith("mem_init+0x") and frames[2].endswith(" [mem]")
    assert frames[3].startswith("do_one_initcall+")
    assert after[6].startswith("kmemleak:     [<00000000")
    vm = after.index("kmemleak: unreferenced object 0x688800003000 (size 8192):")
    assert after[vm + 5] == "kmemleak:   backtrace:"
    assert after[vm + 6].endswith("] __vmalloc_node_range+0x3c3/0x880")
    assert after[-1] == "kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)"
    assert run.stderr == ["kernsim: the kernel reported memory leaks (see the log above)"]
    assert run.result.exit_code == 1


def test_a_failed_init_leaks_what_it_allocated(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            kzalloc(64, GFP_KERNEL);
            return -ENODEV;
        }
        module_init(mem_init);
    """)
    run = run_file(ko, seconds=1)
    assert "kmemleak: unreferenced object 0x688800001fc0 (size 64):" in run.texts
    assert any("could not insert module" in line for line in run.stderr)


def test_a_double_free_is_reported_and_ignored(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int drops;
        static noinline void drop(char *p)
        {
            kfree(p);
            drops++;
        }
        static int __init mem_init(void)
        {
            char *p = kmalloc(64, GFP_KERNEL);
            drop(p);
            drop(p);
            pr_info("still here %d\\n", drops);
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    lines = report(run, "BUG: KASAN: double-free")
    assert lines[0] == "BUG: KASAN: double-free in __kmem_cache_free+0xaf/0x2d0"
    assert lines[1] == "Free of addr 0000688800001fc0 by task insmod/100"
    assert lines[2] == ""
    assert lines[3].startswith("CPU: 0 PID: 100 Comm: insmod Tainted: G           OE")
    trace = lines[lines.index(" <TASK>") + 1:lines.index(" </TASK>")]
    assert trace[:6] == [" dump_stack_lvl+0x48/0x70", " print_report+0xd2/0x660",
                         " kasan_report_invalid_free+0xe8/0x100", " ____kasan_slab_free+0x185/0x1c0",
                         " slab_free_freelist_hook+0x8b/0x1c0", " __kmem_cache_free+0xaf/0x2d0"]
    assert trace[6].startswith(" drop+0x") and trace[7].startswith(" mem_init+0x")
    assert "Allocated by task 100:" in lines and "Freed by task 100:" in lines
    freed = lines[lines.index("Freed by task 100:"):]
    assert freed[6] == " __kmem_cache_free+0xaf/0x2d0" and freed[7].startswith(" drop+0x")
    assert lines[-5:] == ["The buggy address belongs to the object at 0000688800001fc0",
                          " which belongs to the cache kmalloc-64 of size 64",
                          "The buggy address is located 0 bytes inside of",
                          " 64-byte region [0000688800001fc0, 0000688800002000)", ""]
    after = run.after(KASAN_RULE)
    after = after[after.index(KASAN_RULE) + 1:]
    assert after[:2] == ["Disabling lock debugging due to kernel taint", "still here 2"]
    assert run.result.exit_code == 1
    assert run.stderr == ["kernsim: the kernel reported 1 fault in module code (see the log above)"]


def test_a_use_after_free_reads_the_old_value_after_the_report(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        struct item { int value; int other; };
        static struct item *it;
        static struct task_struct *t;
        static int user_fn(void *data)
        {
            int v;
            kfree(it);
            v = it->other;
            pr_info("read after free: %d\\n", v);
            while (!kthread_should_stop())
                msleep(100);
            return 0;
        }
        static int __init mem_init(void)
        {
            it = kmalloc(sizeof(*it), GFP_KERNEL);
            it->value = 1;
            it->other = 42;
            t = kthread_run(user_fn, NULL, "user");
            return 0;
        }
        static void __exit mem_exit(void) { kthread_stop(t); }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    lines = report(run, "BUG: KASAN:")
    assert lines[0].startswith("BUG: KASAN: slab-use-after-free in user_fn+0x")
    assert lines[0].endswith(" [mem]")
    assert lines[1] == "Read of size 4 at addr 0000688800001ffc by task user/101"
    trace = lines[lines.index(" <TASK>") + 1:lines.index(" </TASK>")]
    assert trace[2] == " kasan_report+0xd7/0x110"
    assert trace[3] == " " + lines[0].split(" in ")[1]
    assert trace[4:] == [" kthread+0xda/0x100", " ret_from_fork+0x31/0x50", " ret_from_fork_asm+0x1b/0x30"]
    alloc = lines[lines.index("Allocated by task 100:") + 1:]
    assert alloc[:4] == [" kasan_save_stack+0x22/0x40", " kasan_set_track+0x25/0x30",
                         " __kasan_kmalloc+0xa2/0xb0", " kmalloc_trace+0x26/0x90"]
    assert alloc[4].startswith(" mem_init+0x")
    freed = lines[lines.index("Freed by task 101:") + 1:]
    assert freed[6].startswith(" user_fn+0x") and freed[7] == " kthread+0xda/0x100"
    assert lines[-5:-1] == ["The buggy address belongs to the object at 0000688800001ff8",
                            " which belongs to the cache kmalloc-8 of size 8",
                            "The buggy address is located 4 bytes inside of",
                            " freed 8-byte region [0000688800001ff8, 0000688800002000)"]
    assert "read after free: 42" in run.texts  # KASAN reports, and the access is made
    assert run.result.exit_code == 1


def test_an_access_past_the_end_is_slab_out_of_bounds(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            char *p = kmalloc(24, GFP_KERNEL);
            int i;
            for (i = 0; i <= 24; i++)
                p[i] = 'x';
            kfree(p);
            WARN_ON(1);
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    lines = report(run, "BUG: KASAN:")
    assert lines[0].startswith("BUG: KASAN: slab-out-of-bounds in mem_init+0x")
    assert lines[1] == "Write of size 1 at addr 0000688800002000 by task insmod/100"
    assert "Freed by task 100:" not in lines
    assert lines[-5:-1] == ["The buggy address belongs to the object at 0000688800001fe8",
                            " which belongs to the cache kmalloc-32 of size 32",
                            "The buggy address is located 0 bytes to the right of",
                            " allocated 24-byte region [0000688800001fe8, 0000688800002000)"]
    # KASAN taints the kernel B ("bad page") after its report.
    assert any(t.startswith("CPU: 0 PID: 100 Comm: insmod Tainted: G    B   W  OE")
               or t.startswith("CPU: 0 PID: 100 Comm: insmod Tainted: G    B      OE")
               for t in run.texts[run.texts.index(KASAN_RULE, run.texts.index(lines[0])):])


def test_only_the_first_kasan_report_is_printed_unless_multi_shot(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            char *p = kmalloc(16, GFP_KERNEL);
            char *q = kmalloc(16, GFP_KERNEL);
            kfree(p);
            kfree(q);
            p[1] = 1;
            q[2] = 2;
            kfree(p);
            pr_info("done\\n");
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    one = run_file(ko, seconds=1)
    assert sum(t.startswith("BUG: KASAN:") for t in one.texts) == 1
    every = run_file(ko, seconds=1, kasan_multi_shot=True)
    bugs = [t.split(" in ")[0] for t in every.texts if t.startswith("BUG: KASAN:")]
    assert bugs == ["BUG: KASAN: slab-use-after-free", "BUG: KASAN: slab-use-after-free",
                    "BUG: KASAN: double-free"]
    assert "Write of size 1 at addr 0000688800003ff2 by task insmod/100" in every.texts
    assert every.texts.count("Disabling lock debugging due to kernel taint") == 1
    assert every.texts[-1] == "done"


def test_vmalloc_areas_end_at_a_guard_page(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            char *v = vmalloc(100);
            v[PAGE_SIZE] = 1;
            vfree(v);
            vfree(v);
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    lines = report(run, "BUG: KASAN:")
    assert lines[0].startswith("BUG: KASAN: vmalloc-out-of-bounds in mem_init+0x")
    assert lines[1] == "Write of size 1 at addr 0000688800002000 by task insmod/100"
    i = lines.index("The buggy address belongs to the virtual mapping at")
    assert lines[i + 1] == " [0000688800001000, 0000688800003000) created by:"
    assert lines[i + 2].startswith(" mem_init+0x")
    assert "Trying to vfree() nonexistent vm area (" in "\n".join(run.texts)
    assert any(t.startswith("WARNING: CPU: 0 PID: 100 at mm/vmalloc.c:") for t in run.texts)


def test_kernel_code_touching_freed_memory_is_reported_in_the_call(tmp_path: Path) -> None:
    """wake_up() of a wait queue inside a freed structure: the kernel's own
    read of the freed memory is what KASAN reports, in the function called."""
    ko = build(tmp_path, """
        #include <linux/wait.h>
        struct dev { int flag; wait_queue_head_t wq; };
        static int __init mem_init(void)
        {
            struct dev *d = kzalloc(sizeof(*d), GFP_KERNEL);
            init_waitqueue_head(&d->wq);
            kfree(d);
            wake_up(&d->wq);
            pr_info("woke a freed queue\\n");
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    lines = report(run, "BUG: KASAN:")
    assert lines[0].startswith("BUG: KASAN: slab-use-after-free in __wake_up+0x")
    trace = lines[lines.index(" <TASK>") + 1:lines.index(" </TASK>")]
    assert trace[3].startswith(" __wake_up+0x") and trace[4].startswith(" mem_init+0x")
    assert "woke a freed queue" in run.texts


def test_an_access_through_zero_size_ptr_is_a_page_fault_at_16(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            char *p = kmalloc(0, GFP_KERNEL);
            p[0] = 1;
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000010" in run.texts
    assert "#PF: supervisor write access in kernel mode" in run.texts
    assert run.stderr[0] == "Killed"


def test_runs_print_the_same_addresses_every_time(tmp_path: Path) -> None:
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            void *a = kmalloc(40, GFP_KERNEL), *b = vmalloc(1);
            pr_info("%px %px\\n", a, b);
            kfree(a);
            vfree(b);
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    first, second = run_file(ko, seconds=1), run_file(ko, seconds=1)
    assert "0000688800001fd8 0000688800003000" in first.texts
    assert first.lines == second.lines


@pytest.mark.parametrize("code,size", [
    (b"\x90", 0),                      # nop: not an access it knows
    (b"\x0f\xb6\x07", 1),              # movzbl (%rdi),%eax
    (b"\x66\x89\x07", 2),              # mov %ax,(%rdi)
    (b"\x8b\x47\x04", 4),              # mov 0x4(%rdi),%eax
    (b"\x48\x8b\x07", 8),              # mov (%rdi),%rax
    (b"\xc6\x04\x07\x78", 1),          # movb $0x78,(%rdi,%rax)
])
def test_the_access_size_comes_from_the_instruction(code: bytes, size: int) -> None:
    from kernsim.cmodule.memory import access_size

    assert access_size(code) == size


def test_once_guard_pages_run_out_blocks_are_packed_unchecked(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A process may have only so many mappings (vm.max_map_count, 65530),
    and each open block is one: past that, blocks share open chunks, without
    guard pages -- the module goes on, only those blocks' accesses go unchecked."""
    from kernsim.cmodule import memory

    real = memory.CArena.protect
    monkeypatch.setattr(memory.CArena, "protect",
                        lambda self, addr, length, rw: real(self, addr, length, rw)
                        if length >= memory.PACKED_CHUNK or not rw else False)
    ko = build(tmp_path, """
        static int __init mem_init(void)
        {
            char *a = kmalloc(24, GFP_KERNEL), *b = kmalloc(100, GFP_KERNEL);
            char *v = vmalloc(10);
            a[0] = 'a';
            b[99] = 'b';
            v[9] = 'v';
            pr_info("%px %px %px %c%c%c\\n", a, b, v, a[0], b[99], v[9]);
            kfree(a);
            a[1] = 1;  /* not seen */
            kfree(b);
            kfree(b);  /* still a double free: the books say so */
            vfree(v);
            return 0;
        }
        static void __exit mem_exit(void) { }
        module_init(mem_init); module_exit(mem_exit);
    """)
    run = run_file(ko, seconds=1)
    assert "0000688800003000 0000688800003080 0000688800004000 abv" in run.texts
    assert [t for t in run.texts if t.startswith("BUG: KASAN:")] == [
        "BUG: KASAN: double-free in __kmem_cache_free+0xaf/0x2d0"]
