"""util-linux ``dmesg`` (2.38.1, as Debian 12 ships it) over /dev/kmsg records.

A real ``dmesg`` parses its options with ``getopt_long()`` and then reads one
record per ``read()`` of ``/dev/kmsg``; kernsim's gets the records as
:class:`~kernsim.procfs.KmsgRecord` snapshots and formats them the way
``sys-utils/dmesg.c`` does: the same options, the same mutual exclusions and
error texts (glibc's getopt messages, ``Try 'dmesg --help' for more
information.``), the same prefixes (timestamp, ``-x`` facility:level, ``-r``
raw priority), the indentation of the continuation lines of a multi-line
record and the ``\\xNN`` escaping of unprintable characters.

Two entry points: :func:`format_record` formats one record without state (the
caller passes the timestamp of the previous printed record, which ``-d`` and
``-e`` need), and :class:`DmesgPrinter` keeps that state itself and also
writes ``--json`` output, whose brackets span all records.

Colours (``-L``/``--color``) are the built-in default scheme of
``sys-utils/dmesg.c`` (no ``terminal-colors.d`` files are read): the
timestamp green, a subsystem prefix (the text before the first ``": "``)
brown, the rest of an alert, crit, err or warn message (or one that says
"segfault at") in its level's colour.  :func:`color_enabled` decides
``auto`` as ``lib/colors.c`` does: only when stdout is a terminal.

What is not simulated: the pager, and reading a file (``-F``: refused with a
clear word).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Final

from ._safe_text import safe_fwrite
from .procfs import KmsgRecord

__all__ = ["DmesgOptions", "DmesgUsageError", "DmesgPrinter", "parse_dmesg_args",
           "format_record", "color_enabled", "COLORS", "usage_text", "VERSION_TEXT", "LEVEL_NAMES",
           "FACILITY_NAMES"]

#: What ``dmesg -V`` prints.
VERSION_TEXT: Final = "dmesg from util-linux 2.38.1"

#: Level names by number (``level_names[]``).
LEVEL_NAMES: Final = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
_LEVEL_HELP: Final = ("system is unusable", "action must be taken immediately",
                      "critical conditions", "error conditions", "warning conditions",
                      "normal but significant condition", "informational",
                      "debug-level messages")
#: Facility names by number (``facility_names[]`` of 2.38: kern .. ftp).
FACILITY_NAMES: Final = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr",
                         "news", "uucp", "cron", "authpriv", "ftp")
_FACILITY_HELP: Final = ("kernel messages", "random user-level messages", "mail system",
                         "system daemons", "security/authorization messages",
                         "messages generated internally by syslogd",
                         "line printer subsystem", "network news subsystem",
                         "UUCP subsystem", "clock daemon",
                         "security/authorization messages (private)", "FTP daemon")

_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_TRY_HELP: Final = "Try 'dmesg --help' for more information."

# getopt_long() tables of dmesg.c: short options and (name, argument, key).
_SHORT_OPTS: Final = "CcDdEeF:f:HhJkL::l:n:iPprSs:TtuVWwx"
_NO, _REQUIRED, _OPTIONAL = 0, 1, 2
_LONG_OPTS: Final = (
    ("buffer-size", _REQUIRED, "s"), ("clear", _NO, "C"), ("color", _OPTIONAL, "L"),
    ("console-level", _REQUIRED, "n"), ("console-off", _NO, "D"),
    ("console-on", _NO, "E"), ("decode", _NO, "x"), ("file", _REQUIRED, "F"),
    ("facility", _REQUIRED, "f"), ("follow", _NO, "w"), ("follow-new", _NO, "W"),
    ("human", _NO, "H"), ("help", _NO, "h"), ("json", _NO, "J"), ("kernel", _NO, "k"),
    ("level", _REQUIRED, "l"), ("syslog", _NO, "S"), ("raw", _NO, "r"),
    ("read-clear", _NO, "c"), ("reltime", _NO, "e"), ("show-delta", _NO, "d"),
    ("ctime", _NO, "T"), ("noescape", _NO, "noescape"), ("notime", _NO, "t"),
    ("nopager", _NO, "P"), ("userspace", _NO, "u"), ("version", _NO, "V"),
    ("time-format", _REQUIRED, "time-format"), ("force-prefix", _NO, "p"),
)
#: Options that exclude each other (``excl[]``), rows and columns in ASCII order.
_EXCLUSIVE: Final = (("C", "D", "E", "c", "n", "r"), ("H", "r"), ("L", "r"), ("S", "w"),
                     ("T", "r"), ("d", "r"), ("e", "r"), ("r", "x"), ("r", "t"))

#: The resolved timestamp formats (``DMESG_TIMEFTM_*``).
TIME_FORMATS: Final = ("notime", "ctime", "ctime_delta", "delta", "reltime", "time",
                       "time_delta", "iso")


class DmesgUsageError(Exception):
    """dmesg refused its arguments: ``lines`` go to stderr, exit ``status``.

    ``str()`` is the whole message (its lines joined with newlines); it may
    be empty -- util-linux exits silently on a list like ``-l err,,warn``.
    """

    def __init__(self, lines: list[str], status: int = 1) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.status = status


@dataclass
class DmesgOptions:
    """What the command line asks for (``struct dmesg_control``)."""

    #: ``-l``: the levels to show (None: all).
    levels: frozenset[int] | None = None
    #: ``-f``/``-k``/``-u``: the facilities to show (None: all).
    facilities: frozenset[int] | None = None
    kernel_only: bool = False        # -k
    user_only: bool = False          # -u
    decode: bool = False             # -x
    ctime: bool = False              # -T
    notime: bool = False             # -t
    delta: bool = False              # -d
    reltime: bool = False            # -e / -H
    raw: bool = False                # -r
    json: bool = False               # -J
    force_prefix: bool = False       # -p
    noescape: bool = False           # --noescape
    read_clear: bool = False         # -c: print, then clear
    clear: bool = False              # -C: clear only
    console_off: bool = False        # -D
    console_on: bool = False         # -E
    console_level: int | None = None  # -n: 1..8
    follow: bool = False             # -w
    follow_new: bool = False         # -W (also sets follow)
    syslog: bool = False             # -S: syslog(2) buffer, one prefix per line
    nopager: bool = False            # -P
    color: str | None = None         # -L: auto/always/never (None: not given)
    #: Whether to colour: :func:`color_enabled` of ``color`` and the output.
    colorize: bool = False
    buffer_size: int | None = None   # -s
    help: bool = False               # -h: print usage_text(), exit 0
    version: bool = False            # -V: print VERSION_TEXT, exit 0
    #: The timestamp format after all options are combined (see TIME_FORMATS).
    time_format: str = "time"
    #: Lines dmesg prints to stderr but goes on (e.g. ``-d`` with iso time).
    warnings: list[str] = field(default_factory=list)
    #: ``read``, ``read_clear``, ``clear``, ``console_off``, ``console_on`` or
    #: ``console_level``: the last of -c/-C/-D/-E/-n wins.
    action: str = "read"

    def shows(self, rec: KmsgRecord) -> bool:
        """Whether the level/facility filters let *rec* through (``accept_record()``)."""
        fac, lev = _faclev(rec)
        if self.levels is not None and (fac < 0 or lev not in self.levels):
            return False
        if self.facilities is not None and (fac < 0 or fac not in self.facilities):
            return False
        return True


def usage_text() -> str:
    """``dmesg --help`` (stdout, exit 0)."""
    lines = [
        "", "Usage:", " dmesg [options]", "",
        "Display or control the kernel ring buffer.", "", "Options:",
        " -C, --clear                 clear the kernel ring buffer",
        " -c, --read-clear            read and clear all messages",
        " -D, --console-off           disable printing messages to console",
        " -E, --console-on            enable printing messages to console",
        " -F, --file <file>           use the file instead of the kernel log buffer",
        " -f, --facility <list>       restrict output to defined facilities",
        " -H, --human                 human readable output",
        " -J, --json                  use JSON output format",
        " -k, --kernel                display kernel messages",
        " -L, --color[=<when>]        colorize messages (auto, always or never)",
        "                               colors are enabled by default",
        " -l, --level <list>          restrict output to defined levels",
        " -n, --console-level <level> set level of messages printed to console",
        " -P, --nopager               do not pipe output into a pager",
        " -p, --force-prefix          force timestamp output on each line of multi-line messages",
        " -r, --raw                   print the raw message buffer",
        "     --noescape              don't escape unprintable character",
        " -S, --syslog                force to use syslog(2) rather than /dev/kmsg",
        " -s, --buffer-size <size>    buffer size to query the kernel ring buffer",
        " -u, --userspace             display userspace messages",
        " -w, --follow                wait for new messages",
        " -W, --follow-new            wait and print only new messages",
        " -x, --decode                decode facility and level to readable string",
        " -d, --show-delta            show time delta between printed messages",
        " -e, --reltime               show local time and time delta in readable format",
        " -T, --ctime                 show human-readable timestamp (may be inaccurate!)",
        " -t, --notime                don't show any timestamp with messages",
        "     --time-format <format>  show timestamp using the given format:",
        "                               [delta|reltime|ctime|notime|iso]",
        "Suspending/resume will make ctime and iso timestamps inaccurate.", "",
        " -h, --help                  display this help",
        " -V, --version               display version", "",
        "Supported log facilities:",
    ]
    lines += [f" {name:>7} - {text}" for name, text in zip(FACILITY_NAMES, _FACILITY_HELP)]
    lines += ["", "Supported log levels (priorities):"]
    lines += [f" {name:>7} - {text}" for name, text in zip(LEVEL_NAMES, _LEVEL_HELP)]
    lines += ["", "For more details see dmesg(1)."]
    return "\n".join(lines) + "\n"


# --- option parsing -----------------------------------------------------------


def _getopt(argv: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """glibc ``getopt_long()`` with GNU argument permutation.

    Returns the options in order as (key, argument) and the non-option
    words.  An invalid option ends the list with the key ``?`` (its message
    as argument) -- parsing stops there, as dmesg exits on it.
    """
    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    k = 0
    while k < len(argv):
        word = argv[k]
        k += 1
        if word == "--":
            operands.extend(argv[k:])
            break
        if not word.startswith("-") or word == "-":
            operands.append(word)
            continue
        if word.startswith("--"):
            body = word[2:]
            name, eq, value = body.partition("=")
            exact = [o for o in _LONG_OPTS if o[0] == name]
            matches = exact or [o for o in _LONG_OPTS if o[0].startswith(name)]
            if not matches:
                opts.append(("?", f"dmesg: unrecognized option '--{body}'"))
                return opts, operands
            if len(matches) > 1 and any(m[1:] != matches[0][1:] for m in matches[1:]):
                names = " ".join(f"'--{m[0]}'" for m in matches)
                opts.append(("?", f"dmesg: option '--{body}' is ambiguous; possibilities: {names}"))
                return opts, operands
            lname, has_arg, key = matches[0]
            if eq:
                if has_arg == _NO:
                    opts.append(("?", f"dmesg: option '--{lname}' doesn't allow an argument"))
                    return opts, operands
                opts.append((key, value))
            elif has_arg == _REQUIRED:
                if k >= len(argv):
                    opts.append(("?", f"dmesg: option '--{lname}' requires an argument"))
                    return opts, operands
                opts.append((key, argv[k]))
                k += 1
            else:
                opts.append((key, None))
            continue
        pos = 1
        while pos < len(word):
            c = word[pos]
            pos += 1
            at = _SHORT_OPTS.find(c)
            if c == ":" or at < 0:
                opts.append(("?", f"dmesg: invalid option -- '{c}'"))
                return opts, operands
            spec = _SHORT_OPTS[at + 1:at + 3]
            if spec.startswith(":"):
                if pos < len(word):
                    opts.append((c, word[pos:]))
                elif spec == "::":
                    opts.append((c, None))
                elif k < len(argv):
                    opts.append((c, argv[k]))
                    k += 1
                else:
                    opts.append(("?", f"dmesg: option requires an argument -- '{c}'"))
                    return opts, operands
                break
            opts.append((c, None))
    return opts, operands


def _parse_list(value: str, names: tuple[str, ...], what: str, count: int) -> frozenset[int]:
    """``string_to_bitarray()`` with ``parse_level()``/``parse_facility()``."""
    bits: set[int] = set()
    begin: int | None = None
    for p, ch in enumerate(value):
        if begin is None:
            begin = p
        end = None
        if ch == ",":
            end = p
        if p + 1 == len(value):
            end = p + 1
        if end is None:
            continue
        if end <= begin:
            raise DmesgUsageError([])  # dmesg returns EXIT_FAILURE without a word
        bits.add(_parse_name(value[begin:], end - begin, names, what, count))
        begin = None
    return frozenset(bits)


def _parse_name(text: str, length: int, names: tuple[str, ...], what: str, count: int) -> int:
    """``parse_level(str, len)`` / ``parse_facility()``: a name or a number."""
    if text[:1].isdigit() and text[:1].isascii():
        digits = len(text) - len(text.lstrip("0123456789"))
        if digits == length:
            n = int(text[:digits])
            if n > 2**63 - 1:
                raise DmesgUsageError(
                    [f"dmesg: failed to parse {what} '{text}': Numerical result out of range"])
            if 0 <= n < count:
                return n
    else:
        for i, name in enumerate(names):
            if text[:length].lower() == name[:length] and len(name) == length:
                return i
    raise DmesgUsageError([f"dmesg: unknown {what} '{text}'"])


def parse_dmesg_args(argv: list[str]) -> DmesgOptions:
    """The options of ``dmesg ARGV`` (the words after ``dmesg``).

    Raises :class:`DmesgUsageError` with util-linux's messages.  ``-h`` and
    ``-V`` stop the parsing at once (``help``/``version`` set), as dmesg exits
    there.
    """
    o = DmesgOptions()
    opts, operands = _getopt(argv)
    time_fmt = "time"
    seen: dict[int, str] = {}
    levels: set[int] | None = None
    facilities: set[int] | None = None
    method = "kmsg"
    for key, value in opts:
        if key == "?":
            raise DmesgUsageError([value or "", _TRY_HELP])
        _check_exclusive(key, seen)
        if key == "C":
            o.action = "clear"
        elif key == "c":
            o.action = "read_clear"
        elif key == "D":
            o.action = "console_off"
        elif key == "E":
            o.action = "console_on"
        elif key == "d":
            o.delta = True
        elif key == "e":
            o.reltime = True
            time_fmt = "reltime"
        elif key == "F":
            method = "file:" + (value or "")
        elif key == "f":
            facilities = (facilities or set()) | _parse_list(
                value or "", FACILITY_NAMES, "facility", len(FACILITY_NAMES))
        elif key == "H":
            o.reltime = True
            time_fmt = "reltime"
            o.color = o.color or "auto"
        elif key == "J":
            o.json = True
        elif key == "k":
            o.kernel_only = True
            facilities = (facilities or set()) | {0}
        elif key == "L":
            mode = "auto" if value is None else value.lower()
            if mode not in ("auto", "never", "always"):
                raise DmesgUsageError([f"dmesg: unsupported color mode: '{value}'"])
            o.color = mode
        elif key == "l":
            levels = (levels or set()) | _parse_list(
                value or "", LEVEL_NAMES, "level", len(LEVEL_NAMES))
        elif key == "n":
            o.action = "console_level"
            text = value or ""
            digits = len(text) - len(text.lstrip("0123456789"))
            if text[:1].isdigit() and digits == len(text) and 1 <= int(text) <= 8:
                o.console_level = int(text)
            elif not text[:1].isdigit() and text.lower() in LEVEL_NAMES:
                o.console_level = LEVEL_NAMES.index(text.lower()) + 1
            else:
                raise DmesgUsageError([f"dmesg: unknown level '{text}'"])
        elif key == "P":
            o.nopager = True
        elif key == "p":
            o.force_prefix = True
        elif key == "r":
            o.raw = True
        elif key == "S":
            o.syslog = True
            method = "syslog"
        elif key == "s":
            text = (value or "").strip()
            if not text.isdigit() or not text.isascii() or int(text) > 0xFFFFFFFF:
                raise DmesgUsageError([f"dmesg: invalid buffer size argument: '{value}'"])
            o.buffer_size = max(int(text), 4096)
        elif key == "T":
            o.ctime = True
            time_fmt = "ctime"
        elif key == "t":
            o.notime = True
            time_fmt = "notime"
        elif key == "u":
            o.user_only = True
            facilities = (facilities or set()) | set(range(1, len(FACILITY_NAMES)))
        elif key == "w":
            o.follow = True
        elif key == "W":
            o.follow = o.follow_new = True
        elif key == "x":
            o.decode = True
        elif key == "time-format":
            formats = {"notime": "notime", "ctime": "ctime", "delta": "delta",
                       "reltime": "reltime", "iso": "iso"}
            if value not in formats:
                raise DmesgUsageError([f"dmesg: unknown time format: {value}"])
            time_fmt = formats[value]
        elif key == "noescape":
            o.noescape = True
        elif key == "h":
            o.help = True
            return o
        elif key == "V":
            o.version = True
            return o
        else:  # -i: in the option string, handled nowhere
            raise DmesgUsageError([_TRY_HELP])
    if operands:
        raise DmesgUsageError(["dmesg: bad usage", _TRY_HELP])
    o.levels = frozenset(levels) if levels is not None else None
    o.facilities = frozenset(facilities) if facilities is not None else None
    o.read_clear = o.action == "read_clear"
    o.clear = o.action == "clear"
    o.console_off = o.action == "console_off"
    o.console_on = o.action == "console_on"
    if o.json:
        time_fmt = "time"
        o.delta = o.force_prefix = o.raw = False
        o.noescape = True
    if o.delta:
        if time_fmt == "ctime":
            time_fmt = "ctime_delta"
        elif time_fmt == "time":
            time_fmt = "time_delta"
        elif time_fmt == "iso":
            o.warnings.append(
                "dmesg: --show-delta is ignored when used together with iso8601 time format")
        else:
            time_fmt = "delta"
    o.time_format = time_fmt
    if o.action in ("read", "read_clear"):
        if o.raw and method != "kmsg" and (levels is not None or facilities is not None):
            raise DmesgUsageError(["dmesg: --raw can be used together with --level or "
                                   "--facility only when reading messages from /dev/kmsg"])
        if method.startswith("file:"):
            raise DmesgUsageError([_file_refusal(method[5:])])
    if method != "kmsg":
        o.force_prefix = False  # only kmsg supports multi-line messages
    return o


def _file_refusal(path: str) -> str:
    """``-F FILE``: what is said instead of reading it.  A missing file gets
    dmesg's own error; an existing one is not read -- kernsim's dmesg formats
    only the simulated kernel's records, and a log kernsim saved (pstore/) is
    already text."""
    try:
        os.stat(path)
    except OSError as exc:
        return f"dmesg: cannot open {path}: {exc.strerror}"
    return (f"dmesg: cannot open {path}: kernsim's dmesg reads only the simulated kernel's log "
            f"(-F is not simulated); a log kernsim saved is text: cat {path}")


def _check_exclusive(key: str, seen: dict[int, str]) -> None:
    """``err_exclusive_options()``: a second option of one group is an error."""
    if len(key) != 1:
        return
    for row, group in enumerate(_EXCLUSIVE):
        if key not in group:
            continue
        if row not in seen:
            seen[row] = key
        elif seen[row] != key:
            names = []
            for member in group:
                long = next((name for name, _, k in _LONG_OPTS if k == member), None)
                names.append(f"--{long}" if long else f"-{member}")
            raise DmesgUsageError([f"dmesg: mutually exclusive arguments: {' '.join(names)}"])


# --- formatting -------------------------------------------------------------------


def _faclev(rec: KmsgRecord) -> tuple[int, int]:
    """``parse_faclev()`` of the ``prio`` field: (facility or -1, level)."""
    prio = rec.facility * 8 + rec.level
    fac = (prio & 0x3F8) >> 3
    return (fac if 0 <= fac <= len(FACILITY_NAMES) else -1), prio & 7


def _tv(ns: int) -> tuple[int, int]:
    """The record's timeval, from the µs field of /dev/kmsg."""
    return divmod(ns // 1000, 1_000_000)


def _localtime(boot_wall_ns: int, ts_ns: int) -> time.struct_time:
    """``record_localtime()``: boot time (whole seconds) + record seconds."""
    return time.localtime(boot_wall_ns // 1_000_000_000 + _tv(ts_ns)[0])


def _ctime(tm: time.struct_time) -> str:
    """strftime ``%a %b %e %H:%M:%S %Y``."""
    return (f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}")


def _iso(boot_wall_ns: int, ts_ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS,uuuuuu+HH:MM`` (``ISO_TIMESTAMP_COMMA_T``)."""
    tm = _localtime(boot_wall_ns, ts_ns)
    usec = _tv(ts_ns)[1]
    tmin = int((tm.tm_gmtoff or 0) / 60)
    zhour = int(tmin / 60)
    zmin = abs(int(math.fmod(tmin, 60)))
    return (f"{tm.tm_year:4d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T{tm.tm_hour:02d}:"
            f"{tm.tm_min:02d}:{tm.tm_sec:02d},{usec:06d}{zhour:+03d}:{zmin:02d}")


def _delta(ts_ns: int, prev_ts_ns: int | None) -> float:
    """``record_count_delta()``: 0 when there is no previous timestamp (or it is 0)."""
    if prev_ts_ns is None or prev_ts_ns // 1000 == 0:
        return 0.0
    (s1, u1), (s0, u0) = _tv(ts_ns), _tv(prev_ts_ns)
    return (s1 - s0) + (u1 - u0) / 1e6


def _reltime(rec_tm: time.struct_time, last_tm: tuple[int, int, int], delta: float) -> str:
    if (rec_tm.tm_min, rec_tm.tm_hour, rec_tm.tm_yday - 1) != last_tm:
        return f"[{_MONTHS[rec_tm.tm_mon - 1]}{rec_tm.tm_mday:2d} {rec_tm.tm_hour:02d}:{rec_tm.tm_min:02d}] "
    if delta < 10:
        return f"[  {delta:+8.6f}] "
    return f"[ {delta:+9.6f}] "


def _prefixes(rec: KmsgRecord, opts: DmesgOptions, boot_wall_ns: int,
              prev_ts_ns: int | None) -> tuple[str, str]:
    """The decode prefix and the timestamp prefix of one record."""
    sec, usec = _tv(rec.ts_ns)
    fac, lev = _faclev(rec)
    if opts.raw:
        return "", f"<{rec.facility * 8 + rec.level}>[{sec:5d}.{usec:06d}] "
    fp = ""
    if opts.decode and 0 <= fac < len(FACILITY_NAMES):
        fp = f"{FACILITY_NAMES[fac]:<6}:{LEVEL_NAMES[lev]:<6}: "
    fmt = opts.time_format
    delta = _delta(rec.ts_ns, prev_ts_ns)
    if fmt == "notime":
        ts = ""
    elif fmt == "ctime":
        ts = f"[{_ctime(_localtime(boot_wall_ns, rec.ts_ns))}] "
    elif fmt == "ctime_delta":
        ts = f"[{_ctime(_localtime(boot_wall_ns, rec.ts_ns))} <{delta:12.6f}>] "
    elif fmt == "delta":
        ts = f"[<{delta:12.6f}>] "
    elif fmt == "reltime":
        if prev_ts_ns is None:
            last = (0, 0, 0)  # the zeroed struct tm dmesg starts with
        else:
            lt = _localtime(boot_wall_ns, prev_ts_ns)
            last = (lt.tm_min, lt.tm_hour, lt.tm_yday - 1)
        ts = _reltime(_localtime(boot_wall_ns, rec.ts_ns), last, delta)
    elif fmt == "time_delta":
        ts = f"[{sec:5d}.{usec:06d} <{delta:12.6f}>] "
    elif fmt == "iso":
        ts = f"{_iso(boot_wall_ns, rec.ts_ns)} "
    else:
        ts = f"[{sec:5d}.{usec:06d}] "
    return fp, ts


def format_record(rec: KmsgRecord, opts: DmesgOptions, *, boot_wall_ns: int,
                  prev_ts_ns: int | None) -> str | None:
    """How dmesg prints *rec*: its line(s) joined with ``\\n`` (no final newline),
    ``""`` for an empty record (an empty line), None if ``-l``/``-f``/``-k``/``-u``
    filter it out.

    *boot_wall_ns* is the wall clock at boot (for ``-T``, ``-e``, iso);
    *prev_ts_ns* the timestamp of the previous record printed non-empty (for
    ``-d`` and ``-e``), None before the first.  ``--json`` output needs
    :class:`DmesgPrinter`; here it formats as plain text.
    """
    if not opts.shows(rec):
        return None
    if not rec.text:
        return ""
    if opts.syslog:  # the syslog(2) buffer repeats the prefix on every line
        parts = []
        for line in rec.text.split("\n"):
            one = KmsgRecord(rec.seq, rec.ts_ns, rec.level, rec.facility, line)
            parts.append(_format_one(one, opts, boot_wall_ns, prev_ts_ns) if line else "")
            prev_ts_ns = rec.ts_ns
        return "\n".join(parts)
    return _format_one(rec, opts, boot_wall_ns, prev_ts_ns)


# -- colours: util-linux's include/colors.h sequences, dmesg.c's default scheme --

_RESET: Final = "\033[0m"          # UL_COLOR_RESET, what color_disable() writes
_BOLD: Final = "\033[1m"
_HALFBRIGHT: Final = "\033[2m"
_REVERSE: Final = "\033[7m"
_RED: Final = "\033[31m"
_GREEN: Final = "\033[32m"
_BROWN: Final = "\033[33m"
#: ``colors[]`` of sys-utils/dmesg.c: the scheme's name -> its default sequence.
COLORS: Final = {
    "subsys": _BROWN,
    "time": _GREEN,
    "timebreak": _GREEN + _BOLD,
    "alert": _REVERSE + _RED,
    "crit": _BOLD + _RED,
    "err": _RED,
    "warn": _BOLD,
    "segfault": _HALFBRIGHT + _RED,
}
#: ``set_level_color()``: the levels that have a colour (emerg, notice, info
#: and debug have none).
_LEVEL_COLORS: Final = {1: "alert", 2: "crit", 3: "err", 4: "warn"}


def color_enabled(mode: str | None, isatty: bool, term: str | None) -> bool:
    """``colors_init()`` (lib/colors.c) with no terminal-colors.d files:
    ``never`` and ``always`` are what they say; ``auto`` -- and no ``--color``
    at all, as Debian builds util-linux with colours enabled by default --
    colours only when stdout is a terminal that can show them (TERM set and
    not ``dumb``: what terminfo's color count tells the real one)."""
    if mode == "never":
        return False
    if mode == "always":
        return True
    return isatty and bool(term) and term != "dumb"


def _subsys_delimiter(line: str) -> int:
    """``get_subsys_delimiter()`` (2.38): the index of the first ``':'``
    followed by a blank, or -1."""
    i = line.find(":")
    while 0 <= i < len(line) - 1:
        if line[i + 1] in " \t":
            return i
        i = line.find(":", i + 1)
    return -1


def _colored_text(line: str, level: int, indent: int, noescape: bool) -> str:
    """print_record()'s message part with ``ctl->color``: the subsystem
    prefix in its colour, then the rest in the level's."""
    out = []
    d = _subsys_delimiter(line)
    if d >= 0:
        out.append(COLORS["subsys"] + safe_fwrite(line[:d], indent, noescape) + _RESET)
        line = line[d:]
    name = _LEVEL_COLORS.get(level)
    if name is None and "segfault at" in line:
        name = "segfault"
    if name is None:
        out.append(safe_fwrite(line, indent, noescape))
    else:
        out.append(COLORS[name] + safe_fwrite(line, indent, noescape) + _RESET)
    return "".join(out)


def _format_one(rec: KmsgRecord, opts: DmesgOptions, boot_wall_ns: int,
                prev_ts_ns: int | None) -> str:
    fp, ts = _prefixes(rec, opts, boot_wall_ns, prev_ts_ns)
    indent = len(fp) + len(ts)
    if opts.colorize:
        def text(line: str) -> str:
            return _colored_text(line, rec.level, indent, opts.noescape)

        timebreak = opts.time_format == "reltime" and ts[1:].lstrip()[:1] not in ("+", "-")
        on = COLORS["timebreak" if timebreak else "time"]

        def stamp(t: str) -> str:
            return on + t + _RESET if t else ""
    else:
        def text(line: str) -> str:
            return safe_fwrite(line, indent, opts.noescape)

        def stamp(t: str) -> str:
            return t
    if not opts.force_prefix:
        return fp + stamp(ts) + text(rec.text)
    lines = [line for line in rec.text.split("\n") if line]  # strtok() skips empty ones
    if not lines:
        return fp + stamp(ts)
    again = "[  +0.000000] " if opts.time_format == "reltime" else ts
    return "\n".join((fp + stamp(ts if k == 0 else again) + text(line))
                     for k, line in enumerate(lines))


def _json_string(text: str) -> str:
    """``fputs_quoted_json()``."""
    out = ['"']
    for ch in text:
        if ch == "\0":
            break
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) >= 0x20:
            out.append(ch)
        else:
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
                        "\r": "\\r"}.get(ch, f"\\u00{ord(ch):02x}"))
    out.append('"')
    return "".join(out)


class DmesgPrinter:
    """dmesg's printing loop: feed it the records in order, write what it returns.

    It remembers the previous printed timestamp (``-d``, ``-e``) and writes
    the ``--json`` document around the records (call :meth:`finish` at the end;
    with ``-w`` it is never finished, as dmesg is killed).
    """

    def __init__(self, opts: DmesgOptions, *, boot_wall_ns: int) -> None:
        self.opts = opts
        self.boot_wall_ns = boot_wall_ns
        self.prev_ts_ns: int | None = None
        self._json_open = False

    def feed(self, rec: KmsgRecord) -> str:
        """The output for *rec*, newline included ("" if filtered out)."""
        if self.opts.json:
            return self._json(rec)
        text = format_record(rec, self.opts, boot_wall_ns=self.boot_wall_ns,
                             prev_ts_ns=self.prev_ts_ns)
        if text is None:
            return ""
        if rec.text:
            self.prev_ts_ns = rec.ts_ns
        return text + "\n"

    def finish(self) -> str:
        """What is printed after the last record (closes the JSON document)."""
        if self.opts.json and self._json_open:
            return "\n   ]\n}\n"
        return ""

    def _json(self, rec: KmsgRecord) -> str:
        if not self.opts.shows(rec) or not rec.text:
            return ""
        out = []
        if not self._json_open:
            out.append('{\n   "dmesg": [\n      {\n')
            self._json_open = True
        else:
            out.append(",{\n")
        fac, lev = _faclev(rec)
        fields = []
        if 0 <= fac < len(FACILITY_NAMES):
            if self.opts.decode:
                fields += [f'"fac": {_json_string(FACILITY_NAMES[fac])}',
                           f'"pri": {_json_string(LEVEL_NAMES[lev])}']
            else:
                fields.append(f'"pri": {rec.facility * 8 + rec.level}')
        sec, usec = _tv(rec.ts_ns)
        fields.append(f'"time": {sec:5d}.{usec:06d}')
        fields.append(f'"msg": {_json_string(rec.text)}')
        out.append(",\n".join("         " + f for f in fields))
        out.append("\n      }")
        return "".join(out)
