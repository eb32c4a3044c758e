"""Benchmarks of the live kernel (``kernsim boot``), issue #5.

Run:  pip install . && python bench/live.py [--quick]

(g) timer lateness in real time: a kthread loops ``msleep(10)`` (300 times)
    in a real-time live kernel; each wake-up's lateness is the wall-clock
    time at which the thread runs again minus the time its timer was due
    (the tick the timer wheel set it for: msleep(10) sleeps 5 jiffies, 20 ms,
    at HZ=250, as on a real kernel).  p50 / p99 / max, in µs.  Run
    once on an idle kernel, once while clients hammer it with ``lsmod``.
(h) command latency: ``kernsim lsmod`` against a running kernel, the whole
    process (fork, Python start-up, connect, round trip, print), p50 / p99
    in ms, next to ``python -c pass``; and one request round trip from a
    process already running (``client.request``), p50 / p99 in µs.
(i) soak: 1,000 insmod / rmmod cycles (Python and C modules alternately)
    against a virtual-time kernel: resident memory of the kernel process
    after 100 and after 1,000 cycles, its OS threads, and the kernel's
    tasks -- all must stay flat.

Each run boots its own kernel in a temporary runtime directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:
    import kernsim  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO))

from kernsim.live.client import query, read_pidfile, request  # noqa: E402
from kernsim.live.paths import KernelPaths  # noqa: E402

LATENCY_MODULE = '''
"""msleep(10) in a loop: how late is each wake-up, on the wall clock?"""
import time
from kernsim.linux import *
from kernsim._core._current import cur

MODULE_LICENSE("GPL")
ROUNDS = {rounds}
late = []
thread = None

def fn(data):
    k = cur.k
    for _ in range(ROUNDS):
        j0 = get_jiffies_64()
        msleep(10)
        # msleep() arms its timer for jiffy j0 + msecs_to_jiffies(10) + 1; the
        # wheel's calc_index() rounds even level 0 up by one jiffy: it is due
        # at the tick of j0 + msecs_to_jiffies(10) + 2 (20 ms at HZ=250).
        due = k.jiffy_time(j0 + msecs_to_jiffies(10) + 2)
        woke = time.monotonic_ns() - k.clock._origin
        late.append(woke - due)
    late.sort()
    n = len(late)
    pr_info("lateness_us p50=%d p99=%d max=%d n=%d\\n", late[n // 2] // 1000,
            late[min(n - 1, n * 99 // 100)] // 1000, late[-1] // 1000, n)
    while not kthread_should_stop():
        msleep(100)
    return 0

def init():
    global thread
    thread = kthread_run(fn, None, "latency")
    return 0

def exit():
    kthread_stop(thread)

module_init(init)
module_exit(exit)
'''

SOAK_PY = '''
from kernsim.linux import *
MODULE_LICENSE("GPL")
wq = DECLARE_WAIT_QUEUE_HEAD("wq")
t = None
def fn(data):
    while not kthread_should_stop():
        wait_event_timeout(wq, lambda: kthread_should_stop(), msecs_to_jiffies(50))
    return 0
def init():
    global t
    t = kthread_run(fn, None, "soak_py")
    return 0
def exit():
    kthread_stop(t)
module_init(init)
module_exit(exit)
'''

SOAK_C = r'''
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/wait.h>
#include <linux/delay.h>
MODULE_LICENSE("GPL");
static DECLARE_WAIT_QUEUE_HEAD(wq);
static struct task_struct *t;
static int fn(void *data)
{
	while (!kthread_should_stop())
		wait_event_timeout(wq, kthread_should_stop(), msecs_to_jiffies(50));
	return 0;
}
static int __init soak_init(void)
{
	t = kthread_run(fn, NULL, "soak_c");
	return 0;
}
static void __exit soak_exit(void)
{
	kthread_stop(t);
}
module_init(soak_init);
module_exit(soak_exit);
'''


def run_kernsim(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "kernsim", *args], env=env, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise SystemExit(f"kernsim {' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def proc_status(pid: int) -> tuple[int, int]:
    """(VmRSS in KiB, OS threads) of *pid*."""
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads


def bench_lateness(env: dict[str, str], tmp: Path, rounds: int, hammer: bool) -> str:
    mod = tmp / "latency.py"
    mod.write_text(LATENCY_MODULE.replace("{rounds}", str(rounds)))
    run_kernsim(env, "boot")
    stop = threading.Event()
    paths = KernelPaths.of("default", Path(env["XDG_RUNTIME_DIR"]) / "kernsim")

    def hammer_it() -> None:
        while not stop.is_set():
            query(paths, "modules")

    hammers = [threading.Thread(target=hammer_it) for _ in range(2)] if hammer else []
    try:
        run_kernsim(env, "insmod", str(mod))
        for h in hammers:
            h.start()
        deadline = time.monotonic() + rounds * 0.05 + 30
        line = ""
        while time.monotonic() < deadline:
            time.sleep(0.2)
            line = next((ln for ln in run_kernsim(env, "dmesg").splitlines() if "lateness_us" in ln), "")
            if line:
                break
    finally:
        stop.set()
        for h in hammers:
            h.join()
        run_kernsim(env, "halt")
    return line.split("] ", 1)[-1]


def bench_latency(env: dict[str, str], n: int) -> tuple[list[float], list[float], list[float]]:
    run_kernsim(env, "boot", "--virtual")
    paths = KernelPaths.of("default", Path(env["XDG_RUNTIME_DIR"]) / "kernsim")
    try:
        whole, bare, rtt = [], [], []
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kernsim", "lsmod"], env=env, capture_output=True,
                           check=True)
            whole.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            bare.append(time.perf_counter() - t0)
        for _ in range(n * 10):
            t0 = time.perf_counter()
            request(paths, "modules", on_reply=lambda m: None)
            rtt.append(time.perf_counter() - t0)
    finally:
        run_kernsim(env, "halt")
    return whole, bare, rtt


def bench_soak(env: dict[str, str], tmp: Path, cycles: int) -> list[str]:
    py = tmp / "soak_py.py"
    py.write_text(SOAK_PY)
    c_dir = tmp / "c"
    c_dir.mkdir()
    (c_dir / "soak_c.c").write_text(SOAK_C)
    run_kernsim(env, "make", str(c_dir / "soak_c.c"))
    ko = c_dir / "soak_c.ko"
    run_kernsim(env, "boot", "--virtual")
    paths = KernelPaths.of("default", Path(env["XDG_RUNTIME_DIR"]) / "kernsim")
    info = read_pidfile(paths)
    assert info is not None
    pid = info["pid"]
    rows = []
    quiet = lambda m: None  # noqa: E731
    try:
        t0 = time.perf_counter()
        for i in range(1, cycles + 1):
            path, name = (str(py), "soak_py") if i % 2 else (str(ko), "soak_c")
            assert request(paths, "insmod", {"path": path, "shown": path, "params": ""},
                           on_reply=quiet) == 0
            assert request(paths, "sleep", {"seconds": 0.1}, on_reply=quiet) == 0
            assert request(paths, "rmmod", {"name": name, "force": False}, on_reply=quiet) == 0
            if i in (100, cycles):
                rss, threads = proc_status(pid)
                tasks = len(query(paths, "tasks")["tasks"])
                rows.append(f"after {i:5d} cycles: kernel process RSS {rss / 1024:7.1f} MiB, "
                            f"{threads} OS threads, {tasks} kernel tasks, "
                            f"{(time.perf_counter() - t0) / i * 1000:.1f} ms per cycle")
    finally:
        run_kernsim(env, "halt")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ksb-") as d:
        tmp = Path(d)
        run = tmp / "run"
        run.mkdir(mode=0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(run)}
        env.pop("KERNSIM_NAME", None)
        rounds = 100 if args.quick else 300
        print(f"(g) msleep(10) wake-up lateness, real-time kernel, {rounds} sleeps:")
        print(f"    idle kernel:                 {bench_lateness(env, tmp, rounds, False)}")
        print(f"    2 clients hammering lsmod:   {bench_lateness(env, tmp, rounds, True)}")
        n = 10 if args.quick else 30
        whole, bare, rtt = bench_latency(env, n)
        print(f"(h) 'kernsim lsmod', whole process: p50 {statistics.median(whole) * 1000:.0f} ms, "
              f"p99 {pct(whole, 99) * 1000:.0f} ms (python -c pass: p50 "
              f"{statistics.median(bare) * 1000:.0f} ms)")
        print(f"    one request round trip (client.request 'modules'): p50 "
              f"{statistics.median(rtt) * 1e6:.0f} µs, p99 {pct(rtt, 99) * 1e6:.0f} µs")
        cycles = 200 if args.quick else 1000
        print(f"(i) soak, {cycles} insmod/rmmod cycles (Python and C alternately), virtual time:")
        for row in bench_soak(env, tmp, cycles):
            print(f"    {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
