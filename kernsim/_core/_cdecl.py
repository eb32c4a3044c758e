"""C declarations derived from the one list of exported symbols.

Every exported function that C modules call carries its C prototype
(``export(..., c="long schedule_timeout(long timeout)")``).  From those and
from the integer constants of the registry come:

* the block between ``/* <kernsim-exports> */`` and ``/* </kernsim-exports> */``
  in each header under ``kernsim/include`` (``#define``s and prototypes);
  the rest of a header -- structures, macros, inline functions -- is written
  by hand, as the kernel's is;
* the C runtime's forwarders, one per function: ``long schedule_timeout(long
  timeout)`` calls the Python implementation through a table of function
  pointers that the loader fills (``kernsim.cmodule``).

So the C and Python front doors cannot drift: ``python -m kernsim._core._cdecl``
rewrites the header blocks, and a test checks they are current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._export import EXPORTS, Symbol

INCLUDE_DIR: Final = Path(__file__).resolve().parents[1] / "include"
BLOCK_START: Final = "/* <kernsim-exports> */"
BLOCK_END: Final = "/* </kernsim-exports> */"
_GENERATED_NOTE: Final = "/* Generated from kernsim/_core/_export.py (python -m kernsim._core._cdecl): do not edit. */"


@dataclass(frozen=True)
class Param:
    ctype: str
    name: str
    #: The declaration as written (``int (*threadfn)(void *data)``).
    decl: str


@dataclass(frozen=True)
class Prototype:
    """A parsed C prototype."""

    ret: str
    name: str
    params: tuple[Param, ...]

    def declaration(self) -> str:
        args = ", ".join(p.decl for p in self.params) or "void"
        return f"{self.ret} {self.name}({args})"

    def pointer_type(self) -> str:
        """The type of a pointer to this function, for cffi and the ops table."""
        args = ", ".join(p.ctype for p in self.params) or "void"
        return f"{self.ret} (*)({args})"

    def field(self) -> str:
        """A member of the ops table: ``long (*schedule_timeout)(long)``."""
        args = ", ".join(p.ctype for p in self.params) or "void"
        return f"{self.ret} (*{self.name})({args})"


_PROTO = re.compile(r"^\s*(?P<ret>.*?)\b(?P<name>\w+)\s*\((?P<params>.*)\)\s*$", re.S)
_FNPTR = re.compile(r"\(\s*\*\s*(\w+)\s*\)")


def _split_params(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_prototype(text: str) -> Prototype:
    """Parse ``RET NAME(TYPE NAME, ...)`` (function-pointer parameters too)."""
    m = _PROTO.match(text)
    if m is None:
        raise ValueError(f"not a C prototype: {text!r}")
    ret = m.group("ret").strip()
    params: list[Param] = []
    for decl in _split_params(m.group("params")):
        if decl == "void":
            continue
        fp = _FNPTR.search(decl)
        if fp is not None:
            name = fp.group(1)
            ctype = decl[: fp.start(1)] + decl[fp.end(1):]
        else:
            pm = re.match(r"^(.*?)(\w+)(\s*\[\s*\])?$", decl)
            if pm is None:
                raise ValueError(f"cannot parse parameter {decl!r} of {text!r}")
            name = pm.group(2)
            ctype = pm.group(1).strip() + (" *" if pm.group(3) else "")
        params.append(Param(" ".join(ctype.split()), name, decl))
    return Prototype(" ".join(ret.split()), m.group("name"), tuple(params))


def c_functions() -> list[tuple[Symbol, Prototype]]:
    """Every exported function with a C prototype, in registration order."""
    from . import _all  # noqa: F401  (every module that exports symbols)

    return [(s, parse_prototype(s.c)) for s in EXPORTS.values() if s.c and s.kind != "data"]


def c_data() -> list[Symbol]:
    """Every exported data object (``kind='data'``), in registration order."""
    from . import _all  # noqa: F401

    return [s for s in EXPORTS.values() if s.kind == "data" and s.c]


def _c_int(value: int) -> str:
    if -(1 << 31) <= value < (1 << 31):
        return f"0x{value:08x}" if value >= 0x100 else str(value)
    return f"{value}L"


def render_block(header: str) -> str:
    """The generated declarations of *header* (``linux/sched.h``)."""
    from . import _all  # noqa: F401

    lines = [BLOCK_START, _GENERATED_NOTE]
    for sym in EXPORTS.values():
        if sym.header != header:
            continue
        if sym.kind == "const" and type(sym.obj) is int:
            lines.append(f"#define {sym.name} {_c_int(sym.obj)}")
    for sym, proto in c_functions():
        if sym.header == header:
            lines.append(f"extern {proto.declaration()};")
    for sym in c_data():
        if sym.header == header:
            lines.append(f"extern {sym.c};")
    lines.append(BLOCK_END)
    return "\n".join(lines)


def headers_with_blocks(include_dir: Path = INCLUDE_DIR) -> dict[str, Path]:
    """``linux/sched.h`` -> its file, for every header that has a block."""
    out = {}
    for path in sorted(include_dir.rglob("*.h")):
        if BLOCK_START in path.read_text():
            out[path.relative_to(include_dir).as_posix()] = path
    return out


def rendered_header(path: Path, header: str) -> str:
    """*path*'s text with its block regenerated."""
    text = path.read_text()
    start = text.index(BLOCK_START)
    end = text.index(BLOCK_END) + len(BLOCK_END)
    return text[:start] + render_block(header) + text[end:]


def update_headers(include_dir: Path = INCLUDE_DIR) -> list[Path]:
    """Rewrite every header's block; return the files that changed."""
    changed = []
    for header, path in headers_with_blocks(include_dir).items():
        new = rendered_header(path, header)
        if new != path.read_text():
            path.write_text(new)
            changed.append(path)
    return changed


def missing_headers() -> set[str]:
    """Headers that exported C functions or int constants name but that have no block."""
    from . import _all  # noqa: F401

    have = set(headers_with_blocks())
    need = {s.header for s, _ in c_functions()} | {s.header for s in c_data()}
    need |= {s.header for s in EXPORTS.values() if s.kind == "const" and type(s.obj) is int}
    return need - have


if __name__ == "__main__":  # pragma: no cover - developer tool
    for changed_path in update_headers():
        print(f"wrote {changed_path}")
    missing = missing_headers()
    if missing:
        print("headers without a <kernsim-exports> block:", ", ".join(sorted(missing)))
