"""printk: the kernel log (``kernel/printk/printk.c``, ``include/linux/printk.h``).

Each ``printk`` call creates or extends one *record* {seq, timestamp, level,
text}.  The rules are the kernel's (``vprintk_store``): leading ``KERN_SOH``
prefixes set the level or mark a continuation; one trailing newline is
removed and *finalizes* the record; a continuation (``pr_cont``) is appended
to the previous record only if that record is still open and was written by
the same task; any new record finalizes the open one.  Readers (dmesg, the
console) only ever see finalized records.

Formatting is C's ``vsnprintf`` with the kernel's differences (``%p`` prints a
hashed address, ``%pS`` a symbol, ``(null)`` for a NULL ``%s``), implemented
by :func:`format_printf`.  As ``lib/vsprintf.c``'s ``format_decode()``, it
knows no ``%n`` and no floating point: any conversion but ``c s p d i o u x X
%`` (or a qualifier but ``hh h ll l L z t``) is ``FORMAT_TYPE_INVALID``, warned
about once per boot, and ``vsnprintf()`` stops there (``goto out``) -- the
message is the text before it, its newline lost with the rest.
"""

from __future__ import annotations

import operator
import re
import sys
from collections import deque
from typing import Any, Callable, Final

from .._safe_text import safe_fwrite
from ._current import cur
from ._errno import ErrPtr
from ._export import export, export_values

KERN_SOH: Final = "\001"
KERN_EMERG: Final = KERN_SOH + "0"
KERN_ALERT: Final = KERN_SOH + "1"
KERN_CRIT: Final = KERN_SOH + "2"
KERN_ERR: Final = KERN_SOH + "3"
KERN_WARNING: Final = KERN_SOH + "4"
KERN_NOTICE: Final = KERN_SOH + "5"
KERN_INFO: Final = KERN_SOH + "6"
KERN_DEBUG: Final = KERN_SOH + "7"
KERN_DEFAULT: Final = ""
KERN_CONT: Final = KERN_SOH + "c"

LOGLEVEL_NAMES: Final = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
#: Level of a message printed without one (CONFIG_MESSAGE_LOGLEVEL_DEFAULT).
DEFAULT_MESSAGE_LOGLEVEL: Final = 4

export_values(__name__, "linux/kern_levels.h", {
    "KERN_SOH": KERN_SOH, "KERN_EMERG": KERN_EMERG, "KERN_ALERT": KERN_ALERT,
    "KERN_CRIT": KERN_CRIT, "KERN_ERR": KERN_ERR, "KERN_WARNING": KERN_WARNING,
    "KERN_NOTICE": KERN_NOTICE, "KERN_INFO": KERN_INFO, "KERN_DEBUG": KERN_DEBUG,
    "KERN_DEFAULT": KERN_DEFAULT, "KERN_CONT": KERN_CONT,
})


class Record:
    """One record of the kernel log."""

    __slots__ = ("seq", "ts", "level", "facility", "text", "caller", "final")

    def __init__(self, seq: int, ts: int, level: int, text: str, caller: int, facility: int = 0) -> None:
        self.seq = seq
        #: Timestamp, ns since boot (of the first fragment).
        self.ts = ts
        self.level = level
        self.facility = facility
        self.text = text
        #: pid of the task that wrote it (0: no task) -- who may continue it.
        self.caller = caller
        self.final = False

    def __repr__(self) -> str:
        return f"<Record {self.seq} {format_timestamp(self.ts)} <{self.level}> {self.text!r}>"


def format_timestamp(ts_ns: int) -> str:
    """The kernel's ``[%5lu.%06lu]`` prefix (microseconds truncated, not rounded)."""
    return "[%5d.%06d]" % (ts_ns // 1_000_000_000, ts_ns % 1_000_000_000 // 1000)


def format_dmesg_line(record: Record) -> str:
    """A record as ``dmesg`` prints it: the timestamp, then the text, escaped as
    dmesg escapes it; lines of a multi-line record after the first are indented
    to the text column."""
    if not record.text:
        return ""  # util-linux prints an empty record as an empty line
    prefix = format_timestamp(record.ts) + " "
    return prefix + safe_fwrite(record.text, len(prefix), noescape=False)


class PrintkLog:
    """The log buffer: records, continuation state, and readers (consoles)."""

    def _init_printk(self, *, log_buf_len: int = 1 << 17, record_max: int = 1024) -> None:
        #: Finalized and open records, oldest first.
        self.log: deque[Record] = deque()
        self.log_bytes = 0
        self.log_buf_len = log_buf_len
        #: Longest formatted message (including its level prefix) kept: 1023 on
        #: 6.7 (PRINTKRB_RECORD_MAX), 991 on 6.1 (LOG_LINE_MAX).
        self.record_max = record_max
        self.log_next_seq = 0
        self.log_open: Record | None = None
        #: Called with each record when it is finalized (readers see it then).
        self.consoles: list[Callable[[Record], None]] = []

    def vprintk(self, text: str, caller: int | None = None) -> int:
        """Store an already formatted message; return the bytes stored."""
        if len(text) > self.record_max - 1:
            text = text[: self.record_max - 1]
        level = -1
        cont = False
        while len(text) >= 2 and text[0] == KERN_SOH:
            c = text[1]
            if "0" <= c <= "7":
                if level < 0:
                    level = ord(c) - 48
            elif c == "c":
                cont = True
            elif c != "d":  # KERN_SOH 'd' (default) is accepted and ignored
                break
            text = text[2:]
        final = text.endswith("\n")
        if final:
            text = text[:-1]
        if caller is None:
            task = self.current  # type: ignore[attr-defined]
            caller = task.pid if task is not None else 0
        rec = self.log_open
        if cont and rec is not None and rec.caller == caller and len(rec.text) + len(text) < self.record_max:
            rec.text += text
            if final:
                self._finalize(rec)
            return len(text)
        if rec is not None:
            self._finalize(rec)
        if level < 0:
            level = DEFAULT_MESSAGE_LOGLEVEL
        rec = Record(self.log_next_seq, self.now, level, text, caller)  # type: ignore[attr-defined]
        self.log_next_seq += 1
        self.log.append(rec)
        self.log_open = rec
        if final:
            self._finalize(rec)
        return len(text)

    def _finalize(self, rec: Record) -> None:
        rec.final = True
        if self.log_open is rec:
            self.log_open = None
        # Ring buffer accounting: text + a 16-byte header, 8-byte aligned; the
        # oldest records are overwritten when it is full.
        self.log_bytes += (len(rec.text) + 16 + 7) & ~7
        while self.log_bytes > self.log_buf_len and len(self.log) > 1:
            old = self.log.popleft()
            self.log_bytes -= (len(old.text) + 16 + 7) & ~7
        for console in self.consoles:
            console(rec)

    def flush_log(self) -> None:
        """Finalize an open (unterminated) record so readers see it."""
        if self.log_open is not None:
            self._finalize(self.log_open)

    def log_records(self) -> list[Record]:
        """The finalized records, oldest first (what ``dmesg`` reads)."""
        return [r for r in self.log if r.final]

    def printk_ln(self, level: str, text: str) -> None:
        """Kernel-internal: log one complete line at *level* (a KERN_* prefix)."""
        self.vprintk(level + text + "\n")


# -- vsnprintf -------------------------------------------------------------

# format_decode(): flags, width, precision, the qualifiers it knows (_tolower(c)
# == 'l' takes 'L' too), then any one character (or the end: "%\0").
_SPEC = re.compile(
    r"%(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d*))?"
    r"(?P<length>hh|h|ll|l|L|z|t)?(?P<conv>.?)", re.DOTALL
)
_CONVERSIONS: Final = frozenset("cspdiouxX%")
_BITS: Final = {None: 32, "hh": 8, "h": 16, "l": 64, "ll": 64, "z": 64, "t": 64, "L": 64}
_PTR_EXT = re.compile(r"[A-Za-z0-9]*")

_format_cache: dict[str, list[Any]] = {}


def _parse_format(fmt: str) -> list[Any]:
    pieces: list[Any] = []
    pos = 0
    for m in _SPEC.finditer(fmt):
        if m.start() > pos:
            pieces.append(fmt[pos:m.start()])
        pieces.append(m)
        pos = m.end()
    if pos < len(fmt):
        pieces.append(fmt[pos:])
    return pieces


def _ptr_hash(value: int) -> int:
    # The kernel prints hashed pointers (siphash with a boot-time key): a
    # stable per-object number that does not reveal the address.
    return (value * 0x9E3779B1) & 0xFFFFFFFF


#: The kernel frames between vsnprintf() and the caller of printk() (6.x:
#: vprintk() and vprintk_default() tail-call, leaving no frame).  Offsets are
#: representative, not from a build.
PRINTK_FRAMES: Final = ("vsnprintf+0x2d1/0x5c0", "vprintk_store+0x1b6/0x4b0",
                        "vprintk_emit+0xd6/0x2b0", "_printk+0x58/0x80")
#: Where format_decode()'s WARN_ONCE sits as 6.8 reports it (a 6.8-rc5
#: report puts set_precision()'s WARN_ONCE, 41 lines below it, at
#: lib/vsprintf.c:2721; a 2025 report shows format_decode at 2680).  The
#: same line is assumed for 6.1-6.7 (not checked against their builds).
FORMAT_DECODE_WARN: Final = ("lib/vsprintf.c:2680", "format_decode+0x49c/0x5d0")


def _unsupported(conv: str, via: tuple[str, ...]) -> None:
    """format_decode()'s ``WARN_ONCE(1, "Please remove unsupported %%%c in
    format string\n", *fmt)``: once per boot, whatever the character."""
    k = cur.k
    if not k or ("vsprintf", "format_decode") in k.warned_once:
        return
    k.warned_once.add(("vsprintf", "format_decode"))
    from ._warn import _warn_report  # (_warn formats its messages with this module)

    trace = k.trace_from_frame(sys._getframe(2))
    while trace and trace[0].split("+")[0] in ("printk", "_printk"):
        trace.pop(0)  # the Python printk() is the _printk of *via*
    task = k.current
    site, rip = FORMAT_DECODE_WARN
    _warn_report(site, f"Please remove unsupported %{conv or chr(0)} in format string", 0,
                 rip=rip, trace=list(via) + trace + (k.trace_base(task) if task else []))


def format_printf(fmt: str, args: tuple[Any, ...], via: tuple[str, ...] = PRINTK_FRAMES) -> str:
    """The kernel's ``vsnprintf(fmt, args)`` for Python values.  *via*: the
    kernel frames from vsnprintf() to the caller, for the warning of an
    unsupported conversion."""
    if "%" not in fmt:
        return fmt
    pieces = _format_cache.get(fmt)
    if pieces is None:
        pieces = _format_cache[fmt] = _parse_format(fmt)
    out: list[str] = []
    it = iter(args)
    skip_ptr_ext = False
    for index, piece in enumerate(pieces):
        if isinstance(piece, str):
            if skip_ptr_ext:
                skip_ptr_ext = False
                ext = _PTR_EXT.match(piece)
                piece = piece[ext.end():] if ext else piece
            out.append(piece)
            continue
        m = piece
        conv = m.group("conv")
        if conv not in _CONVERSIONS:
            _unsupported(conv, via)
            break  # vsnprintf(): "goto out"
        if conv == "%":
            out.append("%")
            continue
        flags = m.group("flags") or ""
        width = m.group("width")
        prec = m.group("prec")
        try:
            if width == "*":
                width = str(operator.index(next(it)))
            if prec == "*":
                prec = str(operator.index(next(it)))
            arg = next(it)
        except StopIteration:
            raise TypeError(f"printk format {fmt!r}: not enough arguments") from None
        spec = "%" + flags + (width or "") + ("." + prec if prec is not None else "")
        if conv in "di":
            bits = _BITS[m.group("length")]
            v = operator.index(arg) & ((1 << bits) - 1)
            if v >> (bits - 1):
                v -= 1 << bits
            out.append((spec + "d") % v)
        elif conv in "uxX":
            bits = _BITS[m.group("length")]
            v = operator.index(arg) & ((1 << bits) - 1)
            out.append((spec + ("d" if conv == "u" else conv)) % v)
        elif conv == "o":
            bits = _BITS[m.group("length")]
            v = operator.index(arg) & ((1 << bits) - 1)
            out.append(_format_octal(v, flags, width, prec))
        elif conv == "c":
            # %c prints its int argument as (unsigned char).
            char = chr(operator.index(arg) & 0xFF) if isinstance(arg, int) else str(arg)[:1]
            out.append((spec + "s") % char)
        elif conv == "s":
            out.append((spec + "s") % ("(null)" if arg is None else str(arg)))
        else:  # %p and its extensions: the extension letters follow the 'p'
            nxt = pieces[index + 1] if index + 1 < len(pieces) else ""
            ext = ""
            if isinstance(nxt, str):
                em = _PTR_EXT.match(nxt)
                ext = em.group(0) if em else ""
                skip_ptr_ext = bool(ext)
            out.append(_format_pointer(arg, ext, flags, width))
    return "".join(out)


def _format_octal(v: int, flags: str, width: str | None, prec: str | None) -> str:
    """C's ``%o``: the ``#`` form prefixes a single ``0`` (never Python's ``0o``),
    and none when the digits already start with one (the value 0)."""
    digits = "%.*o" % (int(prec or 0), v) if prec is not None else "%o" % v
    if "#" in flags and not digits.startswith("0"):
        digits = "0" + digits
    pad = int(width or 0) - len(digits)
    if pad <= 0:
        return digits
    if "-" in flags:
        return digits + " " * pad
    if "0" in flags and prec is None:
        return "0" * pad + digits
    return " " * pad + digits


def _format_pointer(arg: Any, ext: str, flags: str, width: str | None) -> str:
    if ext[:1] in ("S", "s", "F", "f", "B"):
        name = getattr(arg, "__name__", None) or getattr(arg, "name", None)
        if name is None:
            return "0x0" if arg is None else str(arg)
        return name if ext[:1] in ("s", "f") else f"{name}+0x0/0x10"
    # ptr_to_id(): "Print the real pointer value for NULL and error pointers,
    # as they are not actual addresses."
    if arg is None:
        return "0000000000000000"
    if isinstance(arg, ErrPtr):
        return "%016x" % (arg.errno & 0xFFFFFFFFFFFFFFFF)
    addr = arg if isinstance(arg, int) else int(getattr(arg, "kaddr", 0) or (0xFFFF888000000000 + (id(arg) & 0xFFFFFF) * 16))
    if ext[:1] == "x":
        return "%016x" % (addr & 0xFFFFFFFFFFFFFFFF)
    return "%016x" % _ptr_hash(addr)


# -- the printk API ------------------------------------------------------

@export("linux/printk.h")
def printk(fmt: str, *args: Any) -> int:
    """Log a message; a leading ``KERN_*`` prefix sets its level (default 4, warn)."""
    return cur.k.vprintk(format_printf(fmt, args))


def _leveled(name: str, level: str) -> Callable[..., int]:
    def pr(fmt: str, *args: Any) -> int:
        return cur.k.vprintk(level + format_printf(fmt, args))

    pr.__name__ = pr.__qualname__ = name
    pr.__doc__ = f"``printk({level!r} fmt, ...)``"
    return export("linux/printk.h", kind="macro")(pr)


pr_emerg = _leveled("pr_emerg", KERN_EMERG)
pr_alert = _leveled("pr_alert", KERN_ALERT)
pr_crit = _leveled("pr_crit", KERN_CRIT)
pr_err = _leveled("pr_err", KERN_ERR)
pr_warn = _leveled("pr_warn", KERN_WARNING)
pr_notice = _leveled("pr_notice", KERN_NOTICE)
pr_info = _leveled("pr_info", KERN_INFO)
pr_cont = _leveled("pr_cont", KERN_CONT)


@export("linux/printk.h", kind="macro")
def pr_debug(fmt: str, *args: Any) -> int:
    """Compiled to nothing unless dynamic debug enables the call site, which is
    off by default (Debian's CONFIG_DYNAMIC_DEBUG): prints nothing, returns 0."""
    return 0
