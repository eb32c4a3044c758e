"""Module parameters (``kernel/params.c``, ``lib/cmdline.c``, ``lib/kstrtox.c``,
``include/linux/moduleparam.h``).

What the kernel does
--------------------
``module_param(count, int, 0644)`` puts a ``struct kernel_param`` in the
module's ``__param`` section -- the name, the type's ``kernel_param_ops``
(``param_ops_int``: a ``set`` that parses text, a ``get`` that prints it),
the sysfs permissions and a pointer to the variable -- and a
``parmtype=count:int`` string in ``.modinfo`` (``MODULE_PARM_DESC`` adds
``parm=count:text``).  ``insmod m.ko count=3 name=x`` joins its arguments with
spaces; ``load_module`` hands the string to ``parse_args`` once the module is
COMING, before its init runs:

* ``next_arg`` cuts the next ``name[=value]`` token at unquoted white space
  (the kernel's ``isspace``: also byte 0xa0); a double quote toggles quoting,
  and quotes around the value or the whole token are dropped;
* ``parse_one`` finds the parameter whose name equals the token's, ``-`` and
  ``_`` being the same; a parameter without ``=value`` is ``-EINVAL`` unless
  its ops take none (``bool``: a bare ``flag`` sets it);
* the type's ``set`` parses the value (``kstrto*``: base auto-detected,
  ``-ERANGE`` when out of range, ``-EINVAL`` for junk; ``kstrtobool`` looks at
  the first one or two characters only) and stores it;
* an unknown name is handed to ``unknown_module_param_cb``: ``async_probe``
  and ``dyndbg`` are taken silently, anything else is *warned about and
  ignored*;
* every bad parameter gets its ``pr_err`` and parsing goes on; the load then
  fails with the last error (kmod: "Invalid parameters" for -EINVAL).

Parameters with a non-zero mode are files in ``/sys/module/MOD/parameters``:
reading one calls ``get`` (``Y``/``N`` for bools, ``(null)`` for a NULL
charp), writing one calls ``set`` with the text written (an ``echo``'s
newline included: ``kstrto*`` accept one trailing newline, a charp keeps it).
kernfs refuses a read of a file with no read bit and a write to one with no
write bit even to root.

What kernsim does
-----------------
The same steps on the same data.  The argument string is bytes, as in the
kernel, and is NUL-terminated and cut in place (a :class:`CStr` points into
it), so the kernel's quirks are kept: ``param_array`` leaves its value cut at
the first comma, which is what the error message then shows; the dynamic
debug hook (CONFIG_DYNAMIC_DEBUG=y, as on Debian) cuts a name at its first
``.``, which is what the "unknown parameter" warning then shows.

Where a parameter's value lives is the front door's business: a module
global for Python modules (:class:`PyGlobal`), C memory for C modules
(``kernsim.cmodule``).  Both give ``load()``/``store()`` of the type's value
(an int, a bool, or bytes/None for strings); the ops here do the rest.

The core API for ``/sys/module/MOD/parameters`` is :func:`module_param_files`,
:func:`module_param_read` and :func:`module_param_write`.

Divergence: ``dyndbg=QUERY`` is accepted but runs no query; ``async_probe``
is accepted and has no effect; ``module_param_cb`` with ops of the module's
own is not supported (C modules get a clear load failure); unsafe and
hardware parameters (``module_param_unsafe``, ``module_param_hw``) are not
provided.
"""

from __future__ import annotations

import builtins
import errno as _errno
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Iterator, Protocol

from ._current import cur
from ._errno import EACCES, EINVAL, ENOENT, ENOSPC, ERANGE
from ._export import export, export_data, export_values
from ._printk import KERN_ERR, KERN_WARNING

#: kernel_param_ops.flags: the parameter may be given without ``=value``.
KERNEL_PARAM_OPS_FL_NOARG: Final = 1 << 0

#: param_set_charp's limit.
CHARP_MAXLEN: Final = 1024

#: The kernel's isspace() (lib/ctype.c: _S and _SP, with Latin-1's NBSP).
_SPACE: Final = frozenset(b" \t\n\v\f\r\xa0")
_HEXDIGITS: Final = frozenset(b"0123456789abcdefABCDEF")
_U64: Final = (1 << 64) - 1


# -- C strings ----------------------------------------------------------------

class CStr:
    """A ``char *`` into a NUL-terminated byte buffer that the parser may cut."""

    __slots__ = ("buf", "off")

    def __init__(self, buf: bytearray, off: int = 0) -> None:
        self.buf = buf
        self.off = off

    @classmethod
    def of(cls, data: bytes) -> CStr:
        """A fresh copy of *data* (cut at a NUL, as a C string is)."""
        return cls(bytearray(data.split(b"\0", 1)[0] + b"\0"))

    @property
    def value(self) -> bytes:
        end = self.buf.index(0, self.off)
        return bytes(self.buf[self.off:end])

    def __str__(self) -> str:
        return text(self.value)


def text(data: bytes) -> str:
    """Bytes of the kernel as the log shows them (dmesg escapes invalid UTF-8)."""
    return data.decode("utf-8", "backslashreplace")


# -- kstrto*: lib/kstrtox.c -------------------------------------------------------

class KstrtoxError(Exception):
    """A kstrto* failure: ``errno`` is EINVAL or ERANGE."""

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.errno = err


def _parse_integer_fixup_radix(s: bytes, base: int) -> tuple[bytes, int]:
    if base == 0:
        if s[:1] == b"0":
            base = 16 if s[1:2] in (b"x", b"X") and s[2:3] and s[2] in _HEXDIGITS else 8
        else:
            base = 10
    if base == 16 and s[:1] == b"0" and s[1:2] in (b"x", b"X"):
        s = s[2:]
    return s, base


def _kstrtoull(s: bytes, base: int) -> int:
    s, base = _parse_integer_fixup_radix(s, base)
    res = 0
    n = 0
    overflow = False
    for c in s:
        if 0x30 <= c <= 0x39:
            val = c - 0x30
        elif 0x61 <= (c | 0x20) <= 0x66:
            val = (c | 0x20) - 0x61 + 10
        else:
            break
        if val >= base:
            break
        if res >> 60 and res > (_U64 - val) // base:
            overflow = True
        res = (res * base + val) & _U64
        n += 1
    if overflow:
        raise KstrtoxError(ERANGE)
    if n == 0:
        raise KstrtoxError(EINVAL)
    rest = s[n:]
    if rest[:1] == b"\n":
        rest = rest[1:]
    if rest:
        raise KstrtoxError(EINVAL)
    return res


def kstrtoull(s: bytes, base: int = 0) -> int:
    """``kstrtoull``: an optional ``+``, then digits of *base* (0: auto), one optional newline."""
    if s[:1] == b"+":
        s = s[1:]
    return _kstrtoull(s, base)


def kstrtoll(s: bytes, base: int = 0) -> int:
    """``kstrtoll``: kstrtoull with an optional ``-``."""
    if s[:1] == b"-":
        tmp = _kstrtoull(s[1:], base)
        neg = -tmp & _U64
        if 0 < neg < 1 << 63:       # (long long)-tmp > 0
            raise KstrtoxError(ERANGE)
        return -tmp
    tmp = kstrtoull(s, base)
    if tmp >= 1 << 63:              # (long long)tmp < 0
        raise KstrtoxError(ERANGE)
    return tmp


def _ranged(signed: bool, bits: int) -> Callable[[bytes], int]:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    def parse(s: bytes) -> int:
        v = kstrtoll(s) if signed else kstrtoull(s)
        if not lo <= v <= hi:
            raise KstrtoxError(ERANGE)
        return v

    return parse


def kstrtobool(s: bytes | None) -> bool:
    """``kstrtobool``: ``y Y t T 1`` / ``n N f F 0`` / ``on`` / ``off`` by their first characters."""
    if s is None:
        raise KstrtoxError(EINVAL)
    c = s[:1]
    if c and c in b"yYtT1":
        return True
    if c and c in b"nNfF0":
        return False
    if c and c in b"oO":
        c2 = s[1:2]
        if c2 and c2 in b"nN":
            return True
        if c2 and c2 in b"fF":
            return False
    raise KstrtoxError(EINVAL)


# -- where a value lives ----------------------------------------------------------

class ParamArg(Protocol):
    """A parameter's variable: ``kp->arg`` cast to the type's pointer."""

    def load(self) -> Any: ...

    def store(self, value: Any) -> None: ...


def _encode(v: Any) -> bytes | None:
    return None if v is None else str(v).encode("utf-8", "surrogateescape")


class PyGlobal:
    """A global of a Python module (strings are ``str`` there, bytes here)."""

    __slots__ = ("ns", "name", "is_text")

    def __init__(self, ns: dict[str, Any], name: str, is_text: bool = False) -> None:
        self.ns = ns
        self.name = name
        self.is_text = is_text

    def load(self) -> Any:
        v = self.ns[self.name]
        return _encode(v) if self.is_text else v

    def store(self, value: Any) -> None:
        self.ns[self.name] = text(value) if self.is_text and value is not None else value


class PyItem:
    """An element of a Python list (a module_param_array element)."""

    __slots__ = ("items", "index", "is_text")

    def __init__(self, items: list[Any], index: int, is_text: bool = False) -> None:
        self.items = items
        self.index = index
        self.is_text = is_text

    def load(self) -> Any:
        v = self.items[self.index]
        return _encode(v) if self.is_text else v

    def store(self, value: Any) -> None:
        self.items[self.index] = text(value) if self.is_text and value is not None else value


# -- struct kernel_param and its ops ------------------------------------------------

@dataclass(frozen=True, eq=False)
class KernelParamOps:
    """``struct kernel_param_ops``: how a type's text is parsed and printed.

    ``set(val, kp)`` returns 0 or -errno (val is None for a bare ``name``);
    ``get(kp)`` returns the text a sysfs read shows (with its newline).
    """

    #: The type's name in ``module_param(name, TYPE, perm)`` and in ``parmtype``.
    name: str
    flags: int
    set: Callable[[CStr | None, KernelParam], int] = field(repr=False)
    get: Callable[[KernelParam], str] = field(repr=False)
    #: The C type of the variable (None: the kparam_string/kparam_array ops).
    ctype: str | None = None
    #: For Python declarations: whether a value fits the type.
    fits: Callable[[Any], bool] = field(default=lambda v: True, repr=False)

    @property
    def c_initializer(self) -> str:
        """The definition's initializer in kernsim's C runtime (set/get forward here)."""
        return (f"{{ .flags = {self.flags}, .set = kernsim_param_set, "
                f".get = kernsim_param_get }}")

    def __repr__(self) -> str:
        return f"<kernel_param_ops {self.name}>"


@dataclass(eq=False)
class KParamString:
    """``struct kparam_string`` (module_param_string): a char buffer of *maxlen*."""

    maxlen: int
    string: ParamArg


@dataclass(eq=False)
class KParamArray:
    """``struct kparam_array`` (module_param_array)."""

    max: int
    ops: KernelParamOps
    #: Element *i*'s variable.
    elem: Callable[[int], ParamArg]
    #: Where the number of values given is stored (None: nowhere).
    num: ParamArg | None = None


@dataclass(eq=False)
class KernelParam:
    """``struct kernel_param``: one entry of a module's ``__param`` section."""

    name: str
    ops: KernelParamOps
    perm: int = 0
    arg: ParamArg | None = None
    arr: KParamArray | None = None
    str: KParamString | None = None
    level: int = -1
    flags: int = 0
    #: The module (THIS_MODULE), if any.
    mod: Any = None

    def __repr__(self) -> builtins.str:      # (the field "str" is the kernel's name)
        return f"<kernel_param {self.name} {self.ops.name} {self.perm:#o}>"


def _pr(level: str, line: str) -> None:
    cur.k.printk_ln(level, line)


def _standard(name: str, ctype: str, parse: Callable[[bytes], int],
              fmt: Callable[[int], str]) -> KernelParamOps:
    """STANDARD_PARAM_DEF: ``param_set_NAME`` is ``kstrtoX(val, 0, arg)``."""
    bounds = parse

    def set_(val: CStr | None, kp: KernelParam) -> int:
        if val is None:
            return -EINVAL
        try:
            v = parse(val.value)
        except KstrtoxError as exc:
            return -exc.errno
        assert kp.arg is not None
        kp.arg.store(v)
        return 0

    def get(kp: KernelParam) -> str:
        assert kp.arg is not None
        return fmt(int(kp.arg.load())) + "\n"

    def fits(v: Any) -> bool:
        if not isinstance(v, int) or isinstance(v, bool):
            return False
        try:
            return bounds(str(v).encode()) == v
        except KstrtoxError:
            return False

    return KernelParamOps(name, 0, set_, get, ctype, fits)


def _hexint(v: int) -> str:
    return f"{v:#08x}"     # the kernel's %#08x: 0x and six digits, 0x000000 for 0


param_ops_byte = _standard("byte", "unsigned char", _ranged(False, 8), str)
param_ops_short = _standard("short", "short", _ranged(True, 16), str)
param_ops_ushort = _standard("ushort", "unsigned short", _ranged(False, 16), str)
param_ops_int = _standard("int", "int", _ranged(True, 32), str)
param_ops_uint = _standard("uint", "unsigned int", _ranged(False, 32), str)
param_ops_long = _standard("long", "long", _ranged(True, 64), str)
param_ops_ulong = _standard("ulong", "unsigned long", _ranged(False, 64), str)
param_ops_ullong = _standard("ullong", "unsigned long long", _ranged(False, 64), str)
param_ops_hexint = _standard("hexint", "unsigned int", _ranged(False, 32), _hexint)


def param_set_charp(val: CStr | None, kp: KernelParam) -> int:
    """A copy of the value (the kernel kmallocs it); longer than 1024: -ENOSPC."""
    if val is None:
        return -EINVAL
    s = val.value
    if len(s) > CHARP_MAXLEN:
        _pr(KERN_ERR, f"{kp.name}: string parameter too long")
        return -ENOSPC
    assert kp.arg is not None
    kp.arg.store(s)
    return 0


def param_get_charp(kp: KernelParam) -> str:
    assert kp.arg is not None
    v = kp.arg.load()
    return ("(null)" if v is None else text(v)) + "\n"


param_ops_charp = KernelParamOps("charp", 0, param_set_charp, param_get_charp, "char *",
                                 lambda v: v is None or isinstance(v, str))


def param_set_bool(val: CStr | None, kp: KernelParam) -> int:
    """No ``=value`` means true; else kstrtobool."""
    try:
        v = kstrtobool(b"1" if val is None else val.value)
    except KstrtoxError as exc:
        return -exc.errno
    assert kp.arg is not None
    kp.arg.store(v)
    return 0


def param_get_bool(kp: KernelParam) -> str:
    assert kp.arg is not None
    return ("Y" if kp.arg.load() else "N") + "\n"


param_ops_bool = KernelParamOps("bool", KERNEL_PARAM_OPS_FL_NOARG, param_set_bool,
                                param_get_bool, "bool", lambda v: isinstance(v, bool))


def param_set_invbool(val: CStr | None, kp: KernelParam) -> int:
    try:
        v = kstrtobool(b"1" if val is None else val.value)
    except KstrtoxError as exc:
        return -exc.errno
    assert kp.arg is not None
    kp.arg.store(not v)
    return 0


def param_get_invbool(kp: KernelParam) -> str:
    assert kp.arg is not None
    return ("N" if kp.arg.load() else "Y") + "\n"


# Not KERNEL_PARAM_OPS_FL_NOARG: a bare "name" is -EINVAL for invbool (and
# parse_one says so before set's own NULL handling is reached).
param_ops_invbool = KernelParamOps("invbool", 0, param_set_invbool, param_get_invbool,
                                   "bool", lambda v: isinstance(v, bool))


def param_set_copystring(val: CStr | None, kp: KernelParam) -> int:
    """module_param_string: copied into the buffer if it fits (with its NUL)."""
    if val is None:
        return -EINVAL
    kps = kp.str
    assert kps is not None
    s = val.value
    if len(s) >= kps.maxlen:
        _pr(KERN_ERR, f"{kp.name}: string doesn't fit in {kps.maxlen - 1} chars.")
        return -ENOSPC
    kps.string.store(s)
    return 0


def param_get_string(kp: KernelParam) -> str:
    assert kp.str is not None
    return text(kp.str.string.load() or b"") + "\n"


param_ops_string = KernelParamOps("string", 0, param_set_copystring, param_get_string)


def param_array(mod: Any, name: str, val: CStr, min_: int, max_: int, arr: KParamArray,
                num: ParamArg) -> int:
    """Set elements from a comma-separated list, cutting *val* in place as the kernel does."""
    buf = val.buf
    off = val.off
    n = 0
    num.store(0)
    while True:
        if n == max_:
            _pr(KERN_ERR, f"{name}: can only take {max_} arguments")
            return -EINVAL
        end = off
        while buf[end] not in (0, 0x2C):
            end += 1
        save = buf[end]
        buf[end] = 0
        kp = KernelParam(name, arr.ops, arg=arr.elem(n), mod=mod)
        ret = arr.ops.set(CStr(buf, off), kp)
        if ret != 0:
            return ret
        off = end + 1
        n += 1
        num.store(n)
        if save != 0x2C:
            break
    if n < min_:
        _pr(KERN_ERR, f"{name}: needs at least {min_} arguments")
        return -EINVAL
    return 0


class _Scratch:
    """``temp_num``: where the count goes when the module gave no pointer."""

    __slots__ = ("v",)

    def __init__(self) -> None:
        self.v = 0

    def load(self) -> int:
        return self.v

    def store(self, value: int) -> None:
        self.v = value


def param_array_set(val: CStr | None, kp: KernelParam) -> int:
    if val is None:
        return -EINVAL
    arr = kp.arr
    assert arr is not None
    return param_array(kp.mod, kp.name, val, 1, arr.max, arr, arr.num or _Scratch())


def param_array_get(kp: KernelParam) -> str:
    """Each element's text, the newline between them turned into a comma."""
    arr = kp.arr
    assert arr is not None
    n = int(arr.num.load()) if arr.num is not None else arr.max
    out = ""
    for i in range(min(n, arr.max)):       # the kernel would read past the array
        if i:
            out = out[:-1] + ","
        out += arr.ops.get(KernelParam(kp.name, arr.ops, arg=arr.elem(i), mod=kp.mod))
    return out


param_array_ops = KernelParamOps("array", 0, param_array_set, param_array_get)

#: The types of module_param(), by name: ``param_ops_##type``.
PARAM_TYPES: Final[dict[str, KernelParamOps]] = {
    ops.name: ops for ops in (param_ops_byte, param_ops_short, param_ops_ushort, param_ops_int,
                              param_ops_uint, param_ops_long, param_ops_ulong, param_ops_ullong,
                              param_ops_hexint, param_ops_charp, param_ops_bool,
                              param_ops_invbool)
}

#: Every kernel_param_ops kernsim provides, by symbol (the C runtime defines them).
PARAM_OPS: Final[dict[str, KernelParamOps]] = {
    **{f"param_ops_{name}": ops for name, ops in PARAM_TYPES.items()},
    "param_ops_string": param_ops_string,
    "param_array_ops": param_array_ops,
}


# -- parse_args -------------------------------------------------------------------------

def _skip_spaces(buf: bytearray, i: int) -> int:
    while buf[i] in _SPACE:
        i += 1
    return i


def next_arg(buf: bytearray, i: int) -> tuple[CStr, CStr | None, int]:
    """``next_arg``: the token at *i* as (param, value or None), and where the next starts."""
    quoted = in_quote = False
    if buf[i] == 0x22:
        i += 1
        quoted = in_quote = True
    args = i
    n = 0
    equals = 0
    while buf[args + n]:
        c = buf[args + n]
        if c in _SPACE and not in_quote:
            break
        if equals == 0 and c == 0x3D:
            equals = n
        if c == 0x22:
            in_quote = not in_quote
        n += 1
    param = CStr(buf, args)
    val: CStr | None = None
    if equals:
        buf[args + equals] = 0
        voff = args + equals + 1
        if buf[voff] == 0x22:           # don't include quotes in the value
            voff += 1
            if buf[args + n - 1] == 0x22:
                buf[args + n - 1] = 0
        val = CStr(buf, voff)
    if quoted and n > 0 and buf[args + n - 1] == 0x22:
        buf[args + n - 1] = 0
    if buf[args + n]:
        buf[args + n] = 0
        nxt = args + n + 1
    else:
        nxt = args + n
    return param, val, _skip_spaces(buf, nxt)


def parameq(a: bytes, b: bytes) -> bool:
    """Names are equal with ``-`` and ``_`` the same."""
    return a.replace(b"-", b"_") == b.replace(b"-", b"_")


UnknownFn = Callable[[CStr, "CStr | None", str, Any], int]


def parse_one(param: CStr, val: CStr | None, doing: str, params: list[KernelParam],
              arg: Any, unknown: UnknownFn | None) -> int:
    name = param.value
    for kp in params:
        if parameq(name, kp.name.encode()):
            if val is None and not kp.ops.flags & KERNEL_PARAM_OPS_FL_NOARG:
                return -EINVAL
            return kp.ops.set(val, kp)
    if unknown is not None:
        return unknown(param, val, doing, arg)
    return -ENOENT


def parse_args(doing: str, args: bytes, params: list[KernelParam], arg: Any = None,
               unknown: UnknownFn | None = None) -> tuple[int, bytes | None]:
    """``parse_args``: every parameter of *args* is set; (0 or the last -errno,
    the text after a ``--`` if there was one)."""
    buf = bytearray(args.split(b"\0", 1)[0] + b"\0")
    i = _skip_spaces(buf, 0)
    err = 0
    while buf[i]:
        param, val, i = next_arg(buf, i)
        if val is None and param.value == b"--":
            return (err, None) if err else (0, CStr(buf, i).value)
        ret = parse_one(param, val, doing, params, arg, unknown)
        if ret == 0:
            continue
        shown = str(val) if val is not None else ""
        if ret == -ENOENT:
            _pr(KERN_ERR, f"{doing}: Unknown parameter `{param}'")
        elif ret == -ENOSPC:
            _pr(KERN_ERR, f"{doing}: `{shown}' too large for parameter `{param}'")
        else:
            _pr(KERN_ERR, f"{doing}: `{shown}' invalid for parameter `{param}'")
        err = ret
    return err, None


def ddebug_dyndbg_module_param_cb(param: CStr, val: CStr | None, modname: str) -> int:
    """lib/dynamic_debug.c: ``dyndbg`` (or ``X.dyndbg``) is its own; note that
    it cuts *param* at the first ``.``, as the kernel does."""
    name = param.value
    dot = name.find(b".")
    if dot >= 0:
        param.buf[param.off + dot] = 0
        name = name[dot + 1:]
    if name != b"dyndbg":
        return -ENOENT
    return 0     # Divergence: the query is not executed.


def unknown_module_param_cb(param: CStr, val: CStr | None, modname: str, mod: Any) -> int:
    """kernel/module/main.c: unknown names are warned about and ignored."""
    if param.value == b"async_probe":
        return 0
    if ddebug_dyndbg_module_param_cb(param, val, modname) != 0:
        _pr(KERN_WARNING, f"{modname}: unknown parameter '{param}' ignored")
    return 0


def parse_module_args(mod: Any, args: str | bytes) -> int:
    """``load_module``'s step: parse the insmod arguments into *mod*'s
    parameters (``mod.params``); 0 or the error that fails the load."""
    data = args.encode("utf-8", "surrogateescape") if isinstance(args, str) else args
    mod.args = data
    err, after_dashes = parse_args(mod.name, data, mod.params, mod, unknown_module_param_cb)
    if err:
        return err
    if after_dashes is not None:
        _pr(KERN_WARNING, f"{mod.name}: parameters '{text(after_dashes)}' after `--' ignored")
    return 0


# -- /sys/module/MOD/parameters -----------------------------------------------------


@contextmanager
def _in_kernel(k: Any) -> Iterator[None]:
    """The ops print through the running kernel: *k*, also between its runs."""
    saved = cur.k
    cur.k = k
    try:
        yield
    finally:
        cur.k = saved


def _param_file(k: Any, module: str, name: str) -> KernelParam:
    mod = k.modules.get(module)
    if mod is not None:
        for kp in mod.params:
            if kp.perm and kp.name == name:
                return kp
    raise OSError(_errno.ENOENT, os.strerror(_errno.ENOENT))


def _may(kp: KernelParam, want: int, privileged: bool) -> None:
    """kernfs_fop_open: no read (write) bit at all refuses even root; others
    need the "other" bit (the files belong to root:root)."""
    mode = kp.perm & 0o777
    ok = mode & want if privileged else mode & want & 0o007
    if not ok:
        raise OSError(EACCES, os.strerror(EACCES))


def module_param_files(k: Any, module: str) -> list[tuple[str, int]]:
    """The files of ``/sys/module/MODULE/parameters``: (name, mode) of each
    parameter with a non-zero mode, in ``__param`` order.  A module that is
    not loaded has none."""
    mod = k.modules.get(module)
    if mod is None:
        return []
    return [(kp.name, kp.perm) for kp in mod.params if kp.perm]


def module_param_read(k: Any, module: str, name: str, *, privileged: bool = True) -> str:
    """``cat /sys/module/MODULE/parameters/NAME``: the ops' ``get`` text.

    Raises OSError: ENOENT (no such file), EACCES (mode)."""
    kp = _param_file(k, module, name)
    _may(kp, 0o444, privileged)
    with _in_kernel(k):
        return kp.ops.get(kp)


def module_param_write(k: Any, module: str, name: str, value: str | bytes, *,
                       privileged: bool = True) -> int:
    """``echo VALUE > /sys/module/MODULE/parameters/NAME`` (give the newline
    if echo's is meant): the ops' ``set``; returns the bytes written.

    Raises OSError: ENOENT, EACCES, or the error ``set`` returned (EINVAL...)."""
    kp = _param_file(k, module, name)
    _may(kp, 0o222, privileged)
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    with _in_kernel(k):
        err = kp.ops.set(CStr.of(data), kp)
    if err:
        raise OSError(-err, os.strerror(-err))
    return len(data)


# -- the Python front door: moduleparam.h's macros -------------------------------------

def _verify_octal_permissions(perm: Any, what: str) -> int:
    """VERIFY_OCTAL_PERMISSIONS: what the C build refuses."""
    if isinstance(perm, bool) or not isinstance(perm, int):
        raise TypeError(f"{what}: the permissions must be an int such as 0o644, not {perm!r}")
    problems = []
    if perm < 0 or perm > 0o777:
        hint = f": did you mean 0o{perm}?" if set(str(perm)) <= set("01234567") else ""
        problems.append(f"not between 0 and 0o777{hint}")
    else:
        if (perm >> 6) & 4 < (perm >> 3) & 4 or (perm >> 3) & 4 < perm & 4:
            problems.append("the owner must be able to read what the group can, and the group "
                            "what others can")
        if (perm >> 6) & 2 < (perm >> 3) & 2:
            problems.append("the owner must be able to write what the group can")
        if perm & 2:
            problems.append("writable by others")
    if problems:
        raise ValueError(f"{what}: permissions {perm:#o} are refused by the kernel's "
                         f"VERIFY_OCTAL_PERMISSIONS ({'; '.join(problems)})")
    return perm


_PY_TYPES: Final = {int: "int", bool: "bool", str: "charp"}


def _param_type(type_: Any, what: str) -> KernelParamOps:
    name = _PY_TYPES.get(type_, type_)
    ops = PARAM_TYPES.get(name) if isinstance(name, str) else None
    if ops is None:
        raise ValueError(f"{what}: unknown parameter type {type_!r} (one of "
                         f"{', '.join(PARAM_TYPES)}; there is no param_ops_{name})")
    return ops


def _loading_module(macro: str) -> Any:
    from ._module import _loading

    return _loading(macro)


def _ident(name: Any, what: str, role: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"{what}: the {role} is the name of a global, as a string "
                        f"(e.g. \"count\"), not {name!r}")
    return name


def _global(mod: Any, var: str, what: str) -> Any:
    if var not in mod.namespace:
        raise NameError(f"{what}: there is no global variable {var!r} in the module "
                        f"(assign it before declaring the parameter, as C needs it declared)")
    return mod.namespace[var]


def _type_error(what: str, var: str, value: Any, ops: KernelParamOps) -> TypeError:
    want = {"charp": "a str or None", "bool": "a bool", "invbool": "a bool"}.get(
        ops.name, f"an int that fits a C {ops.ctype}")
    return TypeError(f"{what}: {var} is {value!r}, not {want} (param_check_{ops.name} refuses it)")


def _add_param(mod: Any, kp: KernelParam, parmtype: str, what: str) -> None:
    if any(p.name == kp.name for p in mod.params):
        raise ValueError(f"{what}: parameter {kp.name!r} is declared twice")
    kp.mod = mod
    mod.params.append(kp)
    mod.modinfo.append(("parmtype", f"{kp.name}:{parmtype}"))


def _scalar(macro: str, what: str, name: str, var: str, type_: Any, perm: int) -> None:
    mod = _loading_module(macro)
    _ident(name, what, "parameter" if name == var else "parameter name")
    _ident(var, what, "variable")
    ops = _param_type(type_, what)
    perm = _verify_octal_permissions(perm, what)
    v = _global(mod, var, what)
    if not ops.fits(v):
        raise _type_error(what, var, v, ops)
    kp = KernelParam(name, ops, perm, arg=PyGlobal(mod.namespace, var, ops.name == "charp"))
    _add_param(mod, kp, ops.name, what)


@export("linux/moduleparam.h", kind="macro", points=False)
def module_param_named(name: str, value: str, type: Any, perm: int) -> None:
    """``module_param_named(name, value, type, perm)``: parameter *name* sets
    the module global *value* (both given as strings)."""
    _scalar("module_param_named", f"module_param_named({name!r}, {value!r})", name, value,
            type, perm)


@export("linux/moduleparam.h", kind="macro", points=False)
def module_param(name: str, type: Any, perm: int) -> None:
    """``module_param(name, type, perm)``: the module global *name* (a string)
    is a parameter of *type* (``"int"``, ``"uint"``, ``"charp"``, ``"bool"``...,
    or Python's ``int``, ``bool``, ``str``), shown in sysfs with mode *perm*."""
    _scalar("module_param", f"module_param({name!r})", name, name, type, perm)


@export("linux/moduleparam.h", kind="macro", points=False)
def module_param_array_named(name: str, array: str, type: Any, nump: str | None,
                             perm: int) -> None:
    """``module_param_array_named(name, array, type, nump, perm)``: parameter
    *name* fills the list *array* (its length is ARRAY_SIZE) and stores how
    many values were given in the global *nump* (None: nowhere)."""
    what = f"module_param_array_named({name!r}, {array!r})"
    mod = _loading_module("module_param_array_named")
    _ident(name, what, "parameter name")
    _ident(array, what, "array")
    ops = _param_type(type, what)
    perm = _verify_octal_permissions(perm, what)
    items = _global(mod, array, what)
    if not isinstance(items, list) or not items:
        raise TypeError(f"{what}: {array} must be a non-empty list (the C array), not {items!r}")
    for i, v in enumerate(items):
        if not ops.fits(v):
            raise _type_error(what, f"{array}[{i}]", v, ops)
    num = None
    if nump is not None:
        _ident(nump, what, "count")
        n = _global(mod, nump, what)
        if not param_ops_uint.fits(n):
            raise TypeError(f"{what}: {nump} is {n!r}, not an unsigned int (the count)")
        num = PyGlobal(mod.namespace, nump)
    is_text = ops.name == "charp"
    arr = KParamArray(len(items), ops, lambda i: PyItem(items, i, is_text), num)
    _add_param(mod, KernelParam(name, param_array_ops, perm, arr=arr), f"array of {ops.name}", what)


@export("linux/moduleparam.h", kind="macro", points=False)
def module_param_array(name: str, type: Any, nump: str | None, perm: int) -> None:
    """``module_param_array(name, type, nump, perm)``: the list global *name*
    takes comma-separated values; the global *nump* gets their number."""
    module_param_array_named(name, name, type, nump, perm)


@export("linux/moduleparam.h", kind="macro", points=False)
def module_param_string(name: str, string: str, len: int, perm: int) -> None:
    """``module_param_string(name, string, len, perm)``: the str global
    *string* is a buffer of *len* bytes (the terminating NUL included)."""
    what = f"module_param_string({name!r}, {string!r})"
    mod = _loading_module("module_param_string")
    _ident(name, what, "parameter name")
    _ident(string, what, "buffer")
    perm = _verify_octal_permissions(perm, what)
    if isinstance(len, bool) or not isinstance(len, int) or len < 1:
        raise TypeError(f"{what}: the length must be a positive int, not {len!r}")
    v = _global(mod, string, what)
    if not isinstance(v, str) or v.encode().__len__() >= len:
        raise TypeError(f"{what}: {string} must be a str shorter than {len} bytes, not {v!r}")
    kps = KParamString(len, PyGlobal(mod.namespace, string, True))
    _add_param(mod, KernelParam(name, param_ops_string, perm, str=kps), "string", what)


@export("linux/moduleparam.h", kind="macro", points=False)
def MODULE_PARM_DESC(_parm: str, desc: str) -> None:
    """``MODULE_PARM_DESC(name, text)``: what ``modinfo`` says of parameter *name*."""
    _ident(_parm, f"MODULE_PARM_DESC({_parm!r})", "parameter")
    _loading_module("MODULE_PARM_DESC").modinfo.append(("parm", f"{_parm}:{desc}"))


# -- permissions (include/uapi/linux/stat.h, include/linux/stat.h) -------------------

S_ISUID: Final = 0o4000
S_ISGID: Final = 0o2000
S_ISVTX: Final = 0o1000
S_IRWXU: Final = 0o700
S_IRUSR: Final = 0o400
S_IWUSR: Final = 0o200
S_IXUSR: Final = 0o100
S_IRWXG: Final = 0o070
S_IRGRP: Final = 0o040
S_IWGRP: Final = 0o020
S_IXGRP: Final = 0o010
S_IRWXO: Final = 0o007
S_IROTH: Final = 0o004
S_IWOTH: Final = 0o002
S_IXOTH: Final = 0o001
S_IRWXUGO: Final = S_IRWXU | S_IRWXG | S_IRWXO
S_IALLUGO: Final = S_ISUID | S_ISGID | S_ISVTX | S_IRWXUGO
S_IRUGO: Final = S_IRUSR | S_IRGRP | S_IROTH
S_IWUGO: Final = S_IWUSR | S_IWGRP | S_IWOTH
S_IXUGO: Final = S_IXUSR | S_IXGRP | S_IXOTH

export_values(__name__, "linux/stat.h", {
    name: value for name, value in list(globals().items()) if name.startswith("S_I")
})
export_values(__name__, "linux/moduleparam.h", {
    "KERNEL_PARAM_OPS_FL_NOARG": KERNEL_PARAM_OPS_FL_NOARG})
for _name, _ops in PARAM_OPS.items():
    export_data(__name__, "linux/moduleparam.h", _name, _ops,
                f"const struct kernel_param_ops {_name}")
del _name, _ops
