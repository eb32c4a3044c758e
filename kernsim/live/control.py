"""``kernsim boot`` and ``kernsim halt``: starting and stopping a live kernel.

``boot`` starts the kernel process detached (its own session, stdin and
stdout on /dev/null, stderr in ``NAME.out``) and returns once its socket
listens; ``--foreground`` serves in the calling process instead, printing
the console as a serial line would.  Before booting it looks for what a
previous kernel left behind: a log with no clean halt means that kernel
died (a C module took its process down), and -- like pstore after a crash --
its last messages are saved and shown.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .client import KernelError, pid_alive, query, read_pidfile, request
from .paths import KernelPaths, RuntimeDirError, ensure_private_dir

if TYPE_CHECKING:
    from .server import BootOptions

#: How long boot waits for the new kernel's socket, seconds.
BOOT_TIMEOUT: Final = 60.0
#: How long halt waits for the kernel's process to end, seconds.
HALT_TIMEOUT: Final = 30.0
#: Lines of a dead kernel's log that boot prints.
PSTORE_TAIL: Final = 40


def _describe(status: dict) -> str:  # type: ignore[type-arg]
    up = status["uptime_ns"] / 1e9
    return (f"pid {status['pid']}, {status['clock']} clock, HZ={status['hz']}, up {up:.3f} s, "
            f"{status['modules']} module{'s' if status['modules'] != 1 else ''} loaded")


def boot(paths: KernelPaths, options: BootOptions, *, foreground: bool) -> int:
    try:
        ensure_private_dir(paths.root)
    except RuntimeDirError as exc:
        print(f"kernsim: error: {exc}", file=sys.stderr)
        return 1
    status = _status(paths)
    if status is not None:
        return _report_running(paths, options, status)
    lock = _lock(paths)
    if lock is None:
        # Another kernel of this name holds the lock: one booting right now
        # (a race of two boots), or one that does not answer.
        deadline = time.monotonic() + BOOT_TIMEOUT
        while lock is None and time.monotonic() < deadline:
            status = _status(paths)
            if status is not None:
                return _report_running(paths, options, status)
            time.sleep(0.05)
            lock = _lock(paths)  # it died: this boot goes on
        if lock is None:
            info = read_pidfile(paths)
            pid = info["pid"] if info else "?"
            print(f"kernsim: error: kernel '{paths.name}' (pid {pid}) is running but does not "
                  f"answer on {paths.socket}; stop it with 'kill {pid}'", file=sys.stderr)
            return 1
    try:
        # The lock is ours: no kernel of this name lives, whatever its files say.
        _recover_pstore(paths, read_pidfile(paths))
        if foreground:
            from .server import run_server

            print(f"kernsim: kernel '{paths.name}' booting in the foreground (pid {os.getpid()}); "
                  f"socket {paths.socket}; Ctrl-C halts it", file=sys.stderr, flush=True)
            return run_server(paths, options, console=lambda line: print(line, flush=True))
        return _boot_detached(paths, options, lock)
    finally:
        os.close(lock)  # the detached kernel holds its own copy


def _status(paths: KernelPaths) -> dict | None:  # type: ignore[type-arg]
    try:
        return query(paths, "status")  # type: ignore[no-any-return]
    except KernelError:
        return None


def _lock(paths: KernelPaths) -> int | None:
    """Take the kernel's lock (a file descriptor holding it), or None if a
    live kernel -- or a boot racing this one -- has it."""
    fd = os.open(paths.lockfile, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _report_running(paths: KernelPaths, options: BootOptions,
                    status: dict) -> int:  # type: ignore[type-arg]
    print(f"kernsim: kernel '{paths.name}' is already running ({_describe(status)}); "
          f"socket {paths.socket}")
    wanted = "virtual" if options.virtual else "real-time"
    if status["clock"] != wanted or status["hz"] != options.hz:
        print(f"kernsim: error: it is not the {wanted}-clock HZ={options.hz} kernel asked "
              f"for: 'kernsim halt' it first, or boot another with --name", file=sys.stderr)
        return 1
    return 0


def _same_kernsim_env() -> dict[str, str]:
    """The environment for the kernel process, with this kernsim's directory
    first on PYTHONPATH: it runs in ``/``, where ``-m kernsim.live`` would
    otherwise import whichever kernsim is installed -- not the source tree a
    client run from a checkout is using, so the kernel's half of insmod would
    be another version's."""
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    installed = {os.path.realpath(sysconfig.get_path(key)) for key in ("purelib", "platlib")}
    if os.path.realpath(here) in installed:
        return env  # an installed kernsim: the interpreter finds it, after the stdlib
    env["PYTHONPATH"] = os.pathsep.join([here, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def _boot_detached(paths: KernelPaths, options: BootOptions, lock: int) -> int:
    r, w = os.pipe()
    argv = [sys.executable, "-m", "kernsim.live", "--name", paths.name, "--root", str(paths.root),
            "--hz", str(options.hz), "--hung-task-timeout", str(options.hung_task_timeout),
            "--ready-fd", str(w), "--lock-fd", str(lock)] + (["--virtual"] if options.virtual else [])
    with open(paths.stderr, "w") as err, open(os.devnull, "rb") as null_in, \
            open(os.devnull, "wb") as null_out:
        proc = subprocess.Popen(argv, stdin=null_in, stdout=null_out, stderr=err,
                                pass_fds=(w, lock), start_new_session=True, cwd="/",
                                close_fds=True, env=_same_kernsim_env())
    os.close(w)
    ready = b""
    deadline = time.monotonic() + BOOT_TIMEOUT
    try:
        while b"\n" not in ready and time.monotonic() < deadline:
            readable, _, _ = select.select([r], [], [], 0.2)
            if readable:
                chunk = os.read(r, 64)
                if not chunk:
                    break
                ready += chunk
    finally:
        os.close(r)
    if not ready.startswith(b"ready"):
        proc.poll()
        why = Path(paths.stderr).read_text(errors="replace").strip().splitlines()[-5:]
        print("kernsim: error: the kernel did not boot" +
              (f" (exit status {proc.returncode})" if proc.returncode is not None else ""),
              file=sys.stderr)
        for line in why:
            print(f"  {line}", file=sys.stderr)
        if proc.returncode is None:
            proc.kill()
        return 1
    clock = "virtual clock (moves on 'kernsim sleep')" if options.virtual else "real-time clock"
    print(f"kernsim: kernel '{paths.name}' booted (pid {proc.pid}, {clock}, HZ={options.hz}); "
          f"socket {paths.socket}")
    return 0


def _recover_pstore(paths: KernelPaths, info: dict | None) -> None:  # type: ignore[type-arg]
    """A log without a clean halt: the previous kernel died.  Keep its log in
    ``pstore/`` and print the end of it."""
    if not paths.log.exists():
        return
    try:
        text = paths.log.read_text(errors="replace")
    except OSError:
        return
    ensure_private_dir(paths.pstore)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    saved = paths.pstore / f"dmesg-{paths.name}-{stamp}.txt"
    n = 1
    while saved.exists():
        n += 1
        saved = paths.pstore / f"dmesg-{paths.name}-{stamp}-{n}.txt"
    os.replace(paths.log, saved)
    for stale in (paths.socket, paths.pidfile):
        try:
            os.unlink(stale)
        except FileNotFoundError:
            pass
    lines = text.splitlines()
    pid = f" (pid {info['pid']})" if info else ""
    print(f"kernsim: the previous kernel '{paths.name}'{pid} died without halting; the end of its "
          f"log (all of it is in {saved}):")
    for line in lines[-PSTORE_TAIL:]:
        print(line)
    sys.stdout.flush()


def halt(paths: KernelPaths) -> int:
    """Ask the kernel to remove its modules and shut down; wait until it has."""
    info = read_pidfile(paths)
    status = request(paths, "halt")
    if info is not None:
        deadline = time.monotonic() + HALT_TIMEOUT
        while pid_alive(info["pid"]) and time.monotonic() < deadline:
            if _reap(info["pid"]):
                break
            time.sleep(0.01)
    return status


def _reap(pid: int) -> bool:
    """Collect *pid* if it is our child (a foreground test harness's); True if it ended."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def daemon_main(argv: list[str] | None = None) -> int:
    """The detached kernel process (``python -m kernsim.live``)."""
    p = argparse.ArgumentParser(prog="kernsim.live")
    p.add_argument("--name", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--hz", type=int, default=250)
    p.add_argument("--hung-task-timeout", type=int, default=120)
    p.add_argument("--virtual", action="store_true")
    p.add_argument("--ready-fd", type=int, default=None)
    p.add_argument("--lock-fd", type=int, default=None)
    a = p.parse_args(argv)
    if a.lock_fd is not None:
        # Held, not used: the lock lives as long as this process.  Not
        # inherited further (a C module's compiler must not keep it).
        os.set_inheritable(a.lock_fd, False)
    from .server import BootOptions, run_server


    paths = KernelPaths.of(a.name, Path(a.root))
    options = BootOptions(hz=a.hz, virtual=a.virtual, hung_task_timeout=a.hung_task_timeout)
    return run_server(paths, options, ready_fd=a.ready_fd)
