"""The ``kernsim`` command: a thin front end over ``session`` and ``expect``.

Every mistake on the command line gets one line on stderr
(``kernsim: error: ...``) and exit status 2, never a traceback; a module that
cannot be built gets the compiler-style diagnostic and status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import traceback
from typing import Any, Iterator, NoReturn, Sequence

from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    from ._core._module import ModuleImage
    from ._core._policy import Policy
    from .session import SessionOptions

# The simulator itself (kernsim._core and the front ends on it) is imported
# where a command needs it: the live kernel's tools (lsmod, ps...) are small
# clients that start in a fraction of the time without it.

#: Longest run accepted (simulated seconds): a day.
MAX_SECONDS = 86400.0
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0 or value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"seconds must be between 0 and {MAX_SECONDS:g}, not {text!r}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _check_hung_task_timeout(args: argparse.Namespace) -> None:
    """The kernel's own bound on ``hung_task_timeout_secs``: ``LONG_MAX / HZ``
    (``hung_task_timeout_max``, kernel/hung_task.c)."""
    most = ((1 << 63) - 1) // args.hz
    if args.hung_task_timeout > most:
        raise UsageError(f"argument --hung-task-timeout: at most {most} seconds at HZ={args.hz} "
                         f"(the kernel's hung_task_timeout_max), not {args.hung_task_timeout} "
                         f"(see 'kernsim {args.command} --help')")


def build_parser() -> argparse.ArgumentParser:
    from .session import DEFAULT_SECONDS

    parser = _Parser(prog="kernsim", description="A simulated Linux kernel for kthread, "
                     "wait-queue and module code, in user space.")
    parser.add_argument("--version", action="version", version=f"kernsim {__version__}")
    # Taken off the command line by _split_name before parsing; here for --help.
    parser.add_argument("--name", metavar="NAME",
                        help="the live kernel to use (default: $KERNSIM_NAME, or 'default')")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    run = sub.add_parser(
        "run", help="boot a kernel, insmod MODULE, run it, rmmod it, print the dmesg",
        description="Boot a simulated kernel, load MODULE at 1 s (insmod MODULE PARAM=VALUE...), "
                    "let it run for SECONDS of simulated time, remove it, and print the kernel "
                    "log. Exit status 0 on a clean load, run and unload.")
    run.add_argument("module", metavar="MODULE", nargs="?",  # required: see cmd_run
                     help="a module file: NAME.py, NAME.ko, or NAME.c (built first)")
    run.add_argument("params", nargs="*", metavar="PARAM=VALUE",
                     help="module parameters, as for insmod (joined with spaces; quote a value "
                          "with spaces as 'name=\"a b\"')")
    run.add_argument("--for", dest="seconds", type=_seconds, default=DEFAULT_SECONDS, metavar="SECONDS",
                     help=f"how long the module stays loaded, simulated seconds (default {DEFAULT_SECONDS:g})")
    run.add_argument("--hz", type=int, choices=(100, 250, 300, 1000), default=250,
                     help="CONFIG_HZ: timer ticks per second (default 250)")
    run.add_argument("--policy", choices=("fifo", "random"), default=None,
                     help="scheduling policy: fifo (default; deterministic) or random (seeded)")
    run.add_argument("--seed", type=_nonneg_int, default=None, help="seed of the random policy (default 0)")
    run.add_argument("--replay", metavar="STRING", default=None,
                     help="follow the decisions of an earlier run (its replay string)")
    run.add_argument("--decisions", action="store_true",
                     help="print the run's replay string on stderr at the end")
    run.add_argument("--realtime", action="store_true",
                     help="pace the kernel by the wall clock instead of virtual time")
    run.add_argument("--hung-task-timeout", type=_nonneg_int, default=120, metavar="SECS",
                     help="hung_task_timeout_secs (default 120; 0 disables the detector)")
    run.add_argument("--kasan-multi-shot", action="store_true",
                     help="print every KASAN report, not only the first (as kasan_multi_shot)")
    run.add_argument("--expect", metavar="FILE", default=None,
                     help="search the schedules for one whose dmesg contains FILE's dmesg lines")
    run.add_argument("--tolerance", type=_seconds, default=None, metavar="SECONDS",
                     help="--expect: how far a line's time may be off (default: the timer-wheel "
                          "granule of a one-second sleep, 32 ms at HZ=250)")
    run.add_argument("--max-schedules", type=_positive_int, default=5000, metavar="N",
                     help="--expect: how many schedules to try at most (default 5000)")
    mk = sub.add_parser(
        "make", help="build kernel modules (C) like 'make -C /lib/modules/$(uname -r)/build M=$PWD'",
        description="Build the C kernel modules named by DIR's Kbuild or Makefile (obj-m += NAME.o) "
                    "into NAME.ko, as kbuild does for an external module; or build FILE.c into "
                    "FILE.ko. Targets: modules (the default) and clean. M=DIR names the module "
                    "directory as in kbuild (then -C is the kernel's directory and is ignored).")
    mk.add_argument("-C", dest="directory", metavar="DIR", default=None,
                    help="the module directory (default: the current one)")
    mk.add_argument("-j", "--jobs", nargs="?", const=0, default=None, metavar="N",
                    help="accepted and ignored (objects are built one by one)")
    mk.add_argument("args", nargs=argparse.REMAINDER, metavar="TARGET|M=DIR|V=1|FILE.c",
                    help="modules, clean, M=DIR, V=1 (print whole commands), or FILE.c")
    mi = sub.add_parser(
        "modinfo", help="print a module's information as kmod's modinfo does",
        description="Print the .modinfo fields of each FILE.ko (or FILE.py), in kmod's format; "
                    "a NAME is looked up among the modules loaded in the live kernel.")
    mi.add_argument("files", nargs="*", metavar="FILE.ko|FILE.py|NAME")
    mi.add_argument("-V", "--version", dest="kmod_version", action="store_true",
                    help="show kmod's version")
    mi.add_argument("-F", "--field", default=None, metavar="FIELD", help="print only FIELD's values")
    mi.add_argument("-0", "--null", action="store_true", help="end records with NUL, not newline")
    for flag, name in (("-a", "author"), ("-d", "description"), ("-l", "license"),
                       ("-p", "parameters"), ("-n", "filename")):
        field = "parm" if name == "parameters" else name
        mi.add_argument(flag, f"--{name}", dest="field", action="store_const", const=field,
                        help=f"print only '{field}'")
    _add_live_commands(sub)
    return parser


#: Where a live kernel's tools take their own options, as the real tools do.
_LIVE_TOOL_HELP = {
    "insmod": "load a module into the live kernel: insmod FILE.ko|FILE.py [PARAM=VALUE...]",
    "rmmod": "remove a module from the live kernel: rmmod [-f] NAME",
    "lsmod": "list the live kernel's modules, as kmod's lsmod",
    "ps": "list the live kernel's tasks, as procps's ps (-e, -N, ax, aux, -o FORMAT...)",
    "dmesg": "print the live kernel's log, as util-linux dmesg (-c, -C, -l, -w, -T, -x...)",
}


def _add_live_commands(sub: Any) -> None:
    boot = sub.add_parser(
        "boot", help="start a live kernel in the background (then insmod, lsmod, ps, dmesg, rmmod)",
        description="Start a simulated kernel that keeps running between commands, served on a "
                    "Unix socket in your runtime directory (one kernel per user, or per --name). "
                    "It runs in real time unless --virtual.")
    boot.add_argument("--foreground", action="store_true",
                      help="stay attached and print the console; Ctrl-C halts the kernel")
    boot.add_argument("--virtual", action="store_true",
                      help="a virtual-time kernel: its clock moves only on 'kernsim sleep SECONDS' "
                           "(and while a command waits in the kernel); for scripts and tests")
    boot.add_argument("--hz", type=int, choices=(100, 250, 300, 1000), default=250,
                      help="CONFIG_HZ (default 250)")
    boot.add_argument("--hung-task-timeout", type=_nonneg_int, default=120, metavar="SECS",
                      help="hung_task_timeout_secs (default 120; 0 disables the detector)")
    halt = sub.add_parser("halt", help="remove the live kernel's modules and shut it down",
                          description="Remove every module that can be removed (newest first), "
                                      "then shut the live kernel down.")
    sl = sub.add_parser("sleep", help="let the live kernel's clock run for SECONDS",
                        description="Wait until the live kernel's clock has moved SECONDS on: on a "
                                    "--virtual kernel this is what moves its clock.")
    sl.add_argument("seconds", type=_seconds, metavar="SECONDS")
    for p in (boot, halt, sl):
        # As before the command (kernsim --name NAME boot); here it wins.
        p.add_argument("--name", dest="sub_name", metavar="NAME",
                       help="the kernel's name (default: $KERNSIM_NAME, or 'default')")
    for name, text in _LIVE_TOOL_HELP.items():
        sub.add_parser(name, help=text, add_help=False)


def _split_name(argv: list[str]) -> tuple[str, list[str]]:
    """``kernsim [--name NAME] COMMAND ...``: the kernel's name (default: $KERNSIM_NAME
    or "default") and the rest."""
    from .live.paths import DEFAULT_NAME

    name = os.environ.get("KERNSIM_NAME") or DEFAULT_NAME
    rest = list(argv)
    while rest and (rest[0] == "--name" or rest[0].startswith("--name=")):
        if rest[0] == "--name":
            if len(rest) < 2:
                raise UsageError("option --name needs a kernel name")
            name, rest = rest[1], rest[2:]
        else:
            name, rest = rest[0][len("--name="):], rest[1:]
    return name, rest


def _paths(name: str) -> Any:
    from .live.paths import KernelPaths

    try:
        return KernelPaths.of(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_live(name: str, args: argparse.Namespace) -> int:
    from .live.client import KernelError
    from .live.control import boot, halt
    from .live.server import BootOptions

    paths = _paths(name)
    try:
        if args.command == "boot":
            _check_hung_task_timeout(args)
            return boot(paths, BootOptions(hz=args.hz, virtual=args.virtual,
                                           hung_task_timeout=args.hung_task_timeout),
                        foreground=args.foreground)
        if args.command == "halt":
            return halt(paths)
        from .live.client import request

        return request(paths, "sleep", {"seconds": args.seconds})
    except KernelError as exc:
        print(f"kernsim: {exc}", file=sys.stderr)
        return 1


def cmd_make(args: argparse.Namespace) -> int:
    """``kernsim make``: a thin front end over :mod:`kernsim.kbuild`."""
    from . import kbuild

    directory = args.directory
    targets: list[str] = []
    sources: list[str] = []
    verbose = False
    m_dir: str | None = None
    rest = list(args.args)
    while rest:
        arg = rest.pop(0)
        # make's options may come after the first target, as in make itself.
        if arg == "-C":
            if not rest:
                raise UsageError("option -C needs a directory")
            directory = rest.pop(0)
            continue
        if arg.startswith("-C"):
            directory = arg[2:]
            continue
        if arg.startswith("-j") or arg.startswith("--jobs"):
            if arg in ("-j", "--jobs") and rest and rest[0].isdigit():
                rest.pop(0)
            continue
        if arg.startswith("-"):
            raise UsageError(f"kernsim make: unknown option {arg!r}")
        name, eq, value = arg.partition("=")
        if eq:
            if name == "M":
                m_dir = value       # kbuild's M=: the module; -C is then the kernel's tree
            elif name == "V":
                verbose = value.strip() not in ("", "0")
            continue                # other VAR=VALUE: accepted, ignored
        if arg.endswith(".c"):
            sources.append(arg)
        else:
            targets.append(arg)
    for t in targets:
        if t not in ("modules", "all", "clean"):
            raise UsageError(f"no rule to make target '{t}' (kernsim make builds 'modules' or "
                             "runs 'clean')")
    if sources and targets:
        raise UsageError("give either FILE.c files or targets, not both")
    try:
        if sources:
            for src in sources:
                kbuild.build_file(src, verbose=verbose)
            return 0
        d = m_dir if m_dir is not None else directory if directory is not None else "."
        for t in targets or ["modules"]:
            if t == "clean":
                kbuild.clean(d)
            else:
                kbuild.build(d, verbose=verbose)
        return 0
    except kbuild.KbuildError as exc:
        raise UsageError(str(exc)) from None
    except kbuild.BuildError as exc:
        sys.stdout.flush()
        print(str(exc), file=sys.stderr)
        return exc.status


def cmd_modinfo(args: argparse.Namespace) -> int:
    """``kernsim modinfo``: kmod's modinfo over :mod:`kernsim.modinfo`."""
    from .modinfo import modinfo

    from .live.tools import KMOD_VERSION

    if args.kmod_version:
        print(KMOD_VERSION)
        return 0
    files = list(args.files)
    if not files:
        print("modinfo: ERROR: missing module or filename.", file=sys.stderr)
        return 1
    for i, f in enumerate(files):
        # modinfo NAME: a module loaded in the live kernel, by the file it came from.
        if not os.path.exists(f) and "/" not in f and not f.endswith((".ko", ".py", ".c")):
            from .live.tools import modinfo_name

            path = modinfo_name(_paths(args.kernel_name), f)
            if path is not None:
                files[i] = path
    return modinfo(files, field=args.field, null=args.null, out=sys.stdout, err=sys.stderr)


def _policy(args: argparse.Namespace) -> Policy:
    from ._core._policy import Fifo, RandomPolicy, Replay, decode_decisions

    if args.replay is not None:
        if args.policy is not None or args.seed is not None:
            raise UsageError("--replay cannot be combined with --policy or --seed")
        try:
            return Replay(decode_decisions(args.replay))
        except ValueError as exc:
            raise UsageError(f"--replay: {exc}") from None
    if args.policy == "random" or args.seed is not None:
        if args.policy == "fifo":
            raise UsageError("--seed only applies to --policy random")
        return RandomPolicy(args.seed or 0)
    return Fifo()


def _load_image(path: str) -> Any:
    from .image import open_image

    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory (give a module file)")
    if not os.path.exists(path):
        raise UsageError(f"{path}: No such file or directory")
    if not os.path.isfile(path):
        raise UsageError(f"{path}: not a regular file (give a module file)")
    # NAME.c is built first; kbuild's lines go to stderr, the log to stdout.
    return open_image(path, echo=lambda line: print(line, file=sys.stderr, flush=True))


def cmd_run(args: argparse.Namespace) -> int:
    from ._core._module import ModuleBuildError
    from ._core._policy import Replay
    from .expect import TranscriptError, read_transcript
    from .session import SessionOptions

    if args.module is None:
        # Checked here: argparse would call the optional PARAM=VALUE... required too.
        raise UsageError("the following arguments are required: MODULE (see 'kernsim run --help')")
    policy = _policy(args)
    _check_hung_task_timeout(args)
    if args.expect is not None and args.replay is not None:
        raise UsageError("--expect searches for a schedule itself: it cannot be combined with --replay")
    if args.expect is not None and (args.policy is not None or args.seed is not None):
        raise UsageError("--expect searches for a schedule itself: it cannot be combined with "
                         "--policy or --seed")
    if args.expect is not None and args.realtime:
        raise UsageError("--expect needs virtual time: it cannot be combined with --realtime")
    if (args.tolerance is not None or args.max_schedules != 5000) and args.expect is None:
        raise UsageError("--tolerance and --max-schedules only apply to --expect")
    lines = None
    if args.expect is not None:
        try:
            lines = read_transcript(args.expect)
        except TranscriptError as exc:
            raise UsageError(f"--expect {args.expect}: {exc}") from None
    try:
        image = _load_image(args.module)
    except ModuleBuildError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    options = SessionOptions(seconds=args.seconds, hz=args.hz, policy=policy, realtime=args.realtime,
                             hung_task_timeout=args.hung_task_timeout,
                             # insmod joins its arguments with single spaces (kmod tools/insmod.c).
                             params=" ".join(args.params),
                             kasan_multi_shot=args.kasan_multi_shot)
    if lines is not None:
        return _run_expect(image, options, lines, args)
    code, decisions = _run_printing(image, options, args.module)
    if isinstance(policy, Replay) and not policy.exhausted:
        print(f"kernsim: warning: the run ended after decision {policy.consumed} of the "
              f"{policy.length} the replay string names (was it recorded from a longer run, "
              f"another module or other options?)", file=sys.stderr)
    if args.decisions or (code != 0 and policy.eager):
        print(f"kernsim: replay this run with --replay {decisions or 'fifo'}", file=sys.stderr)
    return code


def _run_printing(image: ModuleImage, options: SessionOptions, argument: str) -> tuple[int, str]:
    from ._core._policy import ReplayMismatch
    from ._core._printk import Record, format_dmesg_line
    from .session import Session

    """Run one session, printing the log as it is written; (exit code, replay string)."""
    out = sys.stdout
    broken: list[BrokenPipeError] = []
    session_box: list[Session] = []

    def console(rec: Record) -> None:
        # The reader went away (kernsim run ... | head): stop the run, quietly
        # -- this may be called in a C task's thread, where it must not raise.
        if broken:
            return
        try:
            out.write(format_dmesg_line(rec) + "\n")
            if options.realtime:
                out.flush()
        except BrokenPipeError as exc:
            broken.append(exc)
            if session_box:
                session_box[0].abort()

    def stderr(line: str) -> None:
        if not broken:
            try:
                out.flush()
            except BrokenPipeError as exc:
                broken.append(exc)
                if session_box:
                    session_box[0].abort()
        print(line, file=sys.stderr, flush=True)

    session = Session(image, options, console=console, stderr=stderr, argument=argument)
    session_box.append(session)
    try:
        result = session.run()
    except ReplayMismatch as exc:
        out.flush()
        raise UsageError(f"--replay: {exc}") from None
    finally:
        session.close()
        if not broken:
            try:
                out.flush()
            except BrokenPipeError as exc:
                broken.append(exc)
    if broken:
        raise broken[0]
    return result.exit_code, result.decisions


def _run_expect(image: ModuleImage, options: SessionOptions, lines: list, args: argparse.Namespace) -> int:
    from ._core._policy import Replay, decode_decisions
    from .expect import default_tolerance_ns, search
    from .session import SessionOptions

    if args.tolerance is not None:
        tolerance_ns = int(round(args.tolerance * 1e9))
    else:
        tolerance_ns = default_tolerance_ns(args.hz)
    def progress(tried: int, matched: int) -> None:
        print(f"kernsim: --expect: {tried} of at most {args.max_schedules} schedules tried; the best "
              f"matched {matched} of {len(lines)} lines so far", file=sys.stderr, flush=True)

    found = search(image, options, lines, tolerance_ns=tolerance_ns, max_schedules=args.max_schedules,
                   progress=progress)
    if not found.found:
        plural = "s" if found.schedules != 1 else ""
        print(f"kernsim: no schedule reproduced {args.expect} ({found.schedules} schedule{plural} tried); "
              f"the best matched {found.best.p} of {len(lines)} lines: {found.best.describe_failure()}",
              file=sys.stderr)
        if found.hint is not None:
            print(f"kernsim: {found.hint}", file=sys.stderr)
        else:
            print(f"kernsim: the best schedule is --replay {found.replay or 'fifo'}", file=sys.stderr)
        return 1
    replay_opts = SessionOptions(**{**options.__dict__, "policy": Replay(decode_decisions(found.replay))})
    code, _ = _run_printing(image, replay_opts, args.module)
    print(f"kernsim: reproduced with --replay {found.replay or 'fifo'}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    with _ctrl_c_handler():
        return _main(argv)


def console_main() -> NoReturn:
    """The ``kernsim`` command (and ``python -m kernsim``): :func:`main`, then
    exit -- at once if a Python thread that module code started is still
    running, which Python would otherwise wait for (a module's thread cannot
    keep the process alive, as no module's thread outlives a kernel)."""
    status = main()
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive()
           for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    sys.exit(status)


@contextlib.contextmanager
def _ctrl_c_handler() -> Iterator[None]:
    """Ctrl-C raises :class:`CtrlC` while kernsim runs, so that a
    ``raise KeyboardInterrupt`` in module code is told from the user's Ctrl-C
    (an oops of that module, not the end of the run)."""
    from ._interrupt import raise_ctrl_c

    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler or threading.current_thread() is not threading.main_thread():
        yield  # SIGINT ignored (nohup, a background job) or handled by the caller: left as it is
        return
    signal.signal(signal.SIGINT, raise_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _main(argv: Sequence[str] | None) -> int:
    try:
        name, argv = _split_name(sys.argv[1:] if argv is None else list(argv))
        if argv and argv[0] in _LIVE_TOOL_HELP:
            # The tool parses its own options, as the real one does.
            from .live.tools import run_tool

            return run_tool(argv[0], _paths(name), argv[1:])
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        args.kernel_name = name
        if args.command == "run":
            # Parameters may follow the options too: kernsim run m.ko --for 2 count=3.
            params = [a for a in extra if not a.startswith("-")]
            extra = [a for a in extra if a.startswith("-")]
            args.params = [*args.params, *params]
        if extra:
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see '{parser.prog} --help')")
        if args.command == "run":
            return cmd_run(args)
        if args.command == "make":
            return cmd_make(args)
        if args.command == "modinfo":
            return cmd_modinfo(args)
        if args.command in ("boot", "halt", "sleep"):
            return cmd_live(args.sub_name or name, args)
        raise UsageError(f"unknown command {args.command!r}")
    except UsageError as exc:
        print(f"kernsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (kernsim run ... | head): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # pragma: no cover - a bug in kernsim itself
        if os.environ.get("KERNSIM_DEBUG"):
            traceback.print_exc()
        print(f"kernsim: internal error: {type(exc).__name__}: {exc} "
              f"(set KERNSIM_DEBUG=1 for a traceback, and please report it)", file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
