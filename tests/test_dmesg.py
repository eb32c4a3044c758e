"""kernsim.dmesg: util-linux 2.38.1 ``dmesg`` options and record formatting."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kernsim.dmesg import (DmesgOptions, DmesgPrinter, DmesgUsageError, color_enabled,
                           format_record, parse_dmesg_args)
from kernsim.procfs import KmsgRecord

#: 2024-03-05 10:11:00 UTC: the wall clock at boot.
BOOT_WALL_NS = 1_709_633_460 * 10**9

KERN, USER = 0, 1
EMERG, ERR, WARN, INFO, DEBUG = 0, 3, 4, 6, 7

RECORDS = [
    KmsgRecord(0, 0, INFO, KERN, "Linux version 6.1.0-18-amd64"),
    KmsgRecord(1, 1_234_567_891, ERR, KERN, "hello: init failed\nsecond line\nthird line"),
    KmsgRecord(2, 12_345_678_901, WARN, KERN, "wait_event: timed out"),
    KmsgRecord(3, 12_500_000_000, INFO, USER, "systemd[1]: started"),
    KmsgRecord(4, 123_456_789_012_345, DEBUG, KERN, "late"),
]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def dmesg(*argv: str, records: list[KmsgRecord] = RECORDS) -> str:
    """What ``dmesg ARGV`` prints for *records*."""
    printer = DmesgPrinter(parse_dmesg_args(list(argv)), boot_wall_ns=BOOT_WALL_NS)
    return "".join(printer.feed(r) for r in records) + printer.finish()


def usage_error(*argv: str) -> DmesgUsageError:
    with pytest.raises(DmesgUsageError) as info:
        parse_dmesg_args(list(argv))
    return info.value


def test_plain_and_multi_line_records() -> None:
    assert dmesg() == (
        "[    0.000000] Linux version 6.1.0-18-amd64\n"
        "[    1.234567] hello: init failed\n"
        "               second line\n"
        "               third line\n"
        "[   12.345678] wait_event: timed out\n"
        "[   12.500000] systemd[1]: started\n"
        "[123456.789012] late\n")


def test_format_record_is_stateless() -> None:
    opts = parse_dmesg_args([])
    assert format_record(RECORDS[1], opts, boot_wall_ns=0, prev_ts_ns=None) == (
        "[    1.234567] hello: init failed\n"
        "               second line\n"
        "               third line")
    assert format_record(KmsgRecord(9, 5, INFO, KERN, ""), opts, boot_wall_ns=0,
                         prev_ts_ns=None) == ""


def test_decode() -> None:
    assert dmesg("-x") == (
        "kern  :info  : [    0.000000] Linux version 6.1.0-18-amd64\n"
        "kern  :err   : [    1.234567] hello: init failed\n"
        "                              second line\n"
        "                              third line\n"
        "kern  :warn  : [   12.345678] wait_event: timed out\n"
        "user  :info  : [   12.500000] systemd[1]: started\n"
        "kern  :debug : [123456.789012] late\n")


def test_notime() -> None:
    assert dmesg("-t").splitlines()[:4] == [
        "Linux version 6.1.0-18-amd64", "hello: init failed", "second line", "third line"]


def test_raw() -> None:
    assert dmesg("-r") == (
        "<6>[    0.000000] Linux version 6.1.0-18-amd64\n"
        "<3>[    1.234567] hello: init failed\n"
        "                  second line\n"
        "                  third line\n"
        "<4>[   12.345678] wait_event: timed out\n"
        "<14>[   12.500000] systemd[1]: started\n"
        "<7>[123456.789012] late\n")


def test_level_filter() -> None:
    expected = ("[    1.234567] hello: init failed\n"
                "               second line\n"
                "               third line\n"
                "[   12.345678] wait_event: timed out\n")
    assert dmesg("-l", "err,warn") == expected
    assert dmesg("--level=err,warn") == expected
    assert dmesg("-lerr,WARN") == expected
    assert format_record(RECORDS[0], parse_dmesg_args(["-l", "err"]), boot_wall_ns=0,
                         prev_ts_ns=None) is None


def test_unknown_level() -> None:
    error = usage_error("-l", "err,xyz")
    assert (str(error), error.status) == ("dmesg: unknown level 'xyz'", 1)
    # util-linux names the whole rest of the list when the bad name is not last
    assert str(usage_error("-l", "xyz,err")) == "dmesg: unknown level 'xyz,err'"


def test_facility_filters() -> None:
    assert dmesg("-u") == "[   12.500000] systemd[1]: started\n"
    assert "systemd" not in dmesg("-k")
    assert dmesg("-f", "user") == dmesg("-u")


def test_ctime() -> None:
    assert dmesg("-T").splitlines()[:3] == [
        "[Tue Mar  5 10:11:00 2024] Linux version 6.1.0-18-amd64",
        "[Tue Mar  5 10:11:01 2024] hello: init failed",
        "                           second line",
    ]
    assert dmesg("-xT").splitlines()[0] == (
        "kern  :info  : [Tue Mar  5 10:11:00 2024] Linux version 6.1.0-18-amd64")


def test_delta() -> None:
    records = [KmsgRecord(0, 1_000_000_000, INFO, KERN, "one"),
               KmsgRecord(1, 1_500_000_000, INFO, KERN, "two"),
               KmsgRecord(2, 3_750_001_000, INFO, KERN, "three")]
    assert dmesg("-d", records=records) == (
        "[    1.000000 <    0.000000>] one\n"
        "[    1.500000 <    0.500000>] two\n"
        "[    3.750001 <    2.250001>] three\n")
    assert format_record(records[2], parse_dmesg_args(["-t", "-d"]), boot_wall_ns=0,
                         prev_ts_ns=records[0].ts_ns) == "[<    2.750001>] three"


def test_empty_and_unprintable_text() -> None:
    records = [KmsgRecord(0, 2_000_000, INFO, KERN, ""),
               KmsgRecord(1, 3_000_000, INFO, KERN, "bell\x07 tab\t del\x7f caf\u00e9")]
    assert dmesg(records=records) == (
        "\n"
        "[    0.003000] bell\\x07 tab\t del\\x7f caf\u00e9\n")


def test_invalid_options() -> None:
    error = usage_error("-xz")
    assert error.lines == ["dmesg: invalid option -- 'z'",
                           "Try 'dmesg --help' for more information."]
    assert str(usage_error("--zzz")) == (
        "dmesg: unrecognized option '--zzz'\nTry 'dmesg --help' for more information.")
    assert str(usage_error("-l")) == (
        "dmesg: option requires an argument -- 'l'\n"
        "Try 'dmesg --help' for more information.")
    assert str(usage_error("extra")) == (
        "dmesg: bad usage\nTry 'dmesg --help' for more information.")


def test_mutually_exclusive_options() -> None:
    assert str(usage_error("-c", "-C")) == (
        "dmesg: mutually exclusive arguments: --clear --console-off --console-on"
        " --read-clear --console-level --raw")
    assert str(usage_error("-r", "-x")) == "dmesg: mutually exclusive arguments: --raw --decode"


def test_actions_and_flags() -> None:
    opts = parse_dmesg_args(["-W", "-c"])
    assert (opts.follow, opts.follow_new, opts.read_clear, opts.action) == (
        True, True, True, "read_clear")
    assert parse_dmesg_args(["-C"]).clear
    assert isinstance(parse_dmesg_args(["-h"]), DmesgOptions)
    assert parse_dmesg_args(["-V", "-z"]).version  # -V exits before -z is seen


def test_json() -> None:
    assert dmesg("-J", records=RECORDS[:2]) == (
        '{\n'
        '   "dmesg": [\n'
        '      {\n'
        '         "pri": 6,\n'
        '         "time":     0.000000,\n'
        '         "msg": "Linux version 6.1.0-18-amd64"\n'
        '      },{\n'
        '         "pri": 3,\n'
        '         "time":     1.234567,\n'
        '         "msg": "hello: init failed\\nsecond line\\nthird line"\n'
        '      }\n'
        '   ]\n'
        '}\n')


def test_file_option_names_a_missing_file_as_dmesg_does_and_refuses_a_real_one_clearly(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kernsim.dmesg import DmesgUsageError, parse_dmesg_args

    with pytest.raises(DmesgUsageError) as missing:
        parse_dmesg_args(["-F", str(tmp_path / "nosuch")])
    assert str(missing.value) == f"dmesg: cannot open {tmp_path / 'nosuch'}: No such file or directory"
    saved = tmp_path / "dmesg.txt"
    saved.write_text("[    0.000000] Linux version\n")
    with pytest.raises(DmesgUsageError) as real:
        parse_dmesg_args(["-F", str(saved)])
    assert str(real.value) == (f"dmesg: cannot open {saved}: kernsim's dmesg reads only the "
                               f"simulated kernel's log (-F is not simulated); a log kernsim saved "
                               f"is text: cat {saved}")


# -- colours ------------------------------------------------------------------

def colored(*argv: str, records: list[KmsgRecord] = RECORDS) -> str:
    opts = parse_dmesg_args(list(argv))
    opts.colorize = color_enabled(opts.color, isatty=False, term="xterm")
    printer = DmesgPrinter(opts, boot_wall_ns=BOOT_WALL_NS)
    return "".join(printer.feed(r) for r in records) + printer.finish()


def test_color_always_uses_dmesgs_default_scheme() -> None:
    """sys-utils/dmesg.c print_record(): the timestamp in "time" (UL_COLOR_GREEN),
    the subsystem prefix up to its ':' in "subsys" (UL_COLOR_BROWN), the rest in
    the level's colour (err: red, warn: bold; info: none); color_disable() writes
    UL_COLOR_RESET after each."""
    G, BROWN, RED, BOLD, R = "\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"
    assert colored("--color=always") == (
        f"{G}[    0.000000] {R}Linux version 6.1.0-18-amd64\n"
        f"{G}[    1.234567] {R}{BROWN}hello{R}{RED}: init failed\n"
        "               second line\n"
        f"               third line{R}\n"
        f"{G}[   12.345678] {R}{BROWN}wait_event{R}{BOLD}: timed out{R}\n"
        f"{G}[   12.500000] {R}{BROWN}systemd[1]{R}: started\n"
        f"{G}[123456.789012] {R}late\n")


@pytest.mark.parametrize(("level", "seq"), [(0, ""), (1, "\033[7m\033[31m"), (2, "\033[1m\033[31m"),
                                            (3, "\033[31m"), (4, "\033[1m"), (5, ""), (6, ""), (7, "")])
def test_level_colors(level: int, seq: str) -> None:
    """set_level_color(): alert, crit, err and warn only (not emerg)."""
    out = colored("-Lalways", "-t", records=[KmsgRecord(0, 0, level, KERN, "no prefix")])
    assert out == (f"{seq}no prefix\033[0m\n" if seq else "no prefix\n")


def test_segfault_messages_are_half_bright_red_at_any_level() -> None:
    rec = KmsgRecord(0, 0, INFO, USER, "a.out[42]: segfault at 0 ip 0 sp 0 error 4")
    assert colored("-t", "--color=always", records=[rec]) == (
        "\033[33ma.out[42]\033[0m\033[2m\033[31m: segfault at 0 ip 0 sp 0 error 4\033[0m\n")


def test_color_auto_only_on_a_terminal_and_never_means_never() -> None:
    """lib/colors.c colors_init(): auto (and no --color: "colors are enabled by
    default") is isatty(STDOUT_FILENO) on a terminal that has colours."""
    assert color_enabled("always", isatty=False, term=None)
    assert not color_enabled("never", isatty=True, term="xterm")
    assert color_enabled("auto", isatty=True, term="xterm")
    assert color_enabled(None, isatty=True, term="xterm-256color")
    assert not color_enabled("auto", isatty=False, term="xterm")
    assert not color_enabled(None, isatty=True, term="dumb")
    assert colored("--color=never") == dmesg()
    assert colored("-L") == dmesg()  # auto, and this output is no terminal


def test_reltime_colors_a_new_minute_as_timebreak() -> None:
    out = colored("-e", "-Lalways")
    first, second = out.splitlines()[0], out.splitlines()[1]
    assert first.startswith("\033[32m\033[1m[Mar 5 10:11] \033[0m")
    assert second.startswith("\033[32m[  +0.000000] \033[0m")  # (no earlier time: delta 0)
