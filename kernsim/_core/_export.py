"""The one list of exported kernel symbols, like ``EXPORT_SYMBOL``.

Every kernel API name a module may use -- function, macro, type or constant --
is registered here with the header that declares it in C.  The Python facade
``kernsim.linux`` is generated from this registry (``python -m
kernsim._core._export`` rewrites it; a test checks it is current), and so will
be the C declarations, so the two front doors cannot drift apart.

Exporting a function also makes it a *scheduling point*.  On a real SMP kernel
another CPU can run between any two steps of a module; kernsim models that by
letting the scheduling policy switch tasks when a module enters or leaves a
kernel function (``Kernel.point_slow``).  :func:`export` wraps the function in
a generated wrapper with the same signature that does the cheap part of that
check inline::

    k.now += k.cost                        # the call costs CPU time
    if k.now >= k.due: k.point_slow()      # an event is due, or an eager policy wants a say
    r = impl(...)
    if k.now >= k.due: k.point_slow()      # the call's effect is visible: another CPU may act
    return r

``due`` is -1 whenever an eager policy must be asked (another task is
runnable), so one comparison serves both cases.

Core code calls the implementations (``fn.__wrapped__`` or the internal
helpers), never the wrappers, so internal calls are not extra points.

The registry also names code objects for stack traces (:data:`KSYMS`): a frame
running a registered function is printed with its kernel symbol, others in
kernsim's core are hidden, as inlined code is in a real trace.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from types import BuiltinFunctionType, CodeType
from typing import Any, Callable, Final, TypeVar

from ._current import cur

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Symbol:
    """One exported kernel API name."""

    name: str
    obj: Any
    #: ``func`` (a kernel function), ``macro`` (a C macro: hidden in stack
    #: traces, as it is inlined), ``type``, ``const``, ``var`` (a live value
    #: such as ``jiffies``, read through the facade's ``__getattr__``) or
    #: ``data`` (a kernel object C modules link against, such as
    #: ``param_ops_int``: ``c`` is its declaration, and kernsim's C runtime
    #: defines it with the object's ``c_initializer``).
    kind: str
    #: The C header that declares it, e.g. ``linux/wait.h``.
    header: str
    #: EXPORT_SYMBOL_GPL: usable only by modules with a GPL-compatible license.
    gpl: bool = False
    #: The C prototype of a function C modules call (``"long schedule_timeout(long
    #: timeout)"``): the headers declare it and the C runtime forwards calls to
    #: ``obj`` (see ``_cdecl``).  None: not callable from C as a function (a C
    #: macro or inline in the header, or Python-only).
    c: str | None = None


#: Every exported symbol, in registration order.
EXPORTS: Final[dict[str, Symbol]] = {}

#: Code objects of kernel functions -> (symbol, offset, size) for stack traces.
KSYMS: Final[dict[CodeType, tuple[str, int, int]]] = {}

#: Code objects whose frames stand for other code in stack traces -> a function
#: of the frame giving its trace lines, innermost first (the C module frames
#: around a call from C into the kernel: see ``kernsim.cmodule``).
FRAME_EXPANDERS: Final[dict[CodeType, Callable[[Any], list[str]]]] = {}

#: Code objects of the C runtime's entries into the kernel (``kernsim.cmodule``
#: registers its adapters): a kernel function whose caller runs one of them
#: was called from C, and takes and returns C values -- addresses, not
#: Python objects (the allocators of ``_slab`` serve both).
C_ENTRIES: Final[set[CodeType]] = set()

#: Sizes/offsets of well-known kernel functions as a real x86-64 6.1 kernel
#: prints them (from the oracle's hung-task traces); others get sizes derived
#: from their Python source length.
_KNOWN_OFFSETS: Final[dict[str, tuple[int, int]]] = {
    "__schedule": (0x34D, 0xA00),
    "schedule": (0x5A, 0xD0),
    "schedule_timeout": (0x11A, 0x150),
    "__wait_for_common": (0x94, 0x1E0),
    "kthread_stop": (0x66, 0x170),
    "kthread": (0xDA, 0x100),
    "msleep": (0x2D, 0x40),
    "kthreadd": (0x1C2, 0x260),
}


def _register(name: str, obj: Any, kind: str, header: str, gpl: bool, c: str | None = None) -> None:
    if name in EXPORTS:
        raise ValueError(f"kernel symbol {name!r} exported twice")
    EXPORTS[name] = Symbol(name, obj, kind, header, gpl, c)


def ksym(fn: F, name: str | None = None) -> F:
    """Name *fn*'s frames in stack traces after the kernel function it models."""
    name = name or fn.__name__
    code = fn.__code__
    off, size = _KNOWN_OFFSETS.get(name, (0, 0))
    if not size:
        lines = [ln for _, _, ln in code.co_lines() if ln is not None]
        size = 0x10 * (max(lines, default=code.co_firstlineno) - code.co_firstlineno + 2)
    KSYMS[code] = (name, off, size)
    return fn


def _make_point_wrapper(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Generate ``def name(<same params>)`` that brackets *fn* with scheduling points."""
    sig = inspect.signature(fn)
    params: list[str] = []
    args: list[str] = []
    defaults: dict[str, Any] = {}
    star_seen = False
    for p in sig.parameters.values():
        text = p.name
        if p.default is not p.empty:
            key = f"_d_{p.name}"
            defaults[key] = p.default
            text = f"{p.name}={key}"
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            args.append(f"*{p.name}")
            star_seen = True
        elif p.kind is p.VAR_KEYWORD:
            params.append(f"**{p.name}")
            args.append(f"**{p.name}")
        elif p.kind is p.KEYWORD_ONLY:
            if not star_seen:
                params.append("*")
                star_seen = True
            params.append(text)
            args.append(f"{p.name}={p.name}")
        elif p.kind is p.POSITIONAL_ONLY:
            params.append(text)
            args.append(p.name)
        else:
            params.append(text)
            args.append(p.name)
    src = (
        f"def {name}({', '.join(params)}):\n"
        f"    _k = _cur.k\n"
        f"    _k.now += _k.cost\n"
        f"    if _k.now >= _k.due:\n"
        f"        _k.point_slow()\n"
        f"    _r = _impl({', '.join(args)})\n"
        f"    if _k.now >= _k.due:\n"
        f"        _k.point_slow()\n"
        f"    return _r\n"
    )
    namespace: dict[str, Any] = {"_cur": cur, "_impl": fn, **defaults}
    exec(compile(src, f"<kernsim export {name}>", "exec"), namespace)
    wrapper = namespace[name]
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    wrapper.__module__ = fn.__module__
    wrapper.__qualname__ = name
    return wrapper


def export(header: str, *, kind: str = "func", points: bool = True, gpl: bool = False,
           name: str | None = None, c: str | None = None) -> Callable[[F], F]:
    """Export a kernel function (``EXPORT_SYMBOL``); see the module docstring.

    header: the C header declaring it.
    kind: ``func`` or ``macro`` (macros are inlined: hidden in stack traces).
    points: bracket calls with scheduling points.  False for pure functions
        (conversions, ``IS_ERR``...) where another CPU cannot make a difference.
    gpl: ``EXPORT_SYMBOL_GPL``.
    c: its C prototype, if C modules call it as a function.
    """

    def deco(fn: F) -> F:
        sym = name or fn.__name__
        if kind == "func":
            ksym(fn, sym)
        public = _make_point_wrapper(fn, sym) if points else fn
        _register(sym, public, kind, header, gpl, c)
        return public  # type: ignore[return-value]

    return deco


def accelerate(reference: F, fast: Any) -> F:
    """Export *fast* -- the C accelerator's equivalent of the exported
    *reference*: a ``_fastpath`` function of the same name and arguments, or a
    ``functools.partial`` over one (then given the reference's name, docstring
    and signature) -- in its place."""
    sym = next(s for s in EXPORTS.values() if s.obj is reference)
    fast.__module__ = reference.__module__
    if not isinstance(fast, BuiltinFunctionType):
        # A C function keeps its own name, docstring and text signature.
        for attr in ("__name__", "__qualname__", "__doc__"):
            setattr(fast, attr, getattr(reference, attr))
        fast.__wrapped__ = reference
    EXPORTS[sym.name] = replace(sym, obj=fast)
    return fast  # type: ignore[no-any-return]


def export_value(name: str, value: Any, header: str, kind: str = "const") -> Any:
    """Export a constant, a type, or (``kind='var'``) a live variable."""
    _register(name, value, kind, header, False)
    return value


# -- facade generation ---------------------------------------------------

FACADE_BANNER: Final = "# AUTOGENERATED by `python -m kernsim._core._export` -- do not edit by hand."


def render_facade() -> str:
    """The text of ``kernsim/linux.py``, generated from :data:`EXPORTS`.

    Every name is imported from the core module that defines it (so the facade
    holds the very objects the core registered); live values (``kind='var'``)
    are read through the module's ``__getattr__`` at each use.
    """
    import sys

    from . import _all  # noqa: F401  (imports every module that exports symbols)

    by_module: dict[str, list[tuple[str, str]]] = {}
    live: list[str] = []
    for sym in EXPORTS.values():
        if sym.kind == "var":
            live.append(sym.name)
            continue
        module = _defining_module(sym)
        namespace = vars(sys.modules[module])
        attr = sym.name if namespace.get(sym.name) is sym.obj else next(
            (a for a, v in namespace.items() if v is sym.obj), None)
        if attr is None:
            raise LookupError(f"exported symbol {sym.name} is not an attribute of {module}")
        by_module.setdefault(module, []).append((attr, sym.name))
    out = [
        FACADE_BANNER,
        '"""The kernel API for kernsim modules, under the kernel\'s own names.',
        "",
        "Write ``from kernsim.linux import *`` at the top of a module file.  Every",
        "name here is registered in ``kernsim._core._export.EXPORTS``, the one list",
        "from which the C headers are also derived.",
        '"""',
        "",
        "from typing import Any as _Any",
        "",
    ]
    for module in sorted(by_module):
        out.append(f"from {module} import (  # noqa: F401")
        out.extend(f"    {attr} as {name}," for attr, name in by_module[module])
        out.append(")")
    out += [
        "from kernsim._core._export import EXPORTS as _EXPORTS",
        "",
        "__all__ = [",
        *(f"    {n!r}," for n in sorted(EXPORTS)),
        "]",
        "",
        f"_LIVE = frozenset({sorted(live)!r})",
        "",
        "",
        "def __getattr__(name: str) -> _Any:",
        '    """Live values (``HZ``, ``KBUILD_MODNAME``...) are read from the running kernel."""',
        "    if name in _LIVE:",
        "        return _EXPORTS[name].obj()",
        '    raise AttributeError(f"module \'kernsim.linux\' has no attribute {name!r}")',
        "",
    ]
    return "\n".join(out)


def _defining_module(sym: Symbol) -> str:
    if sym.name in _VALUE_HOMES:
        return _VALUE_HOMES[sym.name]
    return str(getattr(sym.obj, "__module__"))


#: For constants (ints, strings) the module that registered them.
_VALUE_HOMES: Final[dict[str, str]] = {}


def export_values(module: str, header: str, values: dict[str, Any], kind: str = "const") -> None:
    """Export several constants defined in *module* at once."""
    for name, value in values.items():
        export_value(name, value, header, kind)
        _VALUE_HOMES[name] = module


# -- the API list of the README ---------------------------------------------

API_START: Final = ("<!-- api: generated from kernsim/_core/_export.py by "
                    "`python -m kernsim._core._export`; do not edit by hand -->")
API_END: Final = "<!-- /api -->"


def render_api_list() -> str:
    """The README's list of the supported API, by C header: what C modules
    include, and every name the Python facade has."""
    from . import _all  # noqa: F401

    by_header: dict[str, list[Symbol]] = {}
    for sym in EXPORTS.values():
        by_header.setdefault(sym.header, []).append(sym)
    lines = [API_START, "", "| header | functions and macros | constants and types |", "|---|---|---|"]
    for header in sorted(by_header):
        syms = sorted(by_header[header], key=lambda x: x.name.lstrip("_").lower())
        calls = [f"`{x.name}`" + (" (GPL)" if x.gpl else "") for x in syms
                 if x.kind in ("func", "macro")]
        values = [f"`{x.name}`" for x in syms if x.kind not in ("func", "macro")]
        if len(values) > 12:
            values = values[:3] + [f"… {len(values) - 6} more …"] + values[-3:]
        lines.append(f"| `<{header}>` | {', '.join(calls)} | {', '.join(values)} |")
    lines += ["", API_END]
    return "\n".join(lines)


def readme_with_api_list(readme: str) -> str:
    """*readme* with its API list block replaced by :func:`render_api_list`."""
    start = readme.index(API_START)
    end = readme.index(API_END, start) + len(API_END)
    return readme[:start] + render_api_list() + readme[end:]


def export_data(module: str, header: str, name: str, obj: Any, c: str) -> Any:
    """Export a kernel data object (``EXPORT_SYMBOL(param_ops_int)``) defined
    in *module*; *c* is its C declaration (``const struct kernel_param_ops
    param_ops_int``) and ``obj.c_initializer`` the C runtime's initializer."""
    _register(name, obj, "data", header, False, c)
    _VALUE_HOMES[name] = module
    return obj


if __name__ == "__main__":  # pragma: no cover - developer tool
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    from kernsim._core import _export as registry  # not __main__'s copy of this module

    target = root / "kernsim" / "linux.py"
    target.write_text(registry.render_facade())
    print(f"wrote {target}")
    readme = root / "README.md"
    readme.write_text(registry.readme_with_api_list(readme.read_text()))
    print(f"wrote the API list in {readme}")
