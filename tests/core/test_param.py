"""Module parameters in the core (spec §7.4; kernel/params.c, lib/cmdline.c,
lib/kstrtox.c, lib/dynamic_debug.c, kernel/module/main.c).

The parser and the ops are tested here on plain Python storage; the two
front doors (module globals, C memory) have their own tests."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import in_kernel

from kernsim._core._errno import EACCES, EINVAL, ENOENT, ENOSPC, ERANGE
from kernsim._core._current import cur
from kernsim._core._param import (
    PARAM_TYPES,
    CStr,
    KernelParam,
    KernelParamOps,
    KParamArray,
    KParamString,
    KstrtoxError,
    PyGlobal,
    PyItem,
    kstrtobool,
    kstrtoll,
    kstrtoull,
    module_param_files,
    module_param_read,
    module_param_write,
    param_array_ops,
    param_ops_string,
    parse_args,
    unknown_module_param_cb,
)


def err_of(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except KstrtoxError as exc:
        return -exc.errno


# -- kstrto* --------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    (b"0", 0), (b"10", 10), (b"0x1f", 31), (b"0X1F", 31), (b"0x1F", 31), (b"010", 8),
    (b"00", 0), (b"+5", 5), (b"5\n", 5), (b"0x10\n", 16), (b"18446744073709551615", 2**64 - 1),
    (b"0xffffffffffffffff", 2**64 - 1), (b"01777777777777777777777", 2**64 - 1),
    # junk: nothing parsed, something left over, a sign where none belongs
    (b"", -EINVAL), (b"x", -EINVAL), (b" 5", -EINVAL), (b"5 ", -EINVAL), (b"5\n\n", -EINVAL),
    (b"08", -EINVAL), (b"0x", -EINVAL), (b"0xg", -EINVAL), (b"0b101", -EINVAL), (b"1e3", -EINVAL),
    (b"-1", -EINVAL), (b"+-5", -EINVAL), (b"++5", -EINVAL), (b"5.0", -EINVAL),
    # overflow of 64 bits
    (b"18446744073709551616", -ERANGE), (b"99999999999999999999999", -ERANGE),
    (b"0x10000000000000000", -ERANGE),
])
def test_kstrtoull(text: bytes, value: int) -> None:
    assert err_of(lambda: kstrtoull(text)) == value


@pytest.mark.parametrize("text, value", [
    (b"-5", -5), (b"-0", 0), (b"-0x10", -16), (b"-010", -8), (b"9223372036854775807", 2**63 - 1),
    (b"-9223372036854775808", -2**63), (b"9223372036854775808", -ERANGE),
    (b"-9223372036854775809", -ERANGE), (b"-18446744073709551615", -ERANGE),
    (b"-", -EINVAL), (b"--5", -EINVAL), (b"-+5", -EINVAL), (b"+-5", -EINVAL),
])
def test_kstrtoll(text: bytes, value: int) -> None:
    assert err_of(lambda: kstrtoll(text)) == value


@pytest.mark.parametrize("text, value", [
    *((t, True) for t in (b"y", b"Y", b"yes", b"t", b"T", b"true", b"1", b"1abc", b"on", b"ON",
                          b"oN", b"onwards")),
    *((t, False) for t in (b"n", b"N", b"no", b"f", b"F", b"0", b"off", b"OFF", b"oFf")),
    *((t, -EINVAL) for t in (b"", b"o", b"ox", b"2", b" y", b"-1", b"Ja")),
])
def test_kstrtobool_looks_at_the_first_characters(text: bytes, value: Any) -> None:
    assert err_of(lambda: kstrtobool(text)) == value


# -- each type's set and get --------------------------------------------------------

def param(type_name: str, value: Any = 0, **kw: Any) -> tuple[KernelParam, dict[str, Any]]:
    ns = {"v": value}
    ops = PARAM_TYPES[type_name]
    return KernelParam("v", ops, 0o644, arg=PyGlobal(ns, "v", type_name == "charp"), **kw), ns


def set_(kp: KernelParam, val: bytes | None) -> int:
    return kp.ops.set(None if val is None else CStr.of(val), kp)


@pytest.mark.parametrize("type_name, text, stored, shown", [
    ("byte", b"255", 255, "255\n"), ("byte", b"256", -ERANGE, None), ("byte", b"-1", -EINVAL, None),
    ("short", b"-32768", -32768, "-32768\n"), ("short", b"32768", -ERANGE, None),
    ("ushort", b"65535", 65535, "65535\n"), ("ushort", b"65536", -ERANGE, None),
    ("int", b"-2147483648", -2**31, "-2147483648\n"), ("int", b"2147483648", -ERANGE, None),
    ("int", b"0x7fffffff", 2**31 - 1, "2147483647\n"), ("int", b"0xffffffff", -ERANGE, None),
    ("int", b"abc", -EINVAL, None), ("int", b"", -EINVAL, None), ("int", b"12\n", 12, "12\n"),
    ("uint", b"4294967295", 2**32 - 1, "4294967295\n"), ("uint", b"4294967296", -ERANGE, None),
    ("uint", b"-1", -EINVAL, None),
    ("long", b"-9223372036854775808", -2**63, "-9223372036854775808\n"),
    ("ulong", b"18446744073709551615", 2**64 - 1, "18446744073709551615\n"),
    ("ullong", b"0x10", 16, "16\n"),
    ("hexint", b"255", 255, "0x0000ff\n"), ("hexint", b"0", 0, "0x000000\n"),
    ("hexint", b"0x12345678", 0x12345678, "0x12345678\n"),
    ("charp", b"hello world", "hello world", "hello world\n"), ("charp", b"", "", "\n"),
    ("charp", b"x\n", "x\n", "x\n\n"),
    ("bool", b"y", True, "Y\n"), ("bool", b"off", False, "N\n"), ("bool", b"maybe", -EINVAL, None),
    ("invbool", b"y", False, "Y\n"), ("invbool", b"0", True, "N\n"),
])
def test_set_and_get_of_each_type(type_name: str, text: bytes, stored: Any, shown: str | None) -> None:
    kp, ns = param(type_name, "old" if type_name == "charp" else 7)
    ret = set_(kp, text)
    if shown is None:
        assert ret == stored
        assert ns["v"] in (7, "old")        # a failed set stores nothing
        return
    assert ret == 0 and ns["v"] == stored and type(ns["v"]) is type(stored)
    assert kp.ops.get(kp) == shown


def test_a_bare_name_sets_a_bool_and_nothing_else() -> None:
    kp, ns = param("bool", False)
    assert set_(kp, None) == 0 and ns["v"] is True
    for t in ("int", "charp", "invbool"):
        kp, _ = param(t, None if t == "charp" else 0)
        (ret, _), lines = run_parse(b"v", [kp])
        assert ret == -EINVAL and lines == ["mod: `' invalid for parameter `v'"]


def test_a_null_charp_reads_null() -> None:
    kp, _ = param("charp", None)
    assert kp.ops.get(kp) == "(null)\n"


def run_parse(args: bytes, params: list[KernelParam], unknown: Any = unknown_module_param_cb,
              ) -> tuple[tuple[int, bytes | None], list[str]]:
    """parse_args as load_module calls it, in a kernel (it prints)."""
    result, k = in_kernel(lambda: parse_args("mod", args, params, None, unknown), seconds=1)
    k.flush_log()
    return result, [r.text for r in k.log_records()[2:]]


def test_charp_takes_up_to_1024_bytes() -> None:
    kp, ns = param("charp", None)
    assert run_parse(b"v=" + b"x" * 1024, [kp])[0] == (0, None) and len(ns["v"]) == 1024
    (ret, _), lines = run_parse(b"v=" + b"y" * 1025, [kp])
    assert ret == -ENOSPC and ns["v"] == "x" * 1024
    assert lines[0] == "v: string parameter too long"
    # Cut at 1023 bytes with its level prefix (PRINTKRB_RECORD_MAX), as the kernel's is.
    assert lines[1].startswith("mod: `yyy") and len(lines[1]) == 1021


def test_a_too_long_charp_is_too_large_not_invalid() -> None:
    """kernel/params.c: param_set_charp's -ENOSPC (after its own "string
    parameter too long") takes parse_args' ``case -ENOSPC``: "too large for
    parameter", not the default case's "invalid for parameter".  On a real
    kernel the record is cut before that text (see above); a longer record
    shows it."""
    kp, ns = param("charp", None)

    def parse() -> tuple[int, bytes | None]:
        cur.k.record_max = 4096
        return parse_args("mod", b"v=" + b"y" * 1025, [kp])

    (ret, _), k = in_kernel(parse, seconds=1)
    k.flush_log()
    lines = [r.text for r in k.log_records()[2:]]
    assert ret == -ENOSPC
    assert lines == ["v: string parameter too long", f"mod: `{'y' * 1025}' too large for parameter `v'"]


def test_a_string_parameter_must_fit_its_buffer() -> None:
    ns = {"buf": "abc"}
    kp = KernelParam("s", param_ops_string, 0o644, str=KParamString(8, PyGlobal(ns, "buf", True)))
    assert run_parse(b"s=1234567", [kp])[0] == (0, None) and ns["buf"] == "1234567"
    (ret, _), lines = run_parse(b"s=12345678", [kp])
    assert ret == -ENOSPC and ns["buf"] == "1234567"
    assert lines == ["s: string doesn't fit in 7 chars.",
                     "mod: `12345678' too large for parameter `s'"]
    assert kp.ops.get(kp) == "1234567\n"


# -- arrays -------------------------------------------------------------------------

def array(type_name: str, items: list[Any], with_num: bool = True) -> tuple[KernelParam, dict[str, Any]]:
    ns: dict[str, Any] = {"a": items, "n": 0}
    ops = PARAM_TYPES[type_name]
    arr = KParamArray(len(items), ops, lambda i: PyItem(items, i, type_name == "charp"),
                      PyGlobal(ns, "n") if with_num else None)
    return KernelParam("a", param_array_ops, 0o444, arr=arr), ns


def test_an_array_takes_comma_separated_values_and_counts_them() -> None:
    kp, ns = array("int", [0, 0, 0, 0])
    assert run_parse(b"a=1,-2,0x3", [kp]) == ((0, None), [])
    assert ns == {"a": [1, -2, 3, 0], "n": 3}
    assert kp.ops.get(kp) == "1,-2,3\n"
    ns["n"] = 0
    assert kp.ops.get(kp) == ""                  # no values: not even a newline
    kp, ns = array("int", [5, 6], with_num=False)
    assert kp.ops.get(kp) == "5,6\n"             # no count: every element


def test_too_many_values_fail_after_filling_the_array() -> None:
    kp, ns = array("int", [0, 0])
    (ret, _), lines = run_parse(b"a=1,2,3", [kp])
    assert ret == -EINVAL and ns == {"a": [1, 2], "n": 2}
    # param_array cut the value at each comma, so the message shows the first.
    assert lines == ["a: can only take 2 arguments", "mod: `1' invalid for parameter `a'"]


def test_a_bad_element_leaves_the_ones_before_it_set() -> None:
    kp, ns = array("int", [0, 0, 0])
    (ret, _), lines = run_parse(b"a=7,x,9", [kp])
    assert ret == -EINVAL and ns == {"a": [7, 0, 0], "n": 1}
    assert lines == ["mod: `7' invalid for parameter `a'"]


def test_array_edge_values() -> None:
    kp, ns = array("int", [0, 0])
    assert run_parse(b"a=", [kp])[0] == (-EINVAL, None)           # one empty value
    assert run_parse(b"a", [kp])[0] == (-EINVAL, None)            # no value at all
    assert run_parse(b"a=1,", [kp])[0] == (-EINVAL, None)         # a trailing empty one
    kp, ns = array("charp", [None, None, None])
    assert run_parse(b"a=,x", [kp])[0] == (0, None) and ns == {"a": ["", "x", None], "n": 2}
    kp, ns = array("bool", [False, False, False])
    assert run_parse(b"a=y,n,1", [kp])[0] == (0, None) and ns["a"] == [True, False, True]
    assert kp.ops.get(kp) == "Y,N,Y\n"


# -- tokens ---------------------------------------------------------------------------

class Recorder:
    """Parameters that remember what set() got."""

    def __init__(self, *names: str) -> None:
        self.seen: list[tuple[str, bytes | None]] = []

        def set_(val: CStr | None, kp: KernelParam) -> int:
            self.seen.append((kp.name, None if val is None else val.value))
            return 0

        ops = KernelParamOps("rec", 1, set_, lambda kp: "")
        self.params = [KernelParam(n, ops) for n in names]


@pytest.mark.parametrize("args, seen", [
    (b"a=1 b=2", [("a", b"1"), ("b", b"2")]),
    (b"   a=1    b=2   ", [("a", b"1"), ("b", b"2")]),
    (b"a=1\tb=2\nc=3\r\x0bd\x0c", [("a", b"1"), ("b", b"2"), ("c", b"3"), ("d", None)]),
    (b"a=1\xa0b=2", [("a", b"1"), ("b", b"2")]),                  # the kernel's isspace(0xa0)
    (b'a="x y" b=2', [("a", b"x y"), ("b", b"2")]),
    (b'"a=x y"', [("a", b"x y")]),
    (b'a=x" "y', [("a", b'x" "y')]),
    (b'a="x', [("a", b"x")]),
    (b'a=""', [("a", b"")]),
    (b"a", [("a", None)]),
    (b"a=", [("a", b"")]),
    (b"a==5", [("a", b"=5")]),
    (b"a=b=c", [("a", b"b=c")]),
    (b"a-b=1 a_b=2", [("a_b", b"1"), ("a_b", b"2")]),            # - and _ are the same
    (b"c=1,2,3", [("c", b"1,2,3")]),
])
def test_next_arg_tokens(args: bytes, seen: list[tuple[str, bytes | None]]) -> None:
    rec = Recorder("a", "b", "c", "d", "a_b")
    assert parse_args("m", args, rec.params) == (0, None)
    assert rec.seen == seen


def test_double_dash_ends_the_parameters() -> None:
    rec = Recorder("a")
    assert parse_args("m", b"-- a=1", rec.params) == (0, b"a=1")
    assert parse_args("m", b"a=1 --", rec.params) == (0, b"")
    assert rec.seen == [("a", b"1")]


def test_an_unknown_parameter_without_a_handler_is_an_error() -> None:
    (ret, _), lines = run_parse(b"zz=1", [], unknown=None)
    assert ret == -ENOENT and lines == ["mod: Unknown parameter `zz'"]


def test_unknown_parameters_of_a_module_are_warned_about_and_ignored() -> None:
    (ret, _), lines = run_parse(b'foo=1 bar "baz=x y" a.b=2 dyndbg=+p m.dyndbg async_probe', [])
    assert ret == 0
    # The dynamic-debug hook cuts a name at its first dot before the warning.
    assert lines == ["mod: unknown parameter 'foo' ignored", "mod: unknown parameter 'bar' ignored",
                     "mod: unknown parameter 'baz' ignored", "mod: unknown parameter 'a' ignored"]


def test_every_bad_parameter_is_reported_and_the_last_error_wins() -> None:
    a, ns_a = param("int", 0)
    b, ns_b = param("int", 0)
    b.name = "w"
    c, ns_c = param("uint", 0)
    c.name = "u"
    (ret, _), lines = run_parse(b"v=x w=3 u=99999999999 nope=1", [a, b, c])
    assert ret == -ERANGE and ns_b["v"] == 3
    assert lines == ["mod: `x' invalid for parameter `v'",
                     "mod: `99999999999' invalid for parameter `u'",
                     "mod: unknown parameter 'nope' ignored"]


def test_messages_show_invalid_utf8_as_dmesg_escapes_it() -> None:
    kp, _ = param("int", 0)
    _, lines = run_parse(b"v=\xff", [kp])
    assert lines == ["mod: `\\xff' invalid for parameter `v'"]


# -- /sys/module/MOD/parameters ---------------------------------------------------------

class FakeModule:
    def __init__(self, params: list[KernelParam]) -> None:
        self.name = "m"
        self.params = params


def sysfs_kernel() -> tuple[Any, dict[str, Any]]:
    from kernsim._core._kernel import Kernel

    k = Kernel()
    ns: dict[str, Any] = {"rw": 1, "ro": 2, "hidden": 3, "wo": 4, "grp": 5, "s": "x"}
    mk = lambda n, mode, t="int": KernelParam(n, PARAM_TYPES[t], mode,  # noqa: E731
                                              arg=PyGlobal(ns, n, t == "charp"))
    k.modules["m"] = FakeModule([mk("rw", 0o644), mk("ro", 0o444), mk("hidden", 0),
                                 mk("wo", 0o200), mk("grp", 0o640), mk("s", 0o644, "charp")])
    return k, ns


def oserror(fn: Callable[[], Any]) -> int:
    with pytest.raises(OSError) as exc:
        fn()
    return exc.value.errno


def test_parameter_files_are_those_with_a_mode() -> None:
    k, _ = sysfs_kernel()
    assert module_param_files(k, "m") == [("rw", 0o644), ("ro", 0o444), ("wo", 0o200),
                                          ("grp", 0o640), ("s", 0o644)]
    assert module_param_files(k, "other") == []
    assert oserror(lambda: module_param_read(k, "m", "hidden")) == ENOENT
    assert oserror(lambda: module_param_read(k, "other", "rw")) == ENOENT
    k.close()


def test_reading_and_writing_follow_the_mode() -> None:
    k, ns = sysfs_kernel()
    assert module_param_read(k, "m", "rw") == "1\n"
    assert module_param_write(k, "m", "rw", "42\n") == 3 and ns["rw"] == 42
    assert module_param_read(k, "m", "rw") == "42\n"
    # No write bit: refused even to root (kernfs); no read bit likewise.
    assert oserror(lambda: module_param_write(k, "m", "ro", "5")) == EACCES and ns["ro"] == 2
    assert oserror(lambda: module_param_read(k, "m", "wo")) == EACCES
    assert module_param_write(k, "m", "wo", "9") == 1 and ns["wo"] == 9
    # Others: only the "other" bits count (the files belong to root).
    assert module_param_read(k, "m", "rw", privileged=False) == "42\n"
    assert oserror(lambda: module_param_write(k, "m", "rw", "1", privileged=False)) == EACCES
    assert oserror(lambda: module_param_read(k, "m", "grp", privileged=False)) == EACCES
    assert module_param_read(k, "m", "grp") == "5\n"
    k.close()


def test_a_bad_write_is_the_error_of_set_and_a_charp_keeps_the_newline() -> None:
    k, ns = sysfs_kernel()
    assert oserror(lambda: module_param_write(k, "m", "rw", "abc")) == EINVAL and ns["rw"] == 1
    assert oserror(lambda: module_param_write(k, "m", "rw", "1" * 20)) == ERANGE
    assert module_param_write(k, "m", "s", "hello\n") == 6 and ns["s"] == "hello\n"
    assert module_param_read(k, "m", "s") == "hello\n\n"
    assert oserror(lambda: module_param_write(k, "m", "s", "z" * 1025)) == ENOSPC
    assert [r.text for r in k.log_records()][-1] == "s: string parameter too long"
    k.close()
