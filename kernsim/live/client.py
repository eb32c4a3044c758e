"""The tools' side of the socket: find the kernel, send one request, read replies.

A kernel that was never booted, one whose process died (its socket is still
there but no one listens, or the connection breaks before the final reply),
and one that refuses us are three different errors, each one clear line.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any, Callable, Final

from .paths import KernelPaths
from .protocol import MAX_REPLY, LineReader, ProtocolError, encode

#: How long to wait for the kernel to accept a connection, seconds.
CONNECT_TIMEOUT: Final = 10.0


class KernelError(Exception):
    """No usable kernel; ``str()`` is the one-line explanation."""


class NoKernel(KernelError):
    """No kernel of that name has been booted."""


class KernelGone(KernelError):
    """The kernel's process died (a crash): its socket is left, no one answers."""


class Refused(KernelError):
    """The kernel refused the request (another user's, malformed, too busy)."""


def read_pidfile(paths: KernelPaths) -> dict[str, Any] | None:
    try:
        info = json.loads(paths.pidfile.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None


def pid_alive(pid: int) -> bool:
    """Is process *pid* running?  A zombie (dead, not yet collected by its
    parent) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True  # no /proc: trust kill()
    # "pid (comm) S ...": the state follows the last ')' (comm may hold any byte).
    return stat[stat.rfind(b")") + 2:][:1] != b"Z"


def _gone(paths: KernelPaths, why: str) -> KernelGone:
    info = read_pidfile(paths)
    pid = f" (pid {info['pid']})" if info else ""
    return KernelGone(f"the kernel '{paths.name}'{pid} is gone: {why}; 'kernsim boot' starts a "
                      f"new one and shows the old one's last messages")


def connect(paths: KernelPaths) -> socket.socket:
    """A connection to the kernel called ``paths.name``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(str(paths.socket))
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        sock.close()
        info = read_pidfile(paths)
        if isinstance(exc, FileNotFoundError) and info is None and not paths.log.exists():
            where = "" if paths.name == "default" else f" --name {paths.name}"
            raise NoKernel(f"no kernel is running (start one with 'kernsim{where} boot')") from None
        if info is not None and pid_alive(info["pid"]) and isinstance(exc, FileNotFoundError):
            raise KernelGone(f"the kernel '{paths.name}' (pid {info['pid']}) has no socket "
                             f"(it was removed): 'kernsim halt' cannot reach it; kill {info['pid']}") \
                from None
        raise _gone(paths, "its process died") from None
    except PermissionError:
        sock.close()
        raise Refused(f"permission denied: {paths.socket} is not yours") from None
    except OSError as exc:
        sock.close()
        raise KernelError(f"cannot connect to {paths.socket}: {exc.strerror or exc}") from None
    sock.settimeout(None)
    return sock


def terminal_name() -> str:
    """The caller's terminal as ps shows it (``pts/0``), or ``?``."""
    for fd in (0, 1, 2):
        try:
            name = os.ttyname(fd)
        except OSError:
            continue
        return name[5:] if name.startswith("/dev/") else name
    return "?"


def request(paths: KernelPaths, op: str, args: dict[str, Any] | None = None, *,
            on_reply: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Send one request and hand every non-final reply to *on_reply* (default:
    print ``out``/``err`` lines); the final exit status.  Raises KernelError."""
    handle = on_reply or print_reply
    sock = connect(paths)
    try:
        try:
            sock.sendall(encode({"op": op, "args": args or {}, "tty": terminal_name()}))
        except OSError:
            raise _gone(paths, "it died while this command ran") from None
        reader = LineReader(sock, MAX_REPLY)
        while True:
            try:
                msg = reader.read()
            except ProtocolError as exc:
                raise KernelError(f"garbled reply from the kernel: {exc}") from None
            except OSError:
                msg = None
            if msg is None:
                raise _gone(paths, "it died while this command ran")
            if "error" in msg:
                raise Refused(str(msg["error"]))
            if "exit" in msg:
                status = msg["exit"]
                return status if isinstance(status, int) else 1
            handle(msg)
    finally:
        sock.close()


def query(paths: KernelPaths, op: str, args: dict[str, Any] | None = None) -> Any:
    """The ``data`` of a request that answers with one snapshot."""
    box: list[Any] = []

    def keep(msg: dict[str, Any]) -> None:
        if "data" in msg:
            box.append(msg["data"])
        else:
            print_reply(msg)

    request(paths, op, args, on_reply=keep)
    if not box:
        raise KernelError(f"the kernel sent no data for {op}")
    return box[0]


def print_reply(msg: dict[str, Any]) -> None:
    """Print an ``out``/``err`` reply as the tool's own output."""
    if "out" in msg:
        print(msg["out"], flush=True)
    elif "err" in msg:
        sys.stdout.flush()
        print(msg["err"], file=sys.stderr, flush=True)


__all__ = ["KernelError", "NoKernel", "KernelGone", "Refused", "connect", "request", "query",
           "read_pidfile", "pid_alive", "terminal_name"]
