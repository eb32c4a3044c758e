"""Locks and atomics from C (linux/mutex.h, linux/spinlock.h, linux/atomic.h):
each C module runs as its Python twin does -- the same lines at the same
times, the same scheduling decisions under the random policy, and the same
misuse reports (frame offsets aside: C's are the compiler's)."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import Run, run_file
from kernsim import kbuild
from kernsim._core import _spinlock
from kernsim._core._policy import RandomPolicy
from kernsim.cmodule.runtime import runtime

C_HEADER = """\
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
MODULE_LICENSE("GPL");
"""
PY_HEADER = 'from kernsim.linux import *\nMODULE_LICENSE("GPL")\n'


def twin(tmp_path: Path, c_source: str, py_source: str, name: str = "mod") -> tuple[Path, Path]:
    """Build the C module and write its Python twin, both named *name*."""
    (tmp_path / "c").mkdir(exist_ok=True)
    (tmp_path / "py").mkdir(exist_ok=True)
    src = tmp_path / "c" / f"{name}.c"
    src.write_text(C_HEADER + textwrap.dedent(c_source))
    ko = kbuild.build_file(src, echo=lambda line: None).modules[0]
    py = tmp_path / "py" / f"{name}.py"
    py.write_text(PY_HEADER + textwrap.dedent(py_source))
    return ko, py


def normalized(run: Run) -> list[str]:
    """The dmesg lines with code offsets and addresses taken out."""
    out = []
    for line in run.lines:
        line = re.sub(r"\+0x[0-9a-f]+/0x[0-9a-f]+", "+X", line)
        out.append(re.sub(r"\[<[0-9a-f]{16}>\]", "[<X>]", line))
    return out


CONTENDED_C = """
static DEFINE_MUTEX(m);
static DEFINE_SPINLOCK(s);
static atomic_t count = ATOMIC_INIT(0);
static struct task_struct *threads[3];

static int fn(void *data)
{
	unsigned long flags;
	int i;

	for (i = 0; i < 20; i++) {
		spin_lock_irqsave(&s, flags);
		atomic_inc(&count);
		mutex_is_locked(&m);	/* a kernel call: a scheduling point inside */
		spin_unlock_irqrestore(&s, flags);
	}
	for (i = 0; i < 4; i++) {
		mutex_lock(&m);
		pr_info("%s has m (%d)\\n", current->comm, i);
		msleep(1);
		mutex_unlock(&m);
	}
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static int __init c_init(void)
{
	int n, r;

	r = mutex_trylock(&m);
	pr_info("trylock %d\\n", r);
	r = mutex_is_locked(&m);
	pr_info("locked %d owner set %d\\n", r, m.owner.counter != 0);
	r = mutex_trylock(&m);
	pr_info("trylock again %d\\n", r);
	mutex_unlock(&m);
	spin_lock_bh(&s);
	r = spin_trylock(&s);
	pr_info("spin locked %d trylock %d\\n", spin_is_locked(&s), r);
	spin_unlock_bh(&s);
	pr_info("spin locked %d\\n", spin_is_locked(&s));
	for (n = 0; n < 3; n++)
		threads[n] = kthread_run(fn, NULL, "w%d", n);
	return 0;
}

static void __exit c_exit(void)
{
	int n;

	for (n = 0; n < 3; n++)
		kthread_stop(threads[n]);
	pr_info("count %d locked %d\\n", atomic_read(&count), mutex_is_locked(&m));
}
module_init(c_init);
module_exit(c_exit);
"""

CONTENDED_PY = """
m = DEFINE_MUTEX("m")
s = DEFINE_SPINLOCK("s")
count = ATOMIC_INIT(0)
threads = []

def fn(data):
    for i in range(20):
        flags = spin_lock_irqsave(s)
        atomic_inc(count)
        mutex_is_locked(m)      # a kernel call: a scheduling point inside
        spin_unlock_irqrestore(s, flags)
    for i in range(4):
        mutex_lock(m)
        pr_info("%s has m (%d)\\n", current.comm, i)
        msleep(1)
        mutex_unlock(m)
    while not kthread_should_stop():
        msleep(10)
    return 0

def c_init():
    r = mutex_trylock(m)
    pr_info("trylock %d\\n", r)
    r = mutex_is_locked(m)
    pr_info("locked %d owner set %d\\n", r, m.owner is not None)
    r = mutex_trylock(m)
    pr_info("trylock again %d\\n", r)
    mutex_unlock(m)
    spin_lock_bh(s)
    r = spin_trylock(s)
    pr_info("spin locked %d trylock %d\\n", spin_is_locked(s), r)
    spin_unlock_bh(s)
    pr_info("spin locked %d\\n", spin_is_locked(s))
    for n in range(3):
        threads.append(kthread_run(fn, None, "w%d", n))
    return 0

def c_exit():
    for t in threads:
        kthread_stop(t)
    pr_info("count %d locked %d\\n", atomic_read(count), mutex_is_locked(m))

module_init(c_init)
module_exit(c_exit)
"""


@pytest.fixture(scope="module")
def contended(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return twin(tmp_path_factory.mktemp("contended"), CONTENDED_C, CONTENDED_PY)


def test_a_c_module_locks_as_its_python_twin(contended: tuple[Path, Path]) -> None:
    ko, py = contended
    c, p = run_file(ko, seconds=1), run_file(py, seconds=1)
    assert c.lines == p.lines
    assert c.texts[4:9] == ["trylock 1", "locked 1 owner set 1", "trylock again 0",
                            "spin locked 1 trylock 0", "spin locked 0"]
    assert "count 60 locked 0" in c.texts
    assert c.result.exit_code == 0


@pytest.mark.parametrize("seed", [2, 5])
def test_under_the_random_policy_too(contended: tuple[Path, Path], seed: int,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The tasks contend for the spinlock (a scheduling point inside it), and
    C spins as Python does."""
    spins: list[str] = []
    slowpath = _spinlock.native_queued_spin_lock_slowpath

    def counted(k: Any, task: Any, lock: Any) -> None:
        spins.append(task.comm)
        slowpath(k, task, lock)

    monkeypatch.setattr(_spinlock, "native_queued_spin_lock_slowpath", counted)
    ko, py = contended
    c = run_file(ko, seconds=1, policy=RandomPolicy(seed))
    c_spins, spins[:] = list(spins), []
    p = run_file(py, seconds=1, policy=RandomPolicy(seed))
    assert c.lines == p.lines
    assert c.result.decisions == p.result.decisions
    assert c_spins == spins and len(spins) > 10
    assert "count 60 locked 0" in c.texts


ATOMICS_C = """
static atomic_t v = ATOMIC_INIT(2147483646);
static int plain = 3;
static void *ptr;

static int __init c_init(void)
{
	int a, b, c;
	void *old;

	a = atomic_inc_return(&v);
	b = atomic_inc_return(&v);
	pr_info("wrap %d %d\\n", a, b);
	atomic_set(&v, 5);
	atomic_add(10, &v);
	atomic_sub(3, &v);
	atomic_inc(&v);
	atomic_dec(&v);
	a = atomic_add_return(8, &v);
	b = atomic_sub_return(20, &v);
	c = atomic_dec_return(&v);
	pr_info("ops %d %d %d %d\\n", atomic_read(&v), a, b, c);
	a = atomic_fetch_add(7, &v);
	b = atomic_fetch_sub(2, &v);
	pr_info("fetch %d %d %d\\n", a, b, atomic_read(&v));
	a = atomic_cmpxchg(&v, 4, 9);
	b = atomic_cmpxchg(&v, 5, 9);
	c = atomic_xchg(&v, 1);
	pr_info("cmpxchg %d %d xchg %d now %d\\n", a, b, c, atomic_read(&v));
	a = atomic_dec_and_test(&v);
	b = atomic_dec_and_test(&v);
	c = atomic_inc_and_test(&v);
	pr_info("tests %d %d %d\\n", a, b, c);
	a = xchg(&plain, 4);
	b = cmpxchg(&plain, 3, 5);
	c = cmpxchg(&plain, 4, 6);
	WRITE_ONCE(plain, READ_ONCE(plain) + 1);
	pr_info("plain %d %d %d %d\\n", a, b, c, plain);
	old = cmpxchg(&ptr, NULL, &plain);
	pr_info("ptr %d %d\\n", old == NULL, ptr == &plain);
	return 0;
}
static void __exit c_exit(void) { }
module_init(c_init);
module_exit(c_exit);
"""

ATOMICS_PY = """
v = ATOMIC_INIT(2147483646)
plain = 3
ptr = None
target = object()

def c_init():
    a = atomic_inc_return(v)
    b = atomic_inc_return(v)
    pr_info("wrap %d %d\\n", a, b)
    atomic_set(v, 5)
    atomic_add(10, v)
    atomic_sub(3, v)
    atomic_inc(v)
    atomic_dec(v)
    a = atomic_add_return(8, v)
    b = atomic_sub_return(20, v)
    c = atomic_dec_return(v)
    pr_info("ops %d %d %d %d\\n", atomic_read(v), a, b, c)
    a = atomic_fetch_add(7, v)
    b = atomic_fetch_sub(2, v)
    pr_info("fetch %d %d %d\\n", a, b, atomic_read(v))
    a = atomic_cmpxchg(v, 4, 9)
    b = atomic_cmpxchg(v, 5, 9)
    c = atomic_xchg(v, 1)
    pr_info("cmpxchg %d %d xchg %d now %d\\n", a, b, c, atomic_read(v))
    a = atomic_dec_and_test(v)
    b = atomic_dec_and_test(v)
    c = atomic_inc_and_test(v)
    pr_info("tests %d %d %d\\n", a, b, c)
    a = xchg(globals(), "plain", 4)
    b = cmpxchg(globals(), "plain", 3, 5)
    c = cmpxchg(globals(), "plain", 4, 6)
    WRITE_ONCE(globals(), "plain", READ_ONCE(plain) + 1)
    pr_info("plain %d %d %d %d\\n", a, b, c, plain)
    old = cmpxchg(globals(), "ptr", None, target)
    pr_info("ptr %d %d\\n", old is None, ptr is target)
    return 0

def c_exit():
    pass

module_init(c_init)
module_exit(c_exit)
"""


def test_atomics_and_xchg_from_c_return_what_the_python_ones_do(tmp_path: Path) -> None:
    ko, py = twin(tmp_path, ATOMICS_C, ATOMICS_PY)
    c, p = run_file(ko, seconds=1), run_file(py, seconds=1)
    assert c.lines == p.lines
    assert c.texts[4:11] == ["wrap 2147483647 -2147483648", "ops -1 20 0 -1", "fetch -1 6 4",
                             "cmpxchg 4 9 xchg 9 now 1", "tests 1 0 1", "plain 3 4 4 7", "ptr 1 1"]


MISUSE_C = """
static DEFINE_SPINLOCK(s);
static DEFINE_MUTEX(m);

static int fn(void *data)
{
	spin_lock(&s);
	msleep(10);
	spin_unlock(&s);
	mutex_lock(&m);
	pr_info("once\\n");
	mutex_lock(&m);
	pr_info("twice\\n");
	return 0;
}

static int __init c_init(void)
{
	kthread_run(fn, NULL, "misuser");
	return 0;
}
module_init(c_init);
"""

MISUSE_PY = """
s = DEFINE_SPINLOCK()          # unnamed: lockdep finds the module variable
m = DEFINE_MUTEX()

def fn(data):
    spin_lock(s)
    msleep(10)
    spin_unlock(s)
    mutex_lock(m)
    pr_info("once\\n")
    mutex_lock(m)
    pr_info("twice\\n")
    return 0

def c_init():
    kthread_run(fn, None, "misuser")
    return 0

module_init(c_init)
"""


def test_misuse_in_c_is_reported_as_for_its_python_twin(tmp_path: Path) -> None:
    ko, py = twin(tmp_path, MISUSE_C, MISUSE_PY)
    c = run_file(ko, seconds=25, hung_task_timeout=10)
    p = run_file(py, seconds=25, hung_task_timeout=10)
    assert normalized(c) == normalized(p)
    texts = c.texts
    assert "BUG: scheduling while atomic: misuser/101/0x00000002" in texts
    i = texts.index("BUG: scheduling while atomic: misuser/101/0x00000002")
    assert re.fullmatch(r" #0: ffff888003a00000 \(s\)\{\+\.\+\.\}-\{2:2\}, at: fn\+0x[0-9a-f]+/0x[0-9a-f]+ \[mod\]",
                        texts[i + 2])
    assert "WARNING: possible recursive locking detected" in texts
    assert "  lock(m);" in texts
    assert any(t.startswith("INFO: task misuser:101 blocked for more than") for t in texts)
    assert "twice" not in texts


BAD_UNLOCK_C = """
static struct dev {
	int x;
	struct mutex lock;
} d;

static int __init c_init(void)
{
	mutex_init(&d.lock);
	mutex_unlock(&d.lock);
	pr_info("after\\n");
	return 0;
}
static void __exit c_exit(void) { }
module_init(c_init);
module_exit(c_exit);
"""


def test_a_c_lock_is_named_as_its_initialiser_names_it(tmp_path: Path) -> None:
    ko, _ = twin(tmp_path, BAD_UNLOCK_C, "")
    texts = run_file(ko, seconds=1).texts
    assert "insmod/100 is trying to release lock (&d.lock) at:" in texts
    i = texts.index("insmod/100 is trying to release lock (&d.lock) at:")
    assert re.fullmatch(r"\[<ffffffffc0a05[0-9a-f]{3}>\] c_init\+0x[0-9a-f]+/0x[0-9a-f]+ \[mod\]", texts[i + 1])
    assert "no locks held by insmod/100." in texts
    assert "after" in texts


ABBA_C = """
static DEFINE_MUTEX(a);
static DEFINE_MUTEX(b);

static int ab(void *data)
{
	mutex_lock(&a);
	msleep(10);
	mutex_lock(&b);
	pr_info("ab has both\\n");
	return 0;
}

static int ba(void *data)
{
	mutex_lock(&b);
	msleep(10);
	mutex_lock(&a);
	pr_info("ba has both\\n");
	return 0;
}

static int __init c_init(void)
{
	kthread_run(ab, NULL, "ab");
	kthread_run(ba, NULL, "ba");
	return 0;
}
module_init(c_init);
"""

ABBA_PY = """
a = DEFINE_MUTEX("a")
b = DEFINE_MUTEX("b")

def ab(data):
    mutex_lock(a)
    msleep(10)
    mutex_lock(b)
    pr_info("ab has both\\n")
    return 0

def ba(data):
    mutex_lock(b)
    msleep(10)
    mutex_lock(a)
    pr_info("ba has both\\n")
    return 0

def c_init():
    kthread_run(ab, None, "ab")
    kthread_run(ba, None, "ba")
    return 0

module_init(c_init)
"""


def test_an_abba_deadlock_in_c_is_reported_by_the_hung_task_detector(tmp_path: Path) -> None:
    ko, py = twin(tmp_path, ABBA_C, ABBA_PY)
    c = run_file(ko, seconds=30, hung_task_timeout=10)
    p = run_file(py, seconds=30, hung_task_timeout=10)
    assert normalized(c) == normalized(p)
    texts = c.texts
    for comm in ("ab", "ba"):
        i = next(i for i, t in enumerate(texts) if t.startswith(f"INFO: task {comm}:"))
        frames = [t.strip().split("+")[0] for t in texts[i + 6:i + 13]]
        assert frames == ["__schedule", "schedule", "schedule_preempt_disabled",
                          "__mutex_lock.constprop.0", "__mutex_lock_slowpath", "mutex_lock", comm]
        assert texts[i + 12].endswith(" [mod]")


WAIT_LOCK_C = """
static DEFINE_SPINLOCK(lock);
static DECLARE_WAIT_QUEUE_HEAD(wq);
static int ready;
static struct task_struct *waiter_task;

static int held(void)
{
	return spin_is_locked(&lock);
}

static int waiter(void *data)
{
	spin_lock_irq(&lock);
	wait_event_lock_irq(wq, (pr_info("cond: held %d ready %d\\n", held(), ready), ready), lock);
	pr_info("woken holding it: %d\\n", held());
	spin_unlock_irq(&lock);
	return 0;
}

static int __init c_init(void)
{
	waiter_task = kthread_run(waiter, NULL, "waiter");
	msleep(5);
	pr_info("while it sleeps: held %d\\n", held());
	spin_lock_irq(&lock);
	ready = 1;
	spin_unlock_irq(&lock);
	wake_up(&wq);
	return 0;
}
static void __exit c_exit(void) { }
module_init(c_init);
module_exit(c_exit);
"""

WAIT_LOCK_PY = """
lock = DEFINE_SPINLOCK("lock")
wq = DECLARE_WAIT_QUEUE_HEAD("wq")
ready = 0

def held():
    return spin_is_locked(lock)

def cond():
    pr_info("cond: held %d ready %d\\n", held(), ready)
    return ready

def waiter(data):
    spin_lock_irq(lock)
    wait_event_lock_irq(wq, cond, lock)
    pr_info("woken holding it: %d\\n", held())
    spin_unlock_irq(lock)
    return 0

def c_init():
    global ready
    kthread_run(waiter, None, "waiter")
    msleep(5)
    pr_info("while it sleeps: held %d\\n", held())
    spin_lock_irq(lock)
    ready = 1
    spin_unlock_irq(lock)
    wake_up(wq)
    return 0

def c_exit():
    pass

module_init(c_init)
module_exit(c_exit)
"""


def test_wait_event_lock_irq_from_c_as_from_python(tmp_path: Path) -> None:
    ko, py = twin(tmp_path, WAIT_LOCK_C, WAIT_LOCK_PY)
    c, p = run_file(ko, seconds=1), run_file(py, seconds=1)
    assert c.lines == p.lines
    assert [t for t in c.texts if t.startswith(("cond", "while", "woken"))] == [
        "cond: held 1 ready 0", "cond: held 1 ready 0", "while it sleeps: held 0",
        "cond: held 1 ready 1", "woken holding it: 1"]
    assert c.result.exit_code == 0


def test_the_lock_structures_python_writes_have_the_compilers_layout(tmp_path: Path) -> None:
    from kernsim._core._cdecl import INCLUDE_DIR

    probe = tmp_path / "probe.c"
    probe.write_text(textwrap.dedent("""
        #include <linux/mutex.h>
        #include <linux/spinlock.h>
        #define P(t, f) (int)__builtin_offsetof(t, f)
        int layout[] = {
            sizeof(struct mutex), P(struct mutex, owner), P(struct mutex, wait_lock),
            P(struct mutex, wait_list), sizeof(spinlock_t), P(spinlock_t, locked),
        };
    """))
    gcc_inc = subprocess.check_output(["gcc", "-print-file-name=include"], text=True).strip()
    subprocess.run(["gcc", "-c", "-nostdinc", "-isystem", gcc_inc, f"-I{INCLUDE_DIR}", "-D__KERNEL__",
                    "-o", str(tmp_path / "probe.o"), str(probe)], check=True)
    from elftools.elf.elffile import ELFFile

    with open(tmp_path / "probe.o", "rb") as f:
        data = ELFFile(f).get_section_by_name(".data").data()
    got = [int.from_bytes(data[i:i + 4], "little") for i in range(0, 24, 4)]
    ffi = runtime().ffi
    want = [ffi.sizeof("struct mutex"), ffi.offsetof("struct mutex", "owner"),
            ffi.offsetof("struct mutex", "wait_lock"), ffi.offsetof("struct mutex", "wait_list"),
            ffi.sizeof("spinlock_t"), ffi.offsetof("spinlock_t", "locked")]
    assert got == want


def test_kernel_h_and_module_h_do_not_bring_the_lock_headers(tmp_path: Path) -> None:
    """As the tutorial's modules do, a module includes what it uses."""
    src = tmp_path / "bare.c"
    src.write_text('#include <linux/module.h>\n#include <linux/kernel.h>\nMODULE_LICENSE("GPL");\n'
                   "static DEFINE_MUTEX(m);\n"
                   "static int __init c_init(void) { mutex_lock(&m); return 0; }\n"
                   "module_init(c_init);\n")
    with pytest.raises(kbuild.BuildError):
        kbuild.build_file(src, echo=lambda line: None)
