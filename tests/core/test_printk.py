"""printk records, continuation, kernel-side formatting and the dmesg line
(spec §6; kernel/printk/printk.c, lib/vsprintf.c, util-linux sys-utils/dmesg.c).
"""

from __future__ import annotations

import ctypes
import re

import pytest
from conftest import in_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

from kernsim._core._current import cur
from kernsim._core._errno import ERR_PTR
from kernsim._core._kernel import Kernel
from kernsim._core._printk import Record, format_dmesg_line, format_printf
from kernsim.linux import (
    KERN_ALERT,
    KERN_CONT,
    KERN_CRIT,
    KERN_DEBUG,
    KERN_EMERG,
    KERN_ERR,
    KERN_INFO,
    KERN_NOTICE,
    KERN_WARNING,
    kthread_run,
    msleep,
    pr_alert,
    pr_cont,
    pr_crit,
    pr_debug,
    pr_emerg,
    pr_err,
    pr_info,
    pr_notice,
    pr_warn,
    printk,
)

LEVELS = [KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG]
HELPERS = [pr_emerg, pr_alert, pr_crit, pr_err, pr_warn, pr_notice, pr_info]


def new_records(k: Kernel, before: int) -> list[Record]:
    """Finalized records with seq >= *before*."""
    return [r for r in k.log_records() if r.seq >= before]


def logged(fn) -> tuple[object, list[Record]]:
    """Run *fn* in a kthread; (its value, the records it produced)."""
    box: dict[str, int] = {}

    def body():
        box["seq"] = cur.k.log_next_seq
        return fn()

    value, k = in_kernel(body)
    return value, new_records(k, box["seq"])


# -- levels ------------------------------------------------------------------

def test_kern_level_prefixes_are_soh_and_a_digit() -> None:
    assert LEVELS == ["\0010", "\0011", "\0012", "\0013", "\0014", "\0015", "\0016", "\0017"]
    assert KERN_CONT == "\001c"


@pytest.mark.parametrize("level", range(8))
def test_printk_with_a_level_prefix_sets_the_record_level(level: int) -> None:
    _, recs = logged(lambda: printk(LEVELS[level] + "message %d\n", level))
    assert [(r.level, r.text) for r in recs] == [(level, f"message {level}")]


def test_printk_without_a_level_gets_the_default_level_4() -> None:
    _, recs = logged(lambda: printk("no level here\n"))
    assert [(r.level, r.text) for r in recs] == [(4, "no level here")]


@pytest.mark.parametrize("level", range(7))
def test_pr_helpers_log_at_their_level(level: int) -> None:
    _, recs = logged(lambda: HELPERS[level]("via helper\n"))
    assert [(r.level, r.text) for r in recs] == [(level, "via helper")]


def test_printk_returns_the_bytes_stored_without_prefix_and_newline() -> None:
    value, _ = logged(lambda: printk(KERN_INFO + "hello %s\n", "you"))
    assert value == len("hello you")


def test_pr_debug_prints_nothing() -> None:
    def body():
        ret = pr_debug("debug %d\n", 1)
        pr_info("after\n")
        return ret

    value, recs = logged(body)
    assert value == 0
    assert [r.text for r in recs] == ["after"]


# -- newlines -------------------------------------------------------------------

def test_only_one_trailing_newline_is_removed() -> None:
    _, recs = logged(lambda: pr_info("two newlines\n\n"))
    assert [r.text for r in recs] == ["two newlines\n"]


def test_embedded_newlines_stay_in_one_record() -> None:
    _, recs = logged(lambda: pr_info("line one\nline two\n"))
    assert [r.text for r in recs] == ["line one\nline two"]


def test_an_unterminated_record_is_invisible_until_the_next_printk() -> None:
    def body():
        k = cur.k
        pr_info("open")
        seen_before = [r.text for r in k.log_records()]
        pr_info("next\n")
        seen_after = [r.text for r in k.log_records()]
        return seen_before, seen_after

    (before, after), recs = logged(body)
    assert "open" not in before
    assert after[-2:] == ["open", "next"]
    assert [(r.level, r.text) for r in recs] == [(6, "open"), (6, "next")]


# -- continuation ----------------------------------------------------------------

def test_pr_cont_appends_to_the_open_record_of_the_same_task() -> None:
    def body():
        pr_info("a=%d", 1)
        msleep(10)  # the timestamp stays the first fragment's
        pr_cont(", b=%d", 2)
        pr_cont("\n")
        pr_info("next\n")

    _, recs = logged(body)
    assert [(r.level, r.text) for r in recs] == [(6, "a=1, b=2"), (6, "next")]
    assert recs[1].ts - recs[0].ts >= 10_000_000


def test_pr_cont_of_another_task_starts_a_new_record_at_the_default_level() -> None:
    def other(data):
        pr_cont("from other\n")
        return 0

    def body():
        pr_info("mine")
        kthread_run(other, None, "other")
        msleep(10)
        pr_cont(" more\n")

    _, recs = logged(body)
    # The other task's fragment cannot join "mine": it gets its own record
    # (level 4), which finalizes "mine"; the late pr_cont of the first task then
    # also finds no open record of its own.
    assert [(r.level, r.text) for r in recs] == [(6, "mine"), (4, "from other"), (4, " more")]


def test_a_new_record_finalizes_the_open_one() -> None:
    def body():
        pr_info("first")
        pr_err("second\n")
        pr_cont("third\n")  # "second" is final: a new record

    _, recs = logged(body)
    assert [(r.level, r.text) for r in recs] == [(6, "first"), (3, "second"), (4, "third")]
    assert all(r.final for r in recs)


def test_a_continuation_fragment_may_carry_its_own_level() -> None:
    k = Kernel()
    try:
        seq = k.log_next_seq
        k.vprintk(KERN_INFO + "open", caller=1)
        k.vprintk(KERN_CONT + KERN_ERR + "cont\n", caller=2)  # another caller
        k.vprintk(KERN_CONT + "plain\n", caller=2)
        assert [(r.level, r.text) for r in new_records(k, seq)] == [(6, "open"), (3, "cont"), (4, "plain")]
    finally:
        k.close()


# -- record size --------------------------------------------------------------------

def test_a_record_is_cut_at_1023_chars_including_the_level_prefix() -> None:
    """6.7: PRINTKRB_RECORD_MAX = 1024 with the NUL, so the formatted message
    (with its 2-byte prefix) keeps 1023 chars; the cut-off newline is gone, so
    the record is not newline-terminated and stays open until the next printk."""
    def body():
        k = cur.k
        pr_info("%s\n", "x" * 2000)
        open_rec = k.log_open
        printk("y" * 1500)
        return open_rec

    open_rec, recs = logged(body)
    assert open_rec is not None and open_rec.text == "x" * 1021
    assert [r.text for r in recs][0] == "x" * 1021
    k = Kernel()
    try:
        k.vprintk("y" * 1500 + "\n")
        assert k.log_open is not None and k.log_open.text == "y" * 1023
    finally:
        k.close()


def test_a_continuation_that_does_not_fit_starts_a_new_record() -> None:
    def body():
        pr_info("%s", "a" * 1000)
        pr_cont("%s\n", "b" * 100)

    _, recs = logged(body)
    assert [r.text for r in recs] == ["a" * 1000, "b" * 100]


# -- format_printf ----------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "args", "out"), [
    ("%d", (-5,), "-5"),
    ("%i", (42,), "42"),
    ("%u", (7,), "7"),
    ("%x", (255,), "ff"),
    ("%X", (255,), "FF"),
    ("%o", (8,), "10"),
    ("%c", (65,), "A"),
    ("%c", ("B",), "B"),
    ("%s", ("str",), "str"),
    ("%ld", (-(2 ** 40),), str(-(2 ** 40))),
    ("%lu", (2 ** 40,), str(2 ** 40)),
    ("%lld", (-(2 ** 62),), str(-(2 ** 62))),
    ("[%5d]", (42,), "[   42]"),
    ("[%-5d]", (42,), "[42   ]"),
    ("[%05d]", (42,), "[00042]"),
    ("[%5s]", ("ab",), "[   ab]"),
    ("[%-5s]", ("ab",), "[ab   ]"),
    ("%.3s", ("abcdef",), "abc"),
    ("%*d", (4, 7), "   7"),
    ("%.*s", (2, "abc"), "ab"),
    ("100%%", (), "100%"),
    ("%d%%", (50,), "50%"),
    ("%s", (None,), "(null)"),
    ("%.3s", (None,), "(nu"),
    ("%#x", (255,), "0xff"),
    ("%#X", (255,), "0XFF"),
    ("%#o", (8,), "010"),      # C's alternate octal form, not Python's 0o10
    ("%#o", (0,), "0"),
    ("%#x", (0,), "0x0"),      # the kernel's number() prints the prefix for 0 too
    ("%.0d", (0,), "0"),       # ... and at least one digit
    ("%c", (0x141,), "A"),     # %c takes an int and prints (unsigned char)
    ("a %d b %s c", (1, "x"), "a 1 b x c"),
])
def test_format_printf_conversions(fmt: str, args: tuple, out: str) -> None:
    assert format_printf(fmt, args) == out


@pytest.mark.parametrize(("fmt", "value", "out"), [
    ("%u", -1, "4294967295"),
    ("%x", -1, "ffffffff"),
    ("%X", -2, "FFFFFFFE"),
    ("%o", -1, "37777777777"),
    ("%lu", -1, "18446744073709551615"),
    ("%lx", -1, "ffffffffffffffff"),
    ("%llu", -1, "18446744073709551615"),
    ("%hu", -1, "65535"),
    ("%hx", -1, "ffff"),
    ("%hhu", -1, "255"),
    ("%hhx", -1, "ff"),
    ("%d", 2 ** 31, "-2147483648"),      # an int argument: 32 bits
    ("%d", 2 ** 32 + 5, "5"),
    ("%ld", 2 ** 63, "-9223372036854775808"),
    ("%hd", 70000, "4464"),
    ("%hhd", 200, "-56"),
])
def test_integers_are_reduced_to_the_c_type_width(fmt: str, value: int, out: str) -> None:
    assert format_printf(fmt, (value,)) == out


@pytest.mark.parametrize(("fmt", "args", "out"), [
    ("a %n b %d", (1, 2), "a "),               # %n: "treat it as any other invalid ... specifier"
    ("x=%5.2f y=%d", (1.5, 2), "x="),          # no floating point in the kernel
    ("%d %Lf", (1, 2.0), "1 "),                # 'L' is a qualifier (of %Ld), 'f' the bad conversion
    ("%d %jd", (1, 2), "1 "),                  # 'j', 'q', 'Z' are not qualifiers in 6.x
    ("%qd", (1,), ""),
    ("%zd %Zd", (1, 2), "1 "),
    ("%%y %y %d", (1,), "%y "),
    ("50%", (), "50"),                         # a lone '%' at the end: "%\0"
])
def test_format_printf_stops_at_an_unsupported_conversion(fmt: str, args: tuple, out: str) -> None:
    """lib/vsprintf.c format_decode(): 'n' and any unknown conversion are
    FORMAT_TYPE_INVALID, and vsnprintf() ``goto out``: the text before it is all."""
    assert format_printf(fmt, args) == out


@pytest.mark.parametrize(("fmt", "out"), [("%Ld", "-1"), ("%zu", "18446744073709551615"),
                                          ("%td", "-1"), ("%zd", "-1")])
def test_the_kernels_qualifiers_still_format(fmt: str, out: str) -> None:
    assert format_printf(fmt, (-1,)) == out


def test_an_unsupported_conversion_is_warned_once_and_ends_the_message() -> None:
    """WARN_ONCE(1, "Please remove unsupported %%%c in format string\n", *fmt) in
    format_decode(), as the kernel reports it (lib/vsprintf.c, format_decode+,
    called by vsnprintf() from printk), before the truncated message is stored."""
    def fn() -> int:
        pr_info("a=%d %n b=%d\n", 1, 2, 3)
        pr_info("c %5.2f\n", 2.5)
        pr_info("done\n")
        return 0

    _, records = logged(fn)
    texts = [r.text for r in records]
    assert texts.count("Please remove unsupported %n in format string") == 1
    assert not any("%f" in t for t in texts)            # WARN_ONCE: the second one is quiet
    warn = next(t for t in texts if t.startswith("WARNING: CPU: "))
    assert re.fullmatch(r"WARNING: CPU: 0 PID: \d+ at lib/vsprintf\.c:\d+ format_decode\+0x[0-9a-f]+/0x[0-9a-f]+",
                        warn), warn
    trace = texts[texts.index("Call Trace:"):]
    frames = [t.strip().split("+")[0] for t in trace[2:6]]
    assert frames == ["vsnprintf", "vprintk_store", "vprintk_emit", "_printk"]
    # The messages stop at the bad conversion, newline and all (each is left
    # open until the next printk, which is no KERN_CONT, finalizes it).
    assert texts[-3:] == ["a=1 ", "c ", "done"]
    assert texts.index("Please remove unsupported %n in format string") < texts.index("a=1 ")


def test_hashed_pointer_is_16_hex_digits_and_stable_per_object() -> None:
    a, b = object(), object()
    pa = format_printf("%p", (a,))
    assert re.fullmatch(r"[0-9a-f]{16}", pa)
    # 64-bit kernels keep 32 bits of the siphash: the top half is zero.
    assert pa.startswith("00000000")
    assert format_printf("%p", (a,)) == pa
    assert format_printf("%p", (b,)) != pa
    assert format_printf("<%p>", (a,)) == f"<{pa}>"


def test_null_and_error_pointers_are_printed_unhashed() -> None:
    """ptr_to_id(): "Print the real pointer value for NULL and error pointers"."""
    assert format_printf("%p", (None,)) == "0000000000000000"
    assert format_printf("%p", (ERR_PTR(-12),)) == "fffffffffffffff4"
    assert format_printf("%px", (None,)) == "0000000000000000"


# -- hypothesis: the C type width ------------------------------------------------------

_CTYPES = {
    "hh": (ctypes.c_int8, ctypes.c_uint8),
    "h": (ctypes.c_int16, ctypes.c_uint16),
    "": (ctypes.c_int32, ctypes.c_uint32),
    "l": (ctypes.c_int64, ctypes.c_uint64),
    "ll": (ctypes.c_int64, ctypes.c_uint64),
}


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(st.integers(-(2 ** 70), 2 ** 70),
                    st.sampled_from([0, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 63, 2 ** 64 - 1, 255, 256])),
    length=st.sampled_from(list(_CTYPES)),
    conv=st.sampled_from("diuxXo"),
    flags=st.sampled_from(["", "-", "0"]),
    width=st.sampled_from(["", "1", "8", "25"]),
)
def test_integer_conversions_agree_with_c_formatting(value: int, length: str, conv: str,
                                                     flags: str, width: str) -> None:
    signed, unsigned = _CTYPES[length]
    reduced = (signed if conv in "di" else unsigned)(value).value
    py_conv = "d" if conv in "diu" else conv
    expected = ("%" + flags + width + py_conv) % reduced
    assert format_printf("%" + flags + width + length + conv, (value,)) == expected


# -- the dmesg line -----------------------------------------------------------------

@pytest.mark.parametrize(("ts", "prefix"), [
    (0, "[    0.000000]"),
    (1_000_000, "[    0.001000]"),
    (1_999_999_999, "[    1.999999]"),      # truncated, not rounded
    (1_234_567_890, "[    1.234567]"),
    (12_345_678_901_234, "[12345.678901]"),
    (99_999_999_999_999, "[99999.999999]"),
    (100_000_000_000_000, "[100000.000000]"),  # wider than 5 columns
    (123_456_789_012_345, "[123456.789012]"),
])
def test_dmesg_line_format(ts: int, prefix: str) -> None:
    assert format_dmesg_line(Record(0, ts, 6, "msg", 0)) == prefix + " msg"


def test_dmesg_indents_continuation_lines_to_the_text_column() -> None:
    rec = Record(0, 1_500_000_000, 6, "first\nsecond", 0)
    assert format_dmesg_line(rec) == "[    1.500000] first\n" + " " * 15 + "second"
    wide = Record(0, 123_456_000_000_000, 6, "a\nb", 0)
    assert format_dmesg_line(wide) == "[123456.000000] a\n" + " " * 16 + "b"


def test_dmesg_prints_an_empty_record_as_an_empty_line() -> None:
    """util-linux print_record(): ``if (!rec->mesg_size) { putchar('\\n'); return; }``"""
    assert format_dmesg_line(Record(0, 2_000_000_000, 6, "", 0)) == ""
