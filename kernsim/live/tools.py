"""The tools as a user types them, in front of a live kernel.

Each takes its arguments the way the real tool does (kmod's ``insmod``,
``rmmod``, ``lsmod``; procps's ``ps``; util-linux's ``dmesg``), with the real
tool's messages and exit statuses for mistakes, then talks to the kernel
(:mod:`.client`).  A missing or dead kernel is kernsim's own one-line error
(exit status 1).
"""

from __future__ import annotations

import getopt
import os
import sys
from typing import Any, Callable, Final

from .. import procfs
from .client import KernelError, query, request
from .paths import KernelPaths

#: What ``insmod -V`` / ``rmmod -V`` say (Debian 12's kmod).
KMOD_VERSION: Final = "kmod version 30\n+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL"

Tool = Callable[[KernelPaths, list[str]], int]


def _kmod_options(prog: str, argv: list[str], usage: str) -> tuple[list[tuple[str, str]], list[str]] | int:
    """getopt_long("fsvVh") as kmod's insmod/rmmod call it; an int is the exit status."""
    try:
        opts, rest = getopt.gnu_getopt(argv, "fsvVh", ["force", "syslog", "verbose", "version", "help"])
    except getopt.GetoptError as exc:
        opt = exc.opt
        if len(opt) > 1:
            print(f"{prog}: unrecognized option '--{opt}'", file=sys.stderr)
        else:
            print(f"{prog}: invalid option -- '{opt}'", file=sys.stderr)
        print(f"{prog}: ERROR: unexpected getopt_long() value '?'.", file=sys.stderr)
        return 1
    for o, _ in opts:
        if o in ("-h", "--help"):
            print(usage)
            return 0
        if o in ("-V", "--version"):
            print(KMOD_VERSION)
            return 0
    return opts, rest


def insmod_main(paths: KernelPaths, argv: list[str]) -> int:
    parsed = _kmod_options("insmod", argv, "Usage:\n\tinsmod [options] filename [args]\nOptions:\n"
                                           "\t-V, --version     show version\n"
                                           "\t-h, --help        show this help")
    if isinstance(parsed, int):
        return parsed
    _opts, rest = parsed
    if not rest:
        print("insmod: ERROR: missing filename.", file=sys.stderr)
        return 1
    shown, params = rest[0], " ".join(rest[1:])  # insmod joins the arguments with spaces
    path = shown if shown == "-" else os.path.abspath(shown)
    return request(paths, "insmod", {"path": path, "shown": shown, "params": params})


def rmmod_main(paths: KernelPaths, argv: list[str]) -> int:
    parsed = _kmod_options("rmmod", argv, "Usage:\n\trmmod [options] modulename ...\nOptions:\n"
                                          "\t-f, --force       forces a module unload and may crash your\n"
                                          "\t                  machine. This requires Forced Module Removal\n"
                                          "\t                  option in your kernel. DANGEROUS\n"
                                          "\t-s, --syslog      print to syslog, not stderr\n"
                                          "\t-v, --verbose     enables more messages\n"
                                          "\t-V, --version     show version\n"
                                          "\t-h, --help        show this help")
    if isinstance(parsed, int):
        return parsed
    opts, names = parsed
    if not names:
        print("rmmod: ERROR: missing module name.", file=sys.stderr)
        return 1
    force = any(o in ("-f", "--force") for o, _ in opts)
    status = 0
    for name in names:
        code = request(paths, "rmmod", {"name": name, "force": force})
        if code >= 128:
            return code  # killed by its module's oops: the shell's status, the rest not tried
        if code != 0:
            status = 1
    return status


def format_lsmod(modules: list[procfs.ModuleStat]) -> str:
    """kmod's ``lsmod`` of ``/proc/modules`` (newest first): ``%-19s %8ld  %d``,
    then the users after a space, comma-separated (tools/lsmod.c)."""
    lines = ["Module                  Size  Used by"]
    for m in modules:
        line = "%-19s %8d  %d" % (m.name, m.size, m.refcnt)
        if m.holders:
            line += " " + ",".join(m.holders)
        lines.append(line)
    return "\n".join(lines) + "\n"


def lsmod_main(paths: KernelPaths, argv: list[str]) -> int:
    if argv:
        print("Usage: lsmod", file=sys.stderr)
        return 1
    data = query(paths, "modules")
    modules = [procfs.from_json(procfs.ModuleStat, m) for m in data]
    sys.stdout.write(format_lsmod(modules))
    return 0


def ps_main(paths: KernelPaths, argv: list[str]) -> int:
    from ..procps import ps
    from .client import terminal_name

    data = query(paths, "tasks")
    tasks = [procfs.from_json(procfs.TaskStat, t) for t in data["tasks"]]
    return ps(argv, tasks, now_ns=data["now_ns"], boot_wall_ns=data["boot_wall_ns"],
              hz=data["hz"], caller_tty=terminal_name(), out=sys.stdout, err=sys.stderr)


def dmesg_main(paths: KernelPaths, argv: list[str]) -> int:
    from ..dmesg import (VERSION_TEXT, DmesgPrinter, DmesgUsageError, color_enabled, parse_dmesg_args,
                         usage_text)

    try:
        opts = parse_dmesg_args(argv)
    except DmesgUsageError as exc:
        print(str(exc), file=sys.stderr)
        return getattr(exc, "status", 1)
    if opts.help:
        sys.stdout.write(usage_text())
        return 0
    if opts.version:
        print(VERSION_TEXT)
        return 0
    for line in opts.warnings:
        print(line, file=sys.stderr)
    if opts.action in ("console_off", "console_on", "console_level"):
        # -D, -E, -n: the console's log level.  kernsim's console (boot
        # --foreground) prints every level, so there is nothing to change.
        print("kernsim: dmesg: the simulated kernel's console has no log level to change; "
              "nothing done", file=sys.stderr)
        return 0
    if opts.clear:  # -C: clear, print nothing
        return request(paths, "clear")
    opts.colorize = color_enabled(opts.color, sys.stdout.isatty(), os.environ.get("TERM"))
    printer: list[DmesgPrinter] = []
    follow = bool(opts.follow or opts.follow_new)

    def show(rec: dict[str, Any]) -> None:
        text = printer[0].feed(procfs.from_json(procfs.KmsgRecord, rec))
        if text:
            sys.stdout.write(text)
            if follow:
                sys.stdout.flush()

    def on_reply(msg: dict[str, Any]) -> None:
        if "data" in msg:
            printer.append(DmesgPrinter(opts, boot_wall_ns=msg["data"]["boot_wall_ns"]))
            for r in msg["data"]["records"]:
                show(r)
        elif "rec" in msg and printer:
            show(msg["rec"])

    status = request(paths, "kmsg", {"clear": bool(opts.read_clear), "follow": follow,
                                     "new_only": bool(opts.follow_new)}, on_reply=on_reply)
    if printer:
        sys.stdout.write(printer[0].finish())
    return status


def modinfo_name(paths: KernelPaths, name: str) -> str | None:
    """The file a loaded module *name* came from, or None (not loaded, no kernel)."""
    try:
        data = query(paths, "modules")
    except KernelError:
        return None
    wanted = name.replace("-", "_")  # as module_name_of() and kmod normalise it
    for m in data:
        if m.get("name") == wanted:
            return str(m.get("path"))
    return None


#: The tools run against a live kernel, by command name.
TOOLS: Final[dict[str, Tool]] = {
    "insmod": insmod_main,
    "rmmod": rmmod_main,
    "lsmod": lsmod_main,
    "ps": ps_main,
    "dmesg": dmesg_main,
}


def run_tool(command: str, paths: KernelPaths, argv: list[str]) -> int:
    try:
        return TOOLS[command](paths, argv)
    except KernelError as exc:
        print(f"kernsim: {exc}", file=sys.stderr)
        return 1
