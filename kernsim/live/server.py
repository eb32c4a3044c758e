"""The kernel process: one simulated kernel, served on a Unix socket.

Threads: the process's main thread runs the kernel (it must: greenlets and
the C tasks' hand-offs live there) and handles every request, between
scheduling points, so the kernel is never seen half-way through a change.
Each client connection has a thread of its own that reads the request,
checks it (:mod:`.protocol`), queues it for the kernel and writes the
replies back; a slow or vanished client blocks only its own thread.

The clock decides how the kernel thread waits for work:

- real time: the kernel runs on its own; a queued request interrupts its idle
  wait, or makes it stop at its next scheduling point if it is busy
  (``RealClock.interrupt``);
- virtual time: the kernel runs only while a request needs it -- ``sleep
  SECONDS`` for that long, ``insmod``/``rmmod`` until they return -- and
  settles at the current instant after each (what became runnable runs until
  it sleeps), so a script's output is the same on every run.

``insmod`` and ``rmmod`` run as user processes of the simulation (``kmod``):
the client's request waits for the process's exit, and a client that goes
away leaves the process running, as Ctrl-C on an ``rmmod`` in ``D`` does.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Final

from .. import __version__
from .._core._clock import RealClock
from .._core._kernel import EXITED, PANICKED, Kernel, KernelConfig
from .._core._module import ModuleBuildError, module_name_of
from .._core._printk import Record, format_dmesg_line
from .._core._sched import NSEC_PER_SEC
from .._core._timer import Timer
from .._core._task import Task
from .. import procfs
from ..image import open_image
from ..kmod import insmod, rmmod, shell_status
from .paths import KernelPaths, ensure_private_dir
from .protocol import MAX_REQUEST, LineReader, ProtocolError, check_request, encode

#: Most clients served at once (a `dmesg -w` is one for as long as it follows);
#: more are refused with an error reply.
MAX_CLIENTS: Final = 256
#: How long a client may take to send its request, seconds.
REQUEST_TIMEOUT: Final = 10.0
#: Real time: how long an idle kernel may wait before looking again, ns.
IDLE_SLICE_NS: Final = 3600 * NSEC_PER_SEC
#: Virtual time: the longest a settle (runnable tasks running at one instant)
#: may take, ns.  Settling is for the steps a command set going (a new thread's
#: first lines), which cost nanoseconds; a task that never sleeps must not move
#: the clock by more than this between commands.
SETTLE_LIMIT_NS: Final = NSEC_PER_SEC // 1000
#: halt: how long a module's exit may block before the kernel halts anyway (seconds of its clock).
HALT_RMMOD_LIMIT: Final = 10
#: The kernel log file is rewritten from the ring buffer when it grows past this.
LOG_FILE_MAX: Final = 1 << 20
#: SO_PEERCRED's struct ucred: pid, uid, gid.
_UCRED: Final = struct.Struct("3i")


@dataclass
class BootOptions:
    """What ``kernsim boot`` was asked for."""

    hz: int = 250
    virtual: bool = False
    hung_task_timeout: int = 120


class Client:
    """One connection: the replies queued for it, and whether it is still there."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.replies: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        #: No one reads the replies any more (or never did: the kernel's own requests).
        self.gone = sock is None
        self.tty = "?"
        #: Set when its thread has written the last reply (or given up).
        self.done = threading.Event()
        #: Its final reply is queued.
        self.finished = False

    def send(self, msg: dict[str, Any]) -> None:
        """Queue *msg* (any thread); lost if the client has gone."""
        if not self.gone:
            self.replies.put(msg)

    def finish(self, status: int) -> None:
        self.finished = True
        self.send({"exit": status})

    def err(self, line: str) -> None:
        self.send({"err": line})


class KernelServer:
    """A booted kernel and the socket it is served on."""

    def __init__(self, paths: KernelPaths, options: BootOptions, *,
                 console: Callable[[str], None] | None = None) -> None:
        self.paths = paths
        self.options = options
        self.kernel = Kernel(KernelConfig(hz=options.hz, realtime=not options.virtual,
                                          hung_task_timeout_secs=options.hung_task_timeout))
        self.boot_wall_ns = time.time_ns()
        k = self.kernel
        if isinstance(k.clock, RealClock):
            k.clock.on_interrupt = k.request_stop
        self.requests: deque[tuple[Client, str, dict[str, Any]]] = deque()
        self.requests_ready = threading.Event()
        self.followers: list[Client] = []
        self.clear_seq = -1  # dmesg -C: the last sequence number cleared
        self.halting = False
        #: The halt is complete: every module that could be removed is.
        self.halted = False
        #: The clients connected now (their threads add and remove them).
        self.connected: set[Client] = set()
        self.clients_lock = threading.Lock()
        #: The terminal of each user process a client started (ps's TTY).
        self.ttys: dict[int, str] = {}
        #: The commands still running, and the clients waiting for them.
        self.waiting: dict[Task, Client] = {}
        self.console = console
        #: Who asked for the halt (its client gets the halt's messages).
        self._halt_client: Client | None = None
        self._log_file = open(paths.log, "w", encoding="utf-8", errors="replace")
        for rec in k.log_records():
            self._on_record(rec)
        k.consoles.append(self._on_record)
        k.fault_listeners.append(self._on_fault)
        self.listener: socket.socket | None = None
        if not options.virtual:
            _warm_up_c_modules()


    # -- the kernel log, as it grows ------------------------------------------

    def _on_record(self, rec: Record) -> None:
        line = format_dmesg_line(rec)
        try:
            self._log_file.write(line + "\n")
            self._log_file.flush()
            if self._log_file.tell() > LOG_FILE_MAX:
                self._rewrite_log()
        except OSError:
            pass  # a full disk loses the crash log, not the kernel
        if self.console is not None:
            self.console(line)
        if self.followers:
            snap = procfs.to_json(procfs.kmsg_record(rec))
            for client in self.followers:
                client.send({"rec": snap})

    def _rewrite_log(self) -> None:
        self._log_file.seek(0)
        self._log_file.truncate()
        for rec in self.kernel.log_records():
            self._log_file.write(format_dmesg_line(rec) + "\n")
        self._log_file.flush()

    def _on_fault(self, task: Task, kind: str) -> None:
        """kernsim's watchdog stopped a task: say so where someone looks -- the
        terminal of the command whose module code it was, and the console."""
        if kind != "stopped":
            return
        k = self.kernel
        k.flush_log()
        note = k.stopped_note(task)
        client = self.waiting.get(task)
        if client is not None:
            client.err(note)
        if self.console is not None:
            self.console(note)

    # -- the socket -----------------------------------------------------------

    def listen(self) -> None:
        """Bind the socket (owner-only) and start accepting."""
        path = str(self.paths.socket)
        if len(path.encode()) >= 108:
            raise OSError(errno.ENAMETOOLONG, f"socket path too long for a Unix socket: {path}")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(MAX_CLIENTS)
        self.listener = sock
        threading.Thread(target=self._accept_loop, name="kernsim-accept", daemon=True).start()

    def _accept_loop(self) -> None:
        assert self.listener is not None
        while not self.halting:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # closed at halt
            threading.Thread(target=self._serve_client, args=(sock,), name="kernsim-client",
                             daemon=True).start()

    def _serve_client(self, sock: socket.socket) -> None:
        client = Client(sock)
        with self.clients_lock:
            self.connected.add(client)
            crowded = len(self.connected) > MAX_CLIENTS
        try:
            refusal = self._refusal(sock, crowded)
            if refusal is not None:
                _send_quietly(sock, {"error": refusal})
                return
            sock.settimeout(REQUEST_TIMEOUT)
            try:
                msg = LineReader(sock, MAX_REQUEST).read()
                if msg is None:
                    return
                op, args, tty = check_request(msg)
            except ProtocolError as exc:
                _send_quietly(sock, {"error": f"bad request: {exc}"})
                return
            except (OSError, socket.timeout):
                return
            client.tty = tty
            if op in ("insmod",):
                # Reading or building the module file happens here, off the kernel's thread.
                self._open_module(client, args)
            self.submit(client, op, args)
            self._write_replies(client)
        finally:
            client.gone = True
            client.done.set()
            with self.clients_lock:
                self.connected.discard(client)
            try:
                sock.close()
            except OSError:
                pass

    def _refusal(self, sock: socket.socket, crowded: bool) -> str | None:
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
            _pid, uid, _gid = _UCRED.unpack(creds)
        except OSError:
            return "permission denied: cannot tell who is connecting"
        if uid != os.getuid():
            return (f"permission denied: this kernel belongs to uid {os.getuid()}, "
                    f"not to uid {uid}")
        if crowded:
            return f"too many clients (at most {MAX_CLIENTS} at once); try again"
        return None

    def _open_module(self, client: Client, args: dict[str, Any]) -> None:
        path = args.get("path", "")
        try:
            if not os.path.exists(path):
                raise FileNotFoundError
            if os.path.isdir(path):
                raise IsADirectoryError
            if not os.path.isfile(path):  # /dev/zero, a FIFO: never read them
                raise ValueError("not a regular file")
            image = open_image(path, echo=client.err, insmod=True)
            prepare = getattr(image, "prepare", None)
            if prepare is not None:
                prepare()  # a C module's linking, here rather than in the kernel's thread
            args["image"] = image
        except FileNotFoundError:
            args["image_error"] = "No such file or directory"
        except IsADirectoryError:
            args["image_error"] = "Is a directory"
        except PermissionError:
            args["image_error"] = "Permission denied"
        except ModuleBuildError as exc:
            args["build_error"] = str(exc)
        except Exception as exc:  # an unreadable or foreign file
            args["image_error"] = f"Invalid module format ({exc})"

    def _write_replies(self, client: Client) -> None:
        """Send the replies as they come; notice a client that went away."""
        sock = client.sock
        assert sock is not None  # a connection's client
        sock.settimeout(None)
        while True:
            try:
                msg = client.replies.get(timeout=0.5)
            except queue.Empty:
                if _peer_closed(sock):
                    return
                continue
            if msg is None:
                return
            try:
                sock.sendall(encode(msg))
            except OSError:
                return
            if "exit" in msg or "error" in msg:
                return

    # -- requests, in the kernel's thread -------------------------------------

    def submit(self, client: Client, op: str, args: dict[str, Any]) -> None:
        """Queue a request for the kernel's thread (any thread)."""
        self.requests.append((client, op, args))
        self.requests_ready.set()
        clock = self.kernel.clock
        if isinstance(clock, RealClock):
            clock.interrupt()

    def _handle_requests(self) -> None:
        self.requests_ready.clear()
        while self.requests:
            client, op, args = self.requests.popleft()
            try:
                getattr(self, "op_" + op)(client, args)
            except Exception as exc:  # a bug of kernsim's: report it, keep serving
                import traceback

                traceback.print_exc()
                client.send({"error": f"internal error in the kernel process: {exc!r}"})
        self.followers = [c for c in self.followers if not c.gone]

    def op_status(self, client: Client, args: dict[str, Any]) -> None:
        k = self.kernel
        client.send({"data": {
            "name": self.paths.name, "pid": os.getpid(), "version": __version__,
            "clock": "virtual" if self.options.virtual else "real-time", "hz": k.hz,
            "uptime_ns": k.now, "boot_wall_ns": self.boot_wall_ns,
            "hung_task_timeout": self.options.hung_task_timeout, "release": k.release,
            "modules": len(k.modules), "tasks": len(k.tasks)}})
        client.finish(0)

    def op_tasks(self, client: Client, args: dict[str, Any]) -> None:
        k = self.kernel
        stats = procfs.task_stats(k, self.ttys)
        client.send({"data": {"tasks": [procfs.to_json(t) for t in stats], "now_ns": k.now,
                              "boot_wall_ns": self.boot_wall_ns, "hz": k.hz}})
        client.finish(0)

    def op_modules(self, client: Client, args: dict[str, Any]) -> None:
        client.send({"data": [procfs.to_json(m) for m in procfs.module_stats(self.kernel)]})
        client.finish(0)

    def op_kmsg(self, client: Client, args: dict[str, Any]) -> None:
        k = self.kernel
        records = [] if args.get("new_only") else procfs.kmsg_records(k, self.clear_seq)
        client.send({"data": {"records": [procfs.to_json(r) for r in records],
                              "boot_wall_ns": self.boot_wall_ns}})
        if args.get("clear") and records:
            self.clear_seq = records[-1].seq
        if args.get("follow"):
            self.followers.append(client)  # replies go on until the client goes
        else:
            client.finish(0)

    def op_clear(self, client: Client, args: dict[str, Any]) -> None:
        self.clear_seq = self.kernel.log_next_seq - 1
        client.finish(0)

    def op_insmod(self, client: Client, args: dict[str, Any]) -> None:
        shown = args.get("shown", "")
        if "build_error" in args:
            for line in args["build_error"].splitlines():
                client.err(line)
            client.finish(1)
            return
        if "image_error" in args:
            client.err(f"insmod: ERROR: could not load module {shown}: {args['image_error']}")
            client.finish(1)
            return
        image = args["image"]
        params = args.get("params", "")
        argv = ["insmod", shown] + ([params] if params else [])
        self._start_command(client, "insmod", argv, image.native,
                            lambda tty: insmod(self.kernel, image, shown, params, tty))

    def op_rmmod(self, client: Client, args: dict[str, Any]) -> None:
        name = args.get("name", "")
        force = bool(args.get("force"))
        mod = self.kernel.modules.get(module_name_of(name))
        native = bool(mod is not None and mod.image.native)
        argv = ["rmmod"] + (["-f"] if force else []) + [name]
        self._start_command(client, "rmmod", argv, native,
                            lambda tty: rmmod(self.kernel, name, tty, force=force))

    def _start_command(self, client: Client, comm: str, argv: list[str], native: bool,
                       main: Callable[[Callable[[str], None]], int]) -> Task:
        k = self.kernel

        def on_exit(task: Task) -> None:
            self.ttys.pop(task.pid, None)
            self.waiting.pop(task, None)
            client.finish(shell_status(task.exit_code, client.err))
            if not self.options.virtual:
                k.request_stop()  # a real-time kernel's loop: look at the requests again

        task = k.spawn_process(comm, lambda: main(client.err), tty=client.err, on_exit=on_exit,
                               native=native, argv=argv)
        self.ttys[task.pid] = client.tty
        self.waiting[task] = client
        if self.options.virtual:
            self._run_command_virtual(client, task)
        return task

    def _run_command_virtual(self, client: Client, task: Task) -> None:
        """Virtual time: run the kernel until the command returns -- or, if it
        never does, until the hung-task detector has reported it, its client
        has gone (Ctrl-C) or the kernel is asked to halt.  The command stays
        blocked in the kernel, as a real one would; time moves on with the
        next ``sleep``."""
        k = self.kernel
        limit = k.now + k.hung_report_wait_secs() * NSEC_PER_SEC
        reason = k.run_until_exited(task, limit, step=NSEC_PER_SEC, until_hung=True,
                                    keep_going=lambda: not (client.gone or self.halting))
        if reason != EXITED and not client.gone and not self.halting:
            k.flush_log()
            client.err(f"kernsim: {task.comm} (pid {task.pid}) is still blocked in state "
                       f"{task.state_letter} at {k.uptime:.3f} s of virtual time; it stays "
                       f"blocked in the kernel (see 'kernsim ps'), and the clock moves on "
                       f"with 'kernsim sleep'")
            self.waiting.pop(task, None)

            def forget(t: Task) -> None:
                self.ttys.pop(t.pid, None)

            task.on_exit = forget
            client.finish(1)
        self._settle()

    def op_sleep(self, client: Client, args: dict[str, Any]) -> None:
        seconds = float(args.get("seconds", 0))
        if not 0 <= seconds <= 86400 * 365:
            client.send({"error": f"sleep: invalid time interval '{seconds}'"})
            return
        k = self.kernel
        target = k.now + int(round(seconds * NSEC_PER_SEC))
        if self.options.virtual:
            k.stop_when_idle = False
            while k.now < target and k.panicked is None:
                k.run(target)
            self._settle()
            client.finish(0)
        else:
            # A timer on the kernel's time line replies when the time has come.
            k.add_event(Timer(lambda _t: client.finish(0), name="kernsim sleep"), target)

    def op_halt(self, client: Client, args: dict[str, Any]) -> None:
        self._halt_client = client
        self.halting = True

    # -- running --------------------------------------------------------------


    def _settle(self) -> None:
        """Virtual time: let what is runnable run until it sleeps, without letting time jump."""
        k = self.kernel
        k.stop_when_idle = True
        try:
            k.run(k.now + SETTLE_LIMIT_NS)
        finally:
            k.stop_when_idle = False

    def serve_forever(self) -> None:
        """Run the kernel and serve requests until ``halt`` (or SIGTERM)."""
        k = self.kernel
        if self.options.virtual:
            self._settle()
        while not self.halting:
            if self.options.virtual or k.panicked is not None:
                # Nothing moves until asked (virtual), or ever again (panicked):
                # the requests are all there is to do.
                self.requests_ready.wait(0.5)
            else:
                k.run(k.now + IDLE_SLICE_NS)  # until a request interrupts it
            self._handle_requests()
        self._halt()

    def request_halt(self) -> None:
        """From a signal handler: halt as soon as the kernel's thread can."""
        self.halting = True
        self.requests_ready.set()
        clock = self.kernel.clock
        if isinstance(clock, RealClock):
            clock.interrupt()

    def _halt(self) -> None:
        """Remove what can be removed (newest first), then shut down."""
        client = self._halt_client or Client(None)
        k = self.kernel
        for mod in k.modules_newest_first():
            if k.panicked is not None:
                break
            if mod.state_name != "Live":
                client.err(f"kernsim: halt: module {mod.name} is {mod.state_name.lower()}: "
                           f"halting with it")
                continue
            if mod.init_without_exit:
                # delete_module() would refuse it: say why in one line, not with rmmod's two.
                client.err(f"kernsim: halt: module {mod.name} has no exit function "
                           f"(rmmod cannot remove it): halting with it")
                continue
            self._halt_rmmod(client, mod.name, mod.image.native)
        for task, waiter in list(self.waiting.items()):
            waiter.err(f"kernsim: the kernel halted while {task.comm} (pid {task.pid}) was "
                       f"blocked in state {task.state_letter}")
            waiter.finish(1)
        if self.listener is not None:
            try:
                self.listener.close()
            except OSError:
                pass
        for c in self.followers:
            c.finish(0)
        k.flush_log()
        client.finish(0)
        with self.clients_lock:
            others = [c for c in self.connected if not c.finished]
        for c in others:  # e.g. a real-time 'sleep' still counting
            c.err("kernsim: the kernel halted")
            c.finish(1)
        # Every reply is out before the process ends.
        deadline = time.monotonic() + 5.0
        with self.clients_lock:
            connected = list(self.connected)
        for c in connected:
            c.done.wait(max(0.0, deadline - time.monotonic()))
        self.halted = True

    def _halt_rmmod(self, client: Client, name: str, native: bool) -> None:
        k = self.kernel
        task = k.spawn_process("rmmod", lambda: rmmod(k, name, client.err), tty=client.err,
                               native=native, argv=["rmmod", name])
        reason = k.run_until_exited(task, k.now + HALT_RMMOD_LIMIT * NSEC_PER_SEC)
        if reason not in (EXITED, PANICKED):
            client.err(f"kernsim: halt: rmmod {name} (pid {task.pid}) is blocked in state "
                       f"{task.state_letter}: halting with the module loaded")

    def close(self) -> None:
        """Free the kernel and remove the socket and pid file.  The log goes
        too after a clean halt; after anything else (a bug of kernsim's that
        ended the serving) it stays, for the next boot's pstore."""
        try:
            self.kernel.close()
        finally:
            self._log_file.close()
            doomed = [self.paths.socket, self.paths.pidfile]
            if self.halted:
                doomed.append(self.paths.log)
            for path in doomed:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass


def _warm_up_c_modules() -> None:
    """Load the C modules' runtime now, at boot: the first C insmod would
    otherwise stall a real-time kernel's clock for a quarter of a second."""
    try:
        from ..cmodule.bridge import bridge
        from ..cmodule.loader import _runtime_symbols

        bridge()
        _runtime_symbols()
    except Exception:  # no compiler here: C modules will say so when loaded
        pass


def _send_quietly(sock: socket.socket, msg: dict[str, Any]) -> None:
    try:
        sock.sendall(encode(msg))
    except OSError:
        pass


def _peer_closed(sock: socket.socket) -> bool:
    """Has the client hung up (its end of the stream closed)?"""
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.setblocking(True)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b""


def write_pidfile(paths: KernelPaths, options: BootOptions, boot_wall_ns: int) -> None:
    info = {"pid": os.getpid(), "clock": "virtual" if options.virtual else "real-time",
            "hz": options.hz, "boot_wall_ns": boot_wall_ns, "clean": False}
    tmp = paths.pidfile.with_suffix(".pid.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, paths.pidfile)


def run_server(paths: KernelPaths, options: BootOptions, *, ready_fd: int | None = None,
               console: Callable[[str], None] | None = None) -> int:
    """The kernel process's main: boot, listen, say ready on *ready_fd*, serve."""
    ensure_private_dir(paths.root)
    # The clients' threads hand the interpreter back to the kernel's thread
    # within 0.5 ms rather than the default 5 ms: a timer's lateness while
    # clients are being served.
    sys.setswitchinterval(0.0005)
    server = KernelServer(paths, options, console=console)
    try:
        server.listen()
        write_pidfile(paths, options, server.boot_wall_ns)
        # SIGTERM and SIGINT (Ctrl-C in the foreground) halt the kernel
        # cleanly.  Handling SIGINT also makes a KeyboardInterrupt that module
        # code raises a fault of that module, never the kernel's end.
        signal.signal(signal.SIGTERM, lambda *_: server.request_halt())
        signal.signal(signal.SIGINT, lambda *_: server.request_halt())
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        server.serve_forever()
    finally:
        server.close()
    return 0
