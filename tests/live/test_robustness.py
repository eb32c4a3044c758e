"""What a live kernel survives: module faults, its own death, other users,
malformed requests, many clients at once, clients that go away, Ctrl-C."""

from __future__ import annotations

import json
import re
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from live_kernel import SEED, Live, reap, live  # noqa: F401 (live: the fixture)
from kernsim.live.client import query


def _raw(live: Live, payload: bytes) -> list[dict]:
    """Send *payload* on a fresh connection; the replies until the kernel closes it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(live.paths.socket))
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return [json.loads(line) for line in data.splitlines()]


def test_malformed_requests_get_an_error_reply_and_the_kernel_goes_on(live: Live) -> None:
    live.ok("boot", "--virtual")
    cases = {
        b"hello\n": "bad request: not JSON",
        b"[1, 2]\n": "bad request: not a JSON object",
        b'{"op": "reboot"}\n': "bad request: unknown op 'reboot'",
        b'{"op": "insmod", "args": {"path": 3}}\n': "bad request: insmod: argument 'path' has the wrong type",
        b'{"op": "sleep", "args": {"seconds": true}}\n': "bad request: sleep: argument 'seconds' has the wrong type",
        b'{"op": "status", "args": [], "tty": "?"}\n': "bad request: args must be an object",
        b'{"op": "status", "extra": 1}\n': "bad request: unknown fields ['extra']",
        b"\xff\xfe\n": "bad request: not JSON",
        b"x" * 70000 + b"\n": "bad request: message longer than 65536 bytes",
    }
    for payload, error in cases.items():
        replies = _raw(live, payload)
        assert len(replies) == 1 and replies[0]["error"].startswith(error), (payload[:40], replies)
    # A request cut off before its newline is no request at all.
    assert _raw(live, b'{"op": "halt"') == []
    # Negative sleeps are refused by the kernel, not obeyed.
    assert _raw(live, b'{"op": "sleep", "args": {"seconds": -5}}\n')[0]["error"].startswith("sleep:")
    status = query(live.paths, "status")
    assert status["clock"] == "virtual"
    live.ok("halt")


def test_another_user_is_refused(live: Live) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to connect as another uid")
    live.ok("boot", "--virtual")
    sock_path = str(live.paths.socket)

    def as_nobody(open_up: bool) -> str:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: become nobody and try
            os.close(r)
            try:
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(5)
                try:
                    s.connect(sock_path)
                    s.sendall(b'{"op": "status"}\n')
                    answer = s.recv(4096).decode()
                except OSError as exc:
                    answer = f"OSError {exc.errno}"
                os.write(w, answer.encode())
            finally:
                os._exit(0)
        os.close(w)
        out = b""
        while chunk := os.read(r, 4096):
            out += chunk
        os.close(r)
        os.waitpid(pid, 0)
        return out.decode()

    import errno as errno_mod

    # The directory (0700) and the socket (0600) keep others out...
    assert as_nobody(False) == f"OSError {errno_mod.EACCES}"
    # ...and if a user opens them up, the kernel itself still refuses (SO_PEERCRED).
    os.chmod(live.root, 0o755)
    os.chmod(live.root / "kernsim", 0o755)
    os.chmod(sock_path, 0o666)
    answer = json.loads(as_nobody(True))
    assert answer == {"error": "permission denied: this kernel belongs to uid 0, not to uid 65534"}
    os.chmod(live.root / "kernsim", 0o700)
    # An open runtime directory is refused on the next boot.
    os.chmod(live.root / "kernsim", 0o755)
    r = live("--name", "other", "boot", "--virtual")
    assert r.status == 1
    assert "is open to other users (mode 0755)" in r.err
    os.chmod(live.root / "kernsim", 0o700)
    live.ok("halt")


def test_many_clients_at_once_are_served(live: Live) -> None:
    live.ok("boot")  # real time: the kernel runs while the clients come and go
    live.ok("insmod", str(SEED / "wait_event.py"))
    errors: list[str] = []
    results: dict[str, list] = {"modules": [], "tasks": [], "status": []}

    def client(op: str) -> None:
        try:
            for _ in range(10):
                results[op].append(query(live.paths, op))
        except Exception as exc:  # collected, asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(op,)) for op in ("modules", "tasks", "status") * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(results["modules"]) == 80 and all(m[0]["name"] == "wait_event" for m in results["modules"])
    names = {t["name"] for t in results["tasks"][-1]["tasks"]}
    assert {"wait_event wake_thread example", "wait_event wait_thread example"} <= names
    uptimes = [s["uptime_ns"] for s in results["status"]]
    assert max(uptimes) > min(uptimes)  # the clock ran meanwhile
    live.ok("sleep", "4")
    live.ok("rmmod", "wait_event")
    live.ok("halt")


def test_a_client_that_goes_away_mid_command_loses_nothing(live: Live, tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        "from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
        "def init():\n    msleep(300)\n    pr_info('slow init done\\n')\n    return 0\n"
        "def exit():\n    pass\nmodule_init(init)\nmodule_exit(exit)\n")
    live.ok("boot")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(live.paths.socket))
    s.sendall(json.dumps({"op": "insmod", "args": {"path": str(tmp_path / "slow.py"),
                                                   "shown": "slow.py", "params": ""}}).encode() + b"\n")
    s.close()  # gone before init returns
    deadline = time.monotonic() + 10
    loading_seen = False
    while time.monotonic() < deadline:
        lsmod = live.ok("lsmod")
        if "slow                   16384  1" in lsmod:  # Loading: init still runs
            loading_seen = True
        if "slow                   16384  0" in lsmod:
            break
        time.sleep(0.02)
    assert loading_seen
    assert "slow                   16384  0" in live.ok("lsmod")
    assert "slow init done" in live.ok("dmesg")
    live.ok("halt")


def test_a_module_fault_does_not_take_the_kernel_down(live: Live, tmp_path: Path) -> None:
    (tmp_path / "oops.py").write_text(
        "from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
        "def fn(data):\n    msleep(10)\n    x = None\n    return x.field\n"
        "def init():\n    kthread_run(fn, None, 'oopser')\n    return 0\n"
        "def exit():\n    pass\nmodule_init(init)\nmodule_exit(exit)\n")
    live.ok("boot", "--virtual")
    live.ok("insmod", "oops.py", cwd=tmp_path)
    live.ok("sleep", "1")
    log = live.ok("dmesg")
    assert "BUG: kernel NULL pointer dereference" in log
    assert "Modules linked in: oops(OE)" in log
    live.ok("rmmod", "oops")
    assert live.ok("lsmod").endswith("Used by\n")
    live.ok("halt")


def test_a_dead_kernel_is_gone_for_clients_and_boot_shows_its_last_log(live: Live, tmp_path: Path) -> None:
    """A module that takes the kernel's process down (here: a read of address 0
    through ctypes, the crash a wild C module causes): clients get a clear
    error, and the next boot prints what the dead kernel logged last, like pstore."""
    (tmp_path / "killer.py").write_text(
        "import ctypes\nfrom kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
        "def init():\n    pr_info('about to take the kernel down\\n')\n"
        "    ctypes.string_at(0)\n    return 0\nmodule_init(init)\n")
    live.ok("boot", "--virtual")
    pid = live.kernel_pid()
    assert pid is not None
    r = live("insmod", "killer.py", cwd=tmp_path)
    assert r.status == 1
    assert r.err == (f"kernsim: the kernel 'default' (pid {pid}) is gone: it died while this command "
                     f"ran; 'kernsim boot' starts a new one and shows the old one's last messages\n")
    reap(pid)
    r = live("lsmod")
    assert r.status == 1
    assert r.err == (f"kernsim: the kernel 'default' (pid {pid}) is gone: its process died; "
                     f"'kernsim boot' starts a new one and shows the old one's last messages\n")
    out = live.ok("boot", "--virtual")
    assert f"kernsim: the previous kernel 'default' (pid {pid}) died without halting" in out
    assert "] about to take the kernel down" in out
    saved = list((live.root / "kernsim" / "pstore").iterdir())
    assert len(saved) == 1 and "about to take the kernel down" in saved[0].read_text()
    assert live.ok("lsmod").endswith("Used by\n")  # the new kernel works
    assert "about to take" not in live.ok("dmesg")
    live.ok("halt")


def test_ctrl_c_on_a_blocked_rmmod_leaves_it_blocked_in_the_kernel(live: Live) -> None:
    """The tutorial's early rmmod: kthread_stop waits for ever for a thread
    that never wakes.  rmmod blocks (D), Ctrl-C ends the client only, and the
    hung-task detector reports rmmod after its timeout."""
    live.ok("boot", "--hung-task-timeout", "1")
    live.ok("insmod", str(SEED / "wait_event.py"))
    time.sleep(0.3)
    proc = live.process("rmmod", "wait_event")
    deadline = time.monotonic() + 10
    rmmod_line = ""
    while time.monotonic() < deadline:
        out = live.ok("ps", "-e", "-o", "pid,stat,wchan:20,comm")
        rmmod_line = next((ln for ln in out.splitlines() if ln.endswith(" rmmod")), "")
        if rmmod_line:
            break
        time.sleep(0.05)
    assert rmmod_line.split()[1:] == ["D", "kthread_stop", "rmmod"], out
    assert proc.poll() is None  # still waiting, as the real rmmod does
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert err == ""
    # The kernel is fine; the module is half-way out, as on the real kernel.
    assert live.ok("lsmod").endswith("wait_event             16384  -1\n")
    deadline = time.monotonic() + 15
    log = ""
    while "INFO: task rmmod:" not in log and time.monotonic() < deadline:
        time.sleep(0.2)
        log = live.ok("dmesg")
    assert "INFO: task rmmod:" in log and "blocked for more than 1 seconds." in log
    assert "INFO: task wait_event wait:" in log
    # halt cannot remove a module that is already going: it says nothing about it.
    r = live("halt")
    assert r.status == 0


def test_a_virtual_kernel_returns_a_blocked_rmmod_once_its_hung_task_report_is_in_the_log(
        live: Live) -> None:
    """khungtaskd's 120-s sleeps are rounded up by the timer wheel (to 512
    jiffies at HZ=250), so its second scan comes after 240 s: the client must
    wait for the report itself, not for a guess at its time."""
    live.ok("boot", "--virtual")
    live.ok("insmod", str(SEED / "wait_event.py"))
    r = live("rmmod", "wait_event")
    assert r.status == 1
    at = float(re.search(r"still blocked in state D at ([\d.]+) s of virtual time", r.err).group(1))
    log = live.ok("dmesg")
    assert "INFO: task rmmod:103 blocked for more than 120 seconds." in log
    report = next(ln for ln in log.splitlines() if "INFO: task rmmod:103 blocked" in ln)
    assert float(report[1:13]) <= at
    live.ok("halt")


def test_a_busy_kthread_does_not_move_a_virtual_clock_between_commands(live: Live,
                                                                         tmp_path: Path) -> None:
    """The clock of a virtual kernel moves only on 'kernsim sleep' (and for a
    blocked command): a kthread that never sleeps may use what a command's
    settling allows, not seconds of it."""
    (tmp_path / "busy.py").write_text(
        "from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
        "def spin(d):\n    while not kthread_should_stop():\n        mdelay(10)\n    return 0\n"
        "module_init(lambda: (kthread_run(spin, None, 'spin'), 0)[1])\n")
    for n in (1, 2):
        (tmp_path / f"p{n}.py").write_text(
            f"from kernsim.linux import *\nMODULE_LICENSE('GPL')\n"
            f"module_init(lambda: (pr_info('p{n} here\\n'), 0)[1])\n")
    live.ok("boot", "--virtual")
    live.ok("insmod", "busy.py", cwd=tmp_path)
    live.ok("sleep", "1")
    live.ok("insmod", "p1.py", cwd=tmp_path)
    live.ok("sleep", "1")
    live.ok("insmod", "p2.py", cwd=tmp_path)
    log = live.ok("dmesg")
    times = {ln.split("] ", 1)[1]: float(ln[1:13]) for ln in log.splitlines() if " here" in ln}
    assert 1.0 <= times["p1 here"] < 1.01 and 2.0 <= times["p2 here"] < 2.02, log
    live.ok("halt")
