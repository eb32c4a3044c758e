"""The ``.modinfo`` of a Python module, read without running it.

kmod's modinfo never runs a module: it reads the strings of the ELF file's
``.modinfo`` section, which the compiler made from the MODULE_*() and
module_param() macros at file scope -- whose arguments C requires to be
constants.  A Python module has no such section; its declarations are calls
in its body.  Running the body to collect them (as loading does) would run
the module's code: its prints would end up in modinfo's output, its side
effects would happen, a body that loops would hang modinfo.

So this reads the file's syntax tree (:mod:`ast`) instead.  A declaration
is a call, as a statement at the module's top level, of one of the macros
below -- by its bare name or as an attribute (``linux.MODULE_LICENSE``) --
with its arguments bound as the real function binds them (keywords too).
The arguments that end up in ``.modinfo`` (texts, parameter names, types)
must be literals, ``int``/``bool``/``str`` for a parameter's type, or a
top-level name assigned a literal earlier in the file.  Others (the
permissions, a buffer's length) are not needed and not looked at.

Divergence: what loading would refuse (a parameter without its global, a
world-writable mode) is shown as declared, as modinfo shows a .ko whatever
the loader will say of it.  A declaration whose argument is not a literal
cannot be shown: :class:`PyModinfo` lists it in ``skipped`` and modinfo
warns of it.  Calls anywhere else (in a function, under an ``if``) are not
declarations, as a C macro inside a function is not.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Final

from .kbuild import VERMAGIC


class PyModinfoError(Exception):
    """The file cannot be read or parsed (modinfo: "Exec format error")."""


@dataclass(frozen=True)
class PyModinfo:
    """What a Python module file declares."""

    #: The fields as modpost would lay them out (see :func:`read_py_modinfo`).
    fields: tuple[tuple[str, str], ...]
    #: ``(line, macro, reason)`` of each declaration that could not be read.
    skipped: tuple[tuple[int, str, str], ...]


class _NotStatic(Exception):
    """An argument that is not known without running the module."""


_PY_TYPES: Final = {"int": "int", "bool": "bool", "str": "charp"}


def _macros() -> dict[str, tuple[Callable[..., Any], Callable[[Callable[[str], Any]], tuple[str, str]]]]:
    """Each declaration: the real macro (for its signature) and how its
    bound arguments (a getter by parameter name) become a (tag, value)."""
    from ._core import _module as m
    from ._core import _param as p

    def text(tag: str) -> Callable[[Callable[[str], Any]], tuple[str, str]]:
        return lambda a: (tag, str(a("value")))

    def parmtype(name: str, type_: str, fmt: str = "{}") -> Callable[[Callable[[str], Any]], tuple[str, str]]:
        return lambda a: ("parmtype", f"{_str(a(name))}:{fmt.format(_type(a(type_)))}")

    return {
        "MODULE_LICENSE": (m.MODULE_LICENSE, text("license")),
        "MODULE_AUTHOR": (m.MODULE_AUTHOR, text("author")),
        "MODULE_DESCRIPTION": (m.MODULE_DESCRIPTION, text("description")),
        "MODULE_VERSION": (m.MODULE_VERSION, text("version")),
        "MODULE_ALIAS": (m.MODULE_ALIAS, text("alias")),
        "MODULE_INFO": (m.MODULE_INFO, lambda a: (str(a("tag")), str(a("info")))),
        "module_param": (p.module_param, parmtype("name", "type")),
        "module_param_named": (p.module_param_named, parmtype("name", "type")),
        "module_param_array": (p.module_param_array, parmtype("name", "type", "array of {}")),
        "module_param_array_named": (p.module_param_array_named,
                                     parmtype("name", "type", "array of {}")),
        "module_param_string": (p.module_param_string,
                                lambda a: ("parmtype", f"{_str(a('name'))}:string")),
        "MODULE_PARM_DESC": (p.MODULE_PARM_DESC,
                             lambda a: ("parm", f"{_str(a('_parm'))}:{a('desc')}")),
    }


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _NotStatic(f"{v!r} is not a name given as a string")
    return v


def _type(v: Any) -> str:
    from ._core._param import PARAM_TYPES

    if isinstance(v, _Builtin):
        v = _PY_TYPES.get(v.name, v.name)
    if not isinstance(v, str) or v not in PARAM_TYPES:
        raise _NotStatic(f"unknown parameter type {v!r}")
    return v


@dataclass(frozen=True)
class _Builtin:
    """``int``, ``bool`` or ``str`` named as a parameter's type."""

    name: str


def read_py_modinfo(path: str, name: str) -> PyModinfo:
    """The ``.modinfo`` fields of the Python module file *path* (module
    *name*), as modpost lays out a C module's: the module's own in reverse
    declaration order (GCC emits them last to first), then ``depends``,
    ``retpoline``, ``name`` and ``vermagic`` (no ``srcversion``: there is no
    modpost checksum).  Raises :class:`PyModinfoError` if it cannot be read
    or parsed."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError) as exc:  # ValueError: NUL bytes, bad encoding
        raise PyModinfoError(str(exc)) from None
    macros = _macros()
    constants: dict[str, Any] = {}
    tags: list[tuple[str, str]] = []
    skipped: list[tuple[int, str, str]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            _note_constants(stmt, constants)
            continue
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            continue
        call = stmt.value
        macro = call.func.id if isinstance(call.func, ast.Name) else \
            call.func.attr if isinstance(call.func, ast.Attribute) else None
        if macro not in macros:
            continue
        fn, field = macros[macro]
        try:
            tags.append(field(_binder(fn, call, constants)))
        except _NotStatic as exc:
            skipped.append((stmt.lineno, macro, str(exc)))
    tags.reverse()
    fields = (*tags, ("depends", ""), ("retpoline", "Y"), ("name", name), ("vermagic", VERMAGIC))
    return PyModinfo(tuple(fields), tuple(skipped))


def _note_constants(stmt: ast.Assign, constants: dict[str, Any]) -> None:
    """``NAME = literal`` at the top level: NAME's value from here on (any
    other assignment makes it unknown)."""
    for target in stmt.targets:
        if isinstance(target, ast.Name):
            try:
                constants[target.id] = ast.literal_eval(stmt.value)
            except ValueError:
                constants.pop(target.id, None)


def _binder(fn: Callable[..., Any], call: ast.Call, constants: dict[str, Any]) -> Callable[[str], Any]:
    """Bind the call's argument nodes as *fn* binds its arguments; the getter
    evaluates one argument, by parameter name, only when it is asked for."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise _NotStatic("not a literal argument")
    try:
        bound = inspect.signature(fn).bind(*call.args, **{k.arg: k.value for k in call.keywords
                                                           if k.arg is not None})
    except TypeError as exc:
        raise _NotStatic(str(exc)) from None

    def arg(name: str) -> Any:
        node = bound.arguments.get(name)
        if node is None:
            raise _NotStatic(f"no {name} given")
        return _value(node, constants)

    return arg


def _value(node: ast.expr, constants: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        if node.id in constants:
            return constants[node.id]
        if node.id in _PY_TYPES:
            return _Builtin(node.id)
        raise _NotStatic("not a literal argument")
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise _NotStatic("not a literal argument") from None
