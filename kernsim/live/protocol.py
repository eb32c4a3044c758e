"""The live kernel's wire protocol: one JSON object a line, both ways.

A client sends one request, ``{"op": OP, "args": {...}, "tty": "pts/0"}``,
and reads replies until a final one:

- ``{"out": LINE}`` / ``{"err": LINE}`` -- a line for its stdout / stderr;
- ``{"data": VALUE}`` -- a snapshot (tasks, modules, log records);
- ``{"rec": RECORD}`` -- a new log record (``dmesg -w``);
- ``{"exit": STATUS}`` -- final: the command's exit status;
- ``{"error": TEXT}`` -- final: the request was refused (malformed, unknown
  op, wrong user); the client prints TEXT and exits 2.

Requests are checked here, field by field, before the kernel sees them: a
malformed one gets an ``error`` reply, never a crash.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Final

#: Longest line either side accepts (a request is small; a task list is not).
MAX_REQUEST: Final = 64 * 1024
MAX_REPLY: Final = 64 * 1024 * 1024


class ProtocolError(Exception):
    """A malformed message; ``str()`` says what is wrong with it."""


#: For each op: its arguments and their types (float accepts int too).
OPS: Final[dict[str, dict[str, tuple[type, ...]]]] = {
    "status": {},
    "tasks": {},
    "modules": {},
    "kmsg": {"clear": (bool,), "follow": (bool,), "new_only": (bool,)},
    "clear": {},
    "insmod": {"path": (str,), "shown": (str,), "params": (str,)},
    "rmmod": {"name": (str,), "force": (bool,)},
    "sleep": {"seconds": (int, float)},
    "halt": {},
}


def encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("not a JSON object")
    return msg


def check_request(msg: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """(op, args, tty) of a well-formed request; ProtocolError otherwise."""
    op = msg.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise ProtocolError(f"unknown op {op!r}")
    args = msg.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("args must be an object")
    spec = OPS[op]
    for key, value in args.items():
        if key not in spec:
            raise ProtocolError(f"{op}: unknown argument {key!r}")
        if isinstance(value, bool) and bool not in spec[key] or not isinstance(value, spec[key]):
            raise ProtocolError(f"{op}: argument {key!r} has the wrong type")
    tty = msg.get("tty", "?")
    if not isinstance(tty, str) or len(tty) > 64:
        raise ProtocolError("tty must be a short string")
    extra = set(msg) - {"op", "args", "tty"}
    if extra:
        raise ProtocolError(f"unknown fields {sorted(extra)}")
    return op, args, tty


class LineReader:
    """Read newline-terminated messages from a socket, at most *limit* bytes each."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock = sock
        self.limit = limit
        self.buf = b""

    def read(self) -> dict[str, Any] | None:
        """The next message, or None at end of stream; ProtocolError if too long
        or malformed (a stream cut mid-line is the end of stream)."""
        while b"\n" not in self.buf:
            if len(self.buf) > self.limit:
                raise ProtocolError(f"message longer than {self.limit} bytes")
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        if len(line) > self.limit:
            raise ProtocolError(f"message longer than {self.limit} bytes")
        return decode(line)
