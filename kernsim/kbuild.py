"""kbuild for out-of-tree modules: ``make -C /lib/modules/$(uname -r)/build M=$PWD modules``.

What the kernel does
--------------------
An external module's directory holds a Kbuild file (or a Makefile) with lines
such as ``obj-m += kthread.o``.  ``make modules`` then runs, for every module
(``scripts/Makefile.build``, ``Makefile.modpost``, ``Makefile.modfinal``):

1. ``CC [M]  dir/x.o`` -- gcc with the kernel's flags and ``-Wp,-MMD``; fixdep
   turns the depfile into ``dir/.x.o.cmd`` (``savedcmd_``, ``source_``,
   ``deps_``), which is how kbuild knows to rebuild when a header or the
   command line changed, and how modpost finds the sources to checksum.
   A module of several objects (``foo-y := a.o b.o``) is first linked into
   ``foo.o`` (``LD [M]  dir/foo.o``).
2. ``NAME.mod`` lists the module's objects; ``modules.order`` the modules.
3. ``MODPOST dir/Module.symvers`` -- modpost reads each module's ``.o``,
   checks it (a missing ``MODULE_LICENSE`` is an error), computes the
   ``srcversion`` checksum (``scripts/mod/sumversion.c``) and writes
   ``NAME.mod.c``: vermagic, name, ``struct module __this_module``, retpoline,
   depends, srcversion.
4. ``CC [M]  dir/NAME.mod.o`` and ``LD [M]  dir/NAME.ko`` (``ld -r``: a .ko is
   an ELF relocatable).

An up-to-date module prints nothing.  A failed step prints make's
``make[2]: *** [...] Error 1`` line and make exits with status 2.

What kernsim does
-----------------
The same steps, the same files and the same output lines, with gcc and ld
from the host and the kernel headers from ``kernsim/include``.  The flags are
those of a 6.7 x86_64 build (see :data:`KBUILD_CFLAGS`), so code that a real
kernel build rejects (``<stdio.h>``, an undeclared function, floating point)
is rejected here with gcc's own diagnostics.

Divergence: objects are ``-fPIC`` instead of ``-mcmodel=kernel -fno-PIE``
(kernsim's loader links a .ko into a shared object), and the flags that
would make a module call into code no user-space loader provides (ftrace's
``-mfentry``/``-pg``, retpoline thunks, the per-CPU stack protector, the
8-byte stack alignment) are left out.  modpost does not check undefined
symbols against vmlinux (there is no vmlinux; the loader resolves them) and
writes no ``__versions`` CRC table.  No BTF step (the real one is skipped too
without a vmlinux).  ``srcversion`` is always computed, as with
CONFIG_MODULE_SRCVERSION_ALL=y (the tutorial's kernel has it).
"""

from __future__ import annotations

import os
import re
import shlex
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Final, Iterable, Sequence, TextIO

from ._core._kernel import KernelConfig

#: The headers modules compile against (linux/module.h, ...).
INCLUDE_DIR: Final = Path(__file__).resolve().parent / "include"

#: ``uname -r`` of the simulated kernel: the one place it is defined.
RELEASE: Final[str] = KernelConfig.release
#: VERMAGIC_STRING (include/linux/vermagic.h) of an SMP, preemptible,
#: unloadable, modversioned x86_64 kernel: note the trailing space.
VERMAGIC: Final = f"{RELEASE} SMP preempt mod_unload modversions "

# --------------------------------------------------------------------------
# The compiler's command line: the one place the flags are listed.
# --------------------------------------------------------------------------

#: KBUILD_CPPFLAGS / NOSTDINC_FLAGS / LINUXINCLUDE: no libc headers at all
#: (``#include <stdio.h>`` fails as in the kernel), gcc's own freestanding
#: headers (stdarg.h, stddef.h) still found, then kernsim's kernel headers.
def _cppflags() -> list[str]:
    return ["-nostdinc", "-isystem", _gcc_include_dir(), f"-I{INCLUDE_DIR}", *KCONFIG_DEFINES,
            "-D__KERNEL__"]


#: KBUILD_CFLAGS of a 6.7 x86_64 build (top-level Makefile, arch/x86/Makefile,
#: scripts/Makefile.extrawarn at W= unset), in the order kbuild passes them.
KBUILD_CFLAGS: Final[tuple[str, ...]] = (
    # Top-level Makefile.
    "-fno-strict-aliasing", "-fno-common", "-fshort-wchar",
    "-funsigned-char",                # 6.2+: char is unsigned on every arch
    "-std=gnu11",
    # arch/x86/Makefile: no FPU/SIMD in the kernel (a float is an error),
    # no red zone (interrupts share the stack).
    "-mno-sse", "-mno-mmx", "-mno-sse2", "-mno-3dnow", "-mno-avx",
    "-m64", "-falign-jumps=1", "-falign-loops=1", "-mno-80387", "-mno-fp-ret-in-387",
    "-mskip-rax-setup", "-mtune=generic", "-mno-red-zone",
    "-fno-asynchronous-unwind-tables", "-fno-jump-tables",
    # Divergence: -fPIC instead of -mcmodel=kernel -fno-PIE (see the module
    # docstring); -fno-stack-protector instead of -fstack-protector-strong
    # with the %gs canary; no -mpreferred-stack-boundary=3, no retpoline
    # thunks, no -mfentry.
    "-fPIC", "-fno-stack-protector",
    # Divergence: frame pointers (a defconfig kernel unwinds with ORC tables
    # instead): kernsim walks the module's frames through them for stack
    # traces.  Sibling calls stay optimised, as in an ORC kernel.
    "-fno-omit-frame-pointer",
    # Top-level Makefile again.
    "-fno-delete-null-pointer-checks", "-O2", "-fno-allow-store-data-races",
    "-g", "-fno-strict-overflow", "-fno-stack-check", "-fconserve-stack",
    # scripts/Makefile.extrawarn, default set (6.7: -Wmissing-prototypes
    # only arrives by default in 6.8).
    "-Wall", "-Wundef", "-Werror=implicit-function-declaration", "-Werror=implicit-int",
    "-Werror=return-type", "-Werror=strict-prototypes", "-Wno-format-security",
    "-Wno-trigraphs", "-Wno-frame-address", "-Wno-address-of-packed-member",
    "-Wframe-larger-than=2048", "-Wno-unused-but-set-variable", "-Wno-unused-const-variable",
    "-Wno-dangling-pointer", "-Wvla", "-Wno-pointer-sign", "-Wcast-function-type",
    "-Wno-array-bounds", "-Wno-alloc-size-larger-than", "-Wimplicit-fallthrough=5",
    "-Werror=date-time", "-Werror=incompatible-pointer-types", "-Werror=designated-init",
    "-Wenum-conversion", "-Wno-restrict", "-Wno-packed-not-aligned", "-Wno-format-overflow",
    "-Wno-format-truncation", "-Wno-stringop-overflow", "-Wno-stringop-truncation",
    "-Wno-missing-field-initializers", "-Wno-type-limits", "-Wno-shift-negative-value",
    "-Wno-maybe-uninitialized", "-Wno-sign-compare",
    "-Wdeclaration-after-statement",
)

#: The kernel -includes include/linux/kconfig.h, which brings in the
#: generated autoconf.h.  kernsim has no .config: these are the options the
#: vermagic string claims (SMP, PREEMPT, MODULE_UNLOAD, MODVERSIONS) and the
#: ones modpost's .mod.c tests (RETPOLINE, MODULE_UNLOAD), as autoconf.h
#: defines them.
KCONFIG_DEFINES: Final[tuple[str, ...]] = (
    "-DCONFIG_X86_64=1", "-DCONFIG_64BIT=1", "-DCONFIG_SMP=1", "-DCONFIG_PREEMPT=1",
    "-DCONFIG_PREEMPT_BUILD=1", "-DCONFIG_MODULES=1", "-DCONFIG_MODULE_UNLOAD=1",
    "-DCONFIG_MODVERSIONS=1", "-DCONFIG_RETPOLINE=1", "-DCONFIG_MODULE_SRCVERSION_ALL=1",
)

#: KBUILD_CFLAGS_MODULE: what makes an object part of a loadable module.
KBUILD_CFLAGS_MODULE: Final[tuple[str, ...]] = ("-DMODULE",)

#: KBUILD_LDFLAGS_MODULE (``ld -r``: the .ko stays ET_REL, like a real one).
LDFLAGS_MODULE: Final[tuple[str, ...]] = ("-r", "-m", "elf_x86_64", "-z", "noexecstack",
                                          "--build-id=sha1")

#: modpost's command, recorded in .Module.symvers.cmd like kbuild does
#: (-e external module, -a all srcversions, -m modversions).
MODPOST_CMD: Final = "modpost -e -a -m -o Module.symvers -T modules.order"

#: make's exit status for a failed build.
MAKE_FAILED: Final = 2


@lru_cache(maxsize=None)
def _gcc_include_dir() -> str:
    """``$(shell $(CC) -print-file-name=include)``: gcc's freestanding headers."""
    return subprocess.run(["gcc", "-print-file-name=include"], capture_output=True, text=True,
                          check=True).stdout.strip()


@lru_cache(maxsize=None)
def _ld() -> str:
    """The linker gcc itself uses (``gcc -print-prog-name=ld``)."""
    return subprocess.run(["gcc", "-print-prog-name=ld"], capture_output=True, text=True,
                          check=True).stdout.strip() or "ld"


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class KbuildError(Exception):
    """Nothing can be built from what was given (no directory, no Makefile,
    no ``obj-m``, an unknown target): a usage error, one line."""


class BuildError(Exception):
    """The build ran and failed (compiler, modpost, linker).  The tool's own
    diagnostics have already gone to stderr; ``str()`` is make's line
    (``make[2]: *** [...] Error 1``) and :attr:`status` make's exit status."""

    status = MAKE_FAILED


# --------------------------------------------------------------------------
# The Kbuild file
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class ModuleSpec:
    """One ``obj-m`` entry: the module ``name`` (file stem of the .ko) and its
    objects, relative to the directory.  A single-source module's only object
    is ``name.o`` itself; a composite one (``name-y``/``name-objs``) lists
    its parts and ``name.o`` is linked from them."""

    name: str
    objects: tuple[str, ...]

    @property
    def composite(self) -> bool:
        return self.objects != (f"{self.name}.o",)

    @property
    def modname(self) -> str:
        """KBUILD_MODNAME: ``-`` and ``,`` become ``_`` (Makefile.lib name-fix)."""
        return self.name.replace("-", "_").replace(",", "_")


@dataclass
class KbuildFile:
    """What kbuild takes from a Kbuild/Makefile: the modules, ``ccflags-y``
    (and ``ccflags-remove-y``), and per-object ``CFLAGS_x.o`` /
    ``CFLAGS_REMOVE_x.o``."""

    path: Path
    modules: list[ModuleSpec]
    ccflags: list[str] = field(default_factory=list)
    ccflags_remove: list[str] = field(default_factory=list)
    cflags: dict[str, list[str]] = field(default_factory=dict)
    cflags_remove: dict[str, list[str]] = field(default_factory=dict)


_ASSIGN = re.compile(r"^(?:(?:override|export)\s+)?([^\s:#=]+?)\s*(\+=|::=|:=|\?=|!=|=)\s*(.*)$")
_FUNCS: Final = ("addprefix", "addsuffix", "patsubst", "subst", "strip", "notdir",
                 "basename", "filter-out", "filter", "shell", "wildcard", "if", "call", "foreach")


class _Make:
    """Just enough of GNU make's reading of a makefile for Kbuild files:
    variables (recursive ``=``, simple ``:=``, ``+=``, ``?=``), ``$(VAR)``
    references and a few text functions, ``ifeq``/``ifneq``/``ifdef``/
    ``ifndef``/``else``/``endif``, comments and line continuations.  Rules
    and their recipes are skipped; ``$(shell ...)`` is never run."""

    def __init__(self, directory: Path) -> None:
        d = str(directory)
        self.vars: dict[str, tuple[str, bool]] = {}   # name -> (value, recursive)
        for k, v in os.environ.items():
            self.vars[k] = (v, False)
        # As kbuild sees it: KERNELRELEASE set (so the ifneq ($(KERNELRELEASE),)
        # branch of a two-part Makefile is taken), src/obj/M the module's directory.
        for k, v in {"KERNELRELEASE": RELEASE, "src": d, "obj": d, "M": d,
                     "KBUILD_EXTMOD": d, "MAKE": "make"}.items():
            self.vars[k] = (v, False)
        self.vars.setdefault("PWD", (os.getcwd(), False))

    def value(self, name: str, depth: int = 0) -> str:
        raw, recursive = self.vars.get(name, ("", False))
        return self.expand(raw, depth + 1) if recursive else raw

    def expand(self, text: str, depth: int = 0) -> str:
        if depth > 50 or "$" not in text:
            return text
        out: list[str] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c != "$" or i + 1 == len(text):
                out.append(c)
                i += 1
                continue
            n = text[i + 1]
            if n == "$":
                out.append("$")
                i += 2
            elif n in "({":
                close = ")" if n == "(" else "}"
                j, level = i + 2, 1
                while j < len(text) and level:
                    if text[j] == n:
                        level += 1
                    elif text[j] == close:
                        level -= 1
                    j += 1
                out.append(self._reference(text[i + 2:j - 1], depth))
                i = j
            else:
                out.append(self.value(n, depth))
                i += 2
        return "".join(out)

    def _reference(self, inner: str, depth: int) -> str:
        word, _, rest = inner.partition(" ")
        if word not in _FUNCS or not rest:
            return self.value(self.expand(inner, depth), depth)
        args = [a.strip() for a in _split_args(rest)]
        ex = [self.expand(a, depth) for a in args]
        words = lambda s: s.split()  # noqa: E731
        if word == "addprefix" and len(ex) == 2:
            return " ".join(ex[0] + w for w in words(ex[1]))
        if word == "addsuffix" and len(ex) == 2:
            return " ".join(w + ex[0] for w in words(ex[1]))
        if word == "subst" and len(ex) == 3:
            return ex[2].replace(ex[0], ex[1])
        if word == "patsubst" and len(ex) == 3:
            return " ".join(_patsubst(ex[0], ex[1], w) for w in words(ex[2]))
        if word == "strip":
            return " ".join(words(",".join(ex)))
        if word == "notdir":
            return " ".join(w.rsplit("/", 1)[-1] for w in words(ex[0]))
        if word == "basename":
            return " ".join(re.sub(r"\.[^./]*$", "", w) for w in words(ex[0]))
        if word in ("filter", "filter-out") and len(ex) == 2:
            pats = words(ex[0])
            keep = word == "filter"
            return " ".join(w for w in words(ex[1])
                            if any(_patmatch(p, w) for p in pats) == keep)
        if word == "if" and len(ex) >= 2:
            return ex[1] if ex[0].strip() else (ex[2] if len(ex) > 2 else "")
        return ""   # $(shell ...), $(wildcard ...), ...: not evaluated

    def assign(self, name: str, op: str, value: str) -> None:
        name = self.expand(name).strip()
        if not name:
            return
        if op in (":=", "::="):
            self.vars[name] = (self.expand(value), False)
        elif op == "=":
            self.vars[name] = (value, True)
        elif op == "?=":
            if name not in self.vars:
                self.vars[name] = (value, True)
        elif op == "+=":
            old, recursive = self.vars.get(name, ("", True))
            new = value if recursive else self.expand(value)
            self.vars[name] = ((old + " " + new).strip(), recursive)
        # "!=" runs a shell command: never done here.

    def condition(self, keyword: str, arg: str) -> bool:
        if keyword in ("ifdef", "ifndef"):
            defined = bool(self.value(self.expand(arg).strip()))
            return defined if keyword == "ifdef" else not defined
        arg = arg.strip()
        if arg.startswith("(") and arg.endswith(")"):
            parts = _split_args(arg[1:-1])
            if len(parts) != 2:
                return False
            a, b = parts
        else:
            m = re.match(r"""^(["'])(.*?)\1\s+(["'])(.*?)\3$""", arg)
            if not m:
                return False
            a, b = m.group(2), m.group(4)
        equal = self.expand(a).strip() == self.expand(b).strip()
        return equal if keyword == "ifeq" else not equal


def _split_args(text: str) -> list[str]:
    """Split a function's arguments at top-level commas."""
    out, level, cur = [], 0, []
    for c in text:
        if c in "({":
            level += 1
        elif c in ")}":
            level -= 1
        if c == "," and level == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


def _patmatch(pattern: str, word: str) -> bool:
    if "%" not in pattern:
        return pattern == word
    pre, _, post = pattern.partition("%")
    return word.startswith(pre) and word.endswith(post) and len(word) >= len(pre) + len(post)


def _patsubst(pattern: str, replacement: str, word: str) -> str:
    if not _patmatch(pattern, word):
        return word
    if "%" not in pattern:
        return replacement
    pre, _, post = pattern.partition("%")
    stem = word[len(pre):len(word) - len(post) if post else None]
    return replacement.replace("%", stem, 1)


def _logical_lines(text: str) -> Iterable[str]:
    """Physical lines joined at backslash-newline: the backslash, the newline
    and the next line's leading blanks become one space, as make does.  A
    logical line keeps its first line's leading tab (a recipe line)."""
    pending: str | None = None
    for line in text.splitlines():
        line = line.rstrip("\r")
        cont = (len(line) - len(line.rstrip("\\"))) % 2 == 1
        if cont:
            line = line[:-1].rstrip()
        pending = line if pending is None else f"{pending} {line.strip()}".rstrip()
        if not cont:
            yield pending
            pending = None
    if pending is not None:
        yield pending


def _strip_comment(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == "#":
            out.append("#")
            i += 2
            continue
        if c == "#":
            break
        out.append(c)
        i += 1
    return "".join(out)


def find_kbuild_file(directory: Path) -> Path:
    """The file kbuild reads in a module directory: ``Kbuild`` if there is
    one, else ``Makefile`` (scripts/Makefile.build's kbuild-file)."""
    for name in ("Kbuild", "Makefile", "makefile"):
        p = directory / name
        if p.is_file():
            return p
    raise KbuildError(f"{directory}: no Kbuild or Makefile here (write one with 'obj-m += NAME.o', "
                      f"or give the module's FILE.c)")


def parse_kbuild(path: str | os.PathLike[str]) -> KbuildFile:
    """Read a Kbuild-style makefile: ``obj-m``, ``NAME-y``/``NAME-objs``,
    ``ccflags-y``, ``CFLAGS_x.o``.  Everything else (rules such as ``all:``
    that call ``make -C /lib/modules/...``) is ignored.

    Raises :class:`KbuildError` if it names no module or cannot be read.
    """
    path = Path(path).resolve()
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise KbuildError(f"{path}: {exc.strerror}") from None
    mk = _Make(path.parent)
    # (taking lines, a branch already taken) for each open conditional.
    stack: list[tuple[bool, bool]] = []
    active = True
    in_recipe = False
    for raw in _logical_lines(text):
        if raw.startswith("\t") and in_recipe:
            continue
        line = _strip_comment(raw).strip()
        if not line:
            continue
        keyword, _, arg = line.partition(" ")
        if keyword in ("ifeq", "ifneq", "ifdef", "ifndef"):
            cond = active and mk.condition(keyword, arg)
            stack.append((active, cond))
            active = cond
            continue
        if keyword == "else":
            if not stack:
                continue
            outer, taken = stack[-1]
            rest = arg.strip()
            k2, _, a2 = rest.partition(" ")
            if k2 in ("ifeq", "ifneq", "ifdef", "ifndef"):
                cond = outer and not taken and mk.condition(k2, a2)
                stack[-1] = (outer, taken or cond)
                active = cond
            else:
                active = outer and not taken
                stack[-1] = (outer, True)
            continue
        if keyword == "endif":
            if stack:
                active = stack.pop()[0]
            continue
        if not active:
            continue
        m = _ASSIGN.match(line)
        if m:
            in_recipe = False
            mk.assign(m.group(1), m.group(2), m.group(3))
            continue
        if keyword in ("include", "-include", "sinclude", "export", "unexport", "define", "endef",
                       "vpath", "override"):
            continue
        if ":" in line:
            in_recipe = True   # a rule: its tab-indented recipe lines follow
    return _kbuild_from_vars(path, mk)


def _kbuild_from_vars(path: Path, mk: _Make) -> KbuildFile:
    modules: list[ModuleSpec] = []
    seen: set[str] = set()
    for entry in mk.expand(mk.value("obj-m")).split():
        if entry.endswith("/"):
            raise KbuildError(f"{path}: 'obj-m += {entry}': descending into subdirectories is not "
                              "supported by kernsim make")
        if not entry.endswith(".o"):
            raise KbuildError(f"{path}: 'obj-m += {entry}': a module is named NAME.o")
        name = entry[:-2]
        if name in seen:
            continue
        seen.add(name)
        parts: list[str] = []
        for suffix in ("-objs", "-y", "-m"):
            for obj in mk.value(f"{name}{suffix}").split():
                if obj not in parts:
                    parts.append(obj)
        if not parts:
            parts = [entry]
        elif entry in parts:
            raise KbuildError(f"{path}: '{name}-y' lists {entry} itself: the module's parts must "
                              "have other names")
        for obj in parts:
            if not obj.endswith(".o"):
                raise KbuildError(f"{path}: '{name}-y += {obj}': an object is named NAME.o")
        modules.append(ModuleSpec(name, tuple(parts)))
    if not modules:
        raise KbuildError(f"{path}: no modules to build (no 'obj-m += NAME.o' line)")
    kb = KbuildFile(path, modules,
                    ccflags=shlex.split(mk.value("ccflags-y") + " " + mk.value("subdir-ccflags-y")),
                    ccflags_remove=shlex.split(mk.value("ccflags-remove-y")))
    for m in modules:
        for obj in m.objects:
            if mk.value(f"CFLAGS_{obj}"):
                kb.cflags[obj] = shlex.split(mk.value(f"CFLAGS_{obj}"))
            if mk.value(f"CFLAGS_REMOVE_{obj}"):
                kb.cflags_remove[obj] = shlex.split(mk.value(f"CFLAGS_REMOVE_{obj}"))
    return kb


# --------------------------------------------------------------------------
# srcversion: scripts/mod/sumversion.c
# --------------------------------------------------------------------------

def _md4_compress(h: list[int], w: Sequence[int]) -> None:
    """One MD4 block (RFC 1320) on 16 32-bit words, in place on ``h``."""
    M = 0xFFFFFFFF

    def rol(x: int, s: int) -> int:
        x &= M
        return ((x << s) | (x >> (32 - s))) & M

    a, b, c, d = h
    for i in range(16):          # round 1: F, order 0..15, shifts 3 7 11 19
        f = (b & c) | (~b & d)
        a, b, c, d = d, rol(a + f + w[i], (3, 7, 11, 19)[i % 4]), b, c
    for i in range(16):          # round 2: G, columns, shifts 3 5 9 13
        k = (i % 4) * 4 + i // 4
        g = (b & c) | (b & d) | (c & d)
        a, b, c, d = d, rol(a + g + w[k] + 0x5A827999, (3, 5, 9, 13)[i % 4]), b, c
    for i, k in enumerate((0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)):
        e = b ^ c ^ d            # round 3: H, shifts 3 9 11 15
        a, b, c, d = d, rol(a + e + w[k] + 0x6ED9EBA1, (3, 9, 11, 15)[i % 4]), b, c
    h[0] = (h[0] + a) & M
    h[1] = (h[1] + b) & M
    h[2] = (h[2] + c) & M
    h[3] = (h[3] + d) & M


def md4_kernel(data: bytes, *, word_order: str = "big") -> list[int]:
    """MD4 as sumversion.c computes it on x86: its ``le32_to_cpu_array`` is
    ``ntohl``, so each message word is read *big-endian*, while the bit
    length goes into words 14/15 unswapped.  With ``word_order="little"``
    this is the standard MD4 (RFC 1320), which the tests check.  Returns the
    four state words."""
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    n = len(data)
    full = n - n % 64
    for off in range(0, full, 64):
        _md4_compress(h, struct.unpack(">16I" if word_order == "big" else "<16I", data[off:off + 64]))
    tail = data[full:] + b"\x80"
    if len(tail) > 56:
        tail += b"\0" * (64 - len(tail))
        _md4_compress(h, struct.unpack(">16I" if word_order == "big" else "<16I", tail))
        tail = b""
    tail += b"\0" * (56 - len(tail))
    words = list(struct.unpack(">14I" if word_order == "big" else "<14I", tail))
    words += [(n << 3) & 0xFFFFFFFF, (n >> 29) & 0xFFFFFFFF]
    _md4_compress(h, words)
    return h


def _sum_text(data: bytes, out: bytearray) -> None:
    """parse_file(): the bytes sumversion feeds to MD4 -- whitespace,
    backslash-newlines and ``/* */`` comments dropped, string literals kept
    whole (``//`` comments are *not* dropped: sumversion does not know them)."""
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c == 0x5C and i + 1 < n and data[i + 1] == 0x0A:     # backslash-newline
            i += 2
            continue
        if c in b" \t\n\v\f\r":
            i += 1
            continue
        if c == 0x22:                                            # "string"
            out.append(c)
            j = i + 1
            while j < n:
                out.append(data[j])
                if data[j] == 0x22 and data[j - 1] != 0x5C:
                    break
                j += 1
            i = j + 1
            continue
        if c == 0x2F and i + 1 < n and data[i + 1] == 0x2A:      # /* comment */
            j = i + 2
            while j < n and not (data[j - 1] == 0x2A and data[j] == 0x2F):
                j += 1
            i = j + 1
            continue
        out.append(c)
        i += 1


def _sum_object(objfile: str, out: bytearray) -> None:
    """parse_source_files(): the source named by ``source_`` in the object's
    ``.x.o.cmd``, and each ``deps_`` entry in the object's own directory."""
    base = objfile.rsplit("/", 1)
    directory = base[0] + "/" if len(base) == 2 else ""
    cmd = f"{directory}.{base[-1]}.cmd"
    try:
        lines = Path(cmd).read_text(errors="surrogateescape").split("\n")
    except OSError:
        raise BuildError(f"modpost: could not open {cmd}") from None
    check_files = False
    for line in lines:
        line = line.lstrip()
        if line.startswith("source_"):
            _sum_file(line[line.rfind(" ") + 1:], out)
            continue
        if line.startswith("deps_"):
            check_files = True
            continue
        if not check_files:
            continue
        if not line.endswith("\\"):
            break
        name = re.split(r"\s", line, maxsplit=1)[0]
        pos = name.find(directory)
        if pos >= 0 and pos + len(directory) - 1 == name.rfind("/"):
            _sum_file(name, out)


def _sum_file(name: str, out: bytearray) -> None:
    try:
        _sum_text(Path(name).read_bytes(), out)
    except OSError as exc:
        raise BuildError(f"modpost: could not open {name}: {exc.strerror}") from None


def srcversion(modfile_stem: str | os.PathLike[str]) -> str:
    """get_src_version(): the 23 hex digits of ``MODULE_INFO(srcversion)``
    for the module whose ``NAME.mod`` file is at ``modfile_stem + ".mod"``
    (modpost keeps 24 bytes including the NUL, so one digit is cut)."""
    stem = str(modfile_stem)
    data = bytearray()
    for fname in Path(stem + ".mod").read_text().split("\n"):
        if fname and not fname.endswith(".a"):
            _sum_object(fname, data)
    h = md4_kernel(bytes(data))
    return "".join(struct.pack("<I", x).hex().upper() for x in h)[:23]


# --------------------------------------------------------------------------
# modpost: NAME.mod.c
# --------------------------------------------------------------------------

#: What kernsim's loader finds in .gnu.linkonce.this_module.  linux/module.h
#: only declares ``struct module``; this is the definition the .mod.c uses
#: (the kernel's has the same three fields among many others).
THIS_MODULE_STRUCT: Final = """\
/* kernsim: the part of struct module (include/linux/module.h) that
 * modpost's __this_module fills in; the loader reads it. */
#define MODULE_NAME_LEN (64 - sizeof(unsigned long))
struct module {
	char name[MODULE_NAME_LEN];
	int (*init)(void);
	void (*exit)(void);
};
"""


def mod_c_text(spec: ModuleSpec, *, has_init: bool, has_cleanup: bool, srcver: str) -> str:
    """The NAME.mod.c that modpost's write_mod_c_file() writes (6.7 layout:
    add_header, add_versions, add_depends, add_srcversion)."""
    decls = ""
    if has_init:
        decls += "extern int init_module(void);\n"
    if has_cleanup:
        decls += "extern void cleanup_module(void);\n"
    body = ["\t.name = KBUILD_MODNAME,\n"]
    if has_init:
        body.append("\t.init = init_module,\n")
    if has_cleanup:
        body.append("#ifdef CONFIG_MODULE_UNLOAD\n\t.exit = cleanup_module,\n#endif\n")
    return (
        "#include <linux/module.h>\n"
        "#include <linux/compiler.h>\n"
        "\n"
        + THIS_MODULE_STRUCT + decls +
        "\n"
        f'MODULE_INFO(vermagic, "{VERMAGIC}");\n'
        "MODULE_INFO(name, KBUILD_MODNAME);\n"
        "\n"
        "__visible struct module __this_module\n"
        '__section(".gnu.linkonce.this_module") = {\n'
        + "".join(body) +
        "};\n"
        "\n"
        "#ifdef CONFIG_RETPOLINE\n"
        'MODULE_INFO(retpoline, "Y");\n'
        "#endif\n"
        "\n"
        'MODULE_INFO(depends, "");\n'
        "\n"
        f'MODULE_INFO(srcversion, "{srcver}");\n'
    )


def _object_facts(obj: Path) -> tuple[bool, bool, list[str]]:
    """(has init_module, has cleanup_module, .modinfo strings) of an object."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    has_init = has_cleanup = False
    modinfo: list[str] = []
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if sec.name == ".modinfo":
                modinfo += [s.decode(errors="replace") for s in sec.data().split(b"\0") if s]
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    if sym["st_shndx"] == "SHN_UNDEF":
                        continue
                    if sym.name == "init_module":
                        has_init = True
                    elif sym.name == "cleanup_module":
                        has_cleanup = True
    return has_init, has_cleanup, modinfo


# --------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------

@dataclass
class BuildResult:
    """What a build made: the .ko files (in modules.order order) and the
    kbuild lines it printed (empty when everything was up to date)."""

    modules: list[Path]
    lines: list[str]


Echo = Callable[[str], None]


def _quiet(tag: str, target: Path) -> str:
    """kbuild's quiet line: two spaces, the tag padded to 8 columns, the path."""
    return f"  {tag:<8}{target}"


class _Builder:
    def __init__(self, directory: Path, kb: KbuildFile, echo: Echo, stderr: TextIO,
                 verbose: bool) -> None:
        self.dir = directory
        self.kb = kb
        self._echo = echo
        self.stderr = stderr
        self.verbose = verbose
        self.lines: list[str] = []

    # -- helpers ---------------------------------------------------------
    def say(self, tag: str, target: Path, cmd: Sequence[str]) -> None:
        line = shlex.join(cmd) if self.verbose else _quiet(tag, target)
        self.lines.append(line)
        self._echo(line)

    def run(self, cmd: Sequence[str], target: Path, makefile: str) -> None:
        p = subprocess.run(list(cmd), capture_output=True, text=True, errors="replace")
        if p.stdout:
            self.stderr.write(p.stdout)
        if p.stderr:
            self.stderr.write(p.stderr)
        self.stderr.flush()
        if p.returncode != 0:
            for leftover in (target,):
                try:
                    leftover.unlink()
                except OSError:
                    pass
            raise BuildError(f"make[2]: *** [{makefile}: {target}] Error {p.returncode}")

    def path(self, rel: str) -> Path:
        return self.dir / rel

    @staticmethod
    def cmd_file(target: Path) -> Path:
        return target.parent / f".{target.name}.cmd"

    def saved(self, target: Path) -> tuple[str | None, list[Path]]:
        """(savedcmd, prerequisites) recorded for ``target``."""
        try:
            text = self.cmd_file(target).read_text(errors="surrogateescape")
        except OSError:
            return None, []
        saved = None
        prereqs: list[Path] = []
        deps = False
        for line in text.split("\n"):
            if line.startswith(f"savedcmd_{target} := "):
                saved = line.split(" := ", 1)[1]
            elif line.startswith(f"source_{target} := "):
                prereqs.append(Path(line.split(" := ", 1)[1]))
            elif line.startswith(f"deps_{target} := "):
                deps = True
            elif deps:
                s = line.strip()
                if not s.endswith("\\"):
                    deps = False
                    continue
                name = s[:-1].strip()
                if name and not name.startswith("$("):
                    prereqs.append(Path(name))
        return saved, prereqs

    @staticmethod
    def newer(prereqs: Iterable[Path], target: Path) -> bool:
        """make's rule: rebuild if the target is missing, or a prerequisite
        is missing or newer than it."""
        try:
            t = target.stat().st_mtime_ns
        except OSError:
            return True
        for p in prereqs:
            try:
                if p.stat().st_mtime_ns > t:
                    return True
            except OSError:
                return True
        return False

    def stale(self, target: Path, cmd: Sequence[str], prereqs: Iterable[Path]) -> bool:
        """kbuild's if_changed: the command line changed, or make says so."""
        saved, recorded = self.saved(target)
        if saved != shlex.join(cmd):
            return True
        return self.newer([*prereqs, *recorded], target)

    def write_cmd(self, target: Path, cmd: Sequence[str], source: Path | None = None,
                  deps: Sequence[str] = ()) -> None:
        text = f"savedcmd_{target} := {shlex.join(cmd)}\n"
        if source is not None:
            # fixdep's layout, which modpost's sumversion reads.
            text += f"\nsource_{target} := {source}\n\ndeps_{target} := \\\n"
            text += "".join(f"  {d} \\\n" for d in deps)
            text += f"\n{target}: $(deps_{target})\n\n$(deps_{target}):\n"
        self.cmd_file(target).write_text(text)

    # -- steps -----------------------------------------------------------
    def c_flags(self, obj: str, spec: ModuleSpec, *, module_dir_flags: bool = True) -> list[str]:
        stem = obj[:-2].rsplit("/", 1)[-1]
        flags = [*_cppflags(), *KBUILD_CFLAGS, *KBUILD_CFLAGS_MODULE]
        if module_dir_flags:
            remove = set(self.kb.ccflags_remove) | set(self.kb.cflags_remove.get(obj, []))
            flags = [f for f in flags if f not in remove]
            flags += [f for f in self.kb.ccflags if f not in remove]
            flags += self.kb.cflags.get(obj, [])
        basename = stem.replace("-", "_").replace(",", "_")
        flags += [f'-DKBUILD_BASENAME="{basename}"', f'-DKBUILD_MODNAME="{spec.modname}"',
                  f"-D__KBUILD_MODNAME=kmod_{spec.modname}"]
        return flags

    def compile(self, obj: str, spec: ModuleSpec, source: Path, *, module_dir_flags: bool = True,
                needed_by: Path | None = None) -> bool:
        target = self.path(obj)
        if not source.is_file():
            by = f", needed by '{needed_by}'" if needed_by else ""
            self.stderr.write(f"make[2]: *** No rule to make target '{target}'{by}.  Stop.\n")
            raise BuildError(f"make[2]: *** No rule to make target '{target}'{by}.  Stop.")
        depfile = target.parent / f".{target.name}.d"
        cmd = ["gcc", f"-Wp,-MMD,{depfile}", *self.c_flags(obj, spec, module_dir_flags=module_dir_flags),
               "-c", "-o", str(target), str(source)]
        if not self.stale(target, cmd, [source]):
            return False
        self.say("CC [M]", target, cmd)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.run(cmd, target, "scripts/Makefile.build:243")
        deps = _read_depfile(depfile, source)
        try:
            depfile.unlink()
        except OSError:
            pass
        self.write_cmd(target, cmd, source, deps)
        return True

    def link(self, target: Path, inputs: Sequence[Path], makefile: str) -> bool:
        cmd = [_ld(), *LDFLAGS_MODULE, "-o", str(target), *map(str, inputs)]
        if not self.stale(target, cmd, inputs):
            return False
        self.say("LD [M]", target, cmd)
        self.run(cmd, target, makefile)
        self.write_cmd(target, cmd)
        return True

    def build(self) -> list[Path]:
        kb = self.kb
        # 1. Objects (and composite objects), in modules.order order.
        for spec in kb.modules:
            composite = self.path(f"{spec.name}.o")
            for obj in spec.objects:
                src = self.path(obj[:-2] + ".c")
                self.compile(obj, spec, src, needed_by=composite if spec.composite
                             else self.dir / "modules.order")
            if spec.composite:
                self.link(composite, [self.path(o) for o in spec.objects],
                          "scripts/Makefile.build:460")
            _write_if_changed(self.path(f"{spec.name}.mod"),
                              "".join(f"{self.path(o)}\n" for o in spec.objects))
        order = self.dir / "modules.order"
        _write_if_changed(order, "".join(f"{self.path(s.name + '.o')}\n" for s in kb.modules))
        # 2. modpost.
        symvers = self.dir / "Module.symvers"
        modpost_cmd = MODPOST_CMD.split()
        prereqs = [order, *(self.path(f"{s.name}.o") for s in kb.modules),
                   *(self.path(f"{s.name}.mod") for s in kb.modules)]
        if (self.stale(symvers, modpost_cmd, prereqs)
                or any(not self.path(f"{s.name}.mod.c").exists() for s in kb.modules)):
            self.say("MODPOST", symvers, modpost_cmd)
            self.modpost(symvers)
            self.write_cmd(symvers, modpost_cmd)
        # 3. NAME.mod.o and NAME.ko.
        kos = []
        for spec in kb.modules:
            modc = self.path(f"{spec.name}.mod.c")
            self.compile(f"{spec.name}.mod.o", spec, modc, module_dir_flags=False)
            ko = self.path(f"{spec.name}.ko")
            self.link(ko, [self.path(f"{spec.name}.o"), self.path(f"{spec.name}.mod.o")],
                      "scripts/Makefile.modfinal:56")
            kos.append(ko)
        return kos

    def modpost(self, symvers: Path) -> None:
        errors = []
        texts = []
        for spec in self.kb.modules:
            obj = self.path(f"{spec.name}.o")
            has_init, has_cleanup, modinfo = _object_facts(obj)
            if not any(s.startswith("license=") for s in modinfo):
                errors.append(f"ERROR: modpost: missing MODULE_LICENSE() in {obj}")
            texts.append((spec, mod_c_text(spec, has_init=has_init, has_cleanup=has_cleanup,
                                           srcver=srcversion(self.path(spec.name)))))
        if errors:
            self.stderr.write("".join(e + "\n" for e in errors))
            self.stderr.flush()
            raise BuildError(f"make[2]: *** [scripts/Makefile.modpost:145: {symvers}] Error 1")
        for spec, text in texts:
            _write_if_changed(self.path(f"{spec.name}.mod.c"), text)
        symvers.write_text("")   # nothing exported (EXPORT_SYMBOL is not supported)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    path.write_text(text)


def _read_depfile(depfile: Path, source: Path) -> list[str]:
    """The prerequisites gcc -MMD listed, minus the source itself (fixdep
    puts that in ``source_``)."""
    try:
        text = depfile.read_text(errors="surrogateescape")
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    _, _, rhs = text.partition(": ")
    deps: list[str] = []
    for token in re.split(r"(?<!\\)\s+", rhs.split("\n", 1)[0].strip()):
        token = token.replace("\\ ", " ")
        if not token or token == str(source):
            continue
        p = str(Path(token).resolve()) if not os.path.isabs(token) else token
        if p not in deps:
            deps.append(p)
    return deps


def _resolve_dir(directory: str | os.PathLike[str]) -> Path:
    d = Path(directory)
    if not d.exists():
        raise KbuildError(f"{directory}: No such file or directory")
    if not d.is_dir():
        raise KbuildError(f"{directory}: Not a directory")
    return d.resolve()


def build(directory: str | os.PathLike[str] = ".", *, echo: Echo = print,
          stderr: TextIO | None = None, verbose: bool = False) -> BuildResult:
    """``make -C /lib/modules/$(uname -r)/build M=directory modules``.

    Reads the directory's Kbuild/Makefile, builds what is out of date, prints
    kbuild's lines through ``echo`` and passes the tools' diagnostics to
    ``stderr``.  Raises :class:`KbuildError` if there is nothing to build
    and :class:`BuildError` if a step failed.
    """
    d = _resolve_dir(directory)
    kb = parse_kbuild(find_kbuild_file(d))
    return _run(d, kb, echo, stderr, verbose)


def build_file(source: str | os.PathLike[str], *, echo: Echo = print,
               stderr: TextIO | None = None, verbose: bool = False) -> BuildResult:
    """Build one ``FILE.c`` into ``FILE.ko`` next to it, as if its directory
    had a Kbuild file saying ``obj-m += FILE.o`` (any Makefile there is not
    read)."""
    src = Path(source)
    if not src.is_file():
        raise KbuildError(f"{source}: No such file or directory")
    if src.suffix != ".c":
        raise KbuildError(f"{source}: not a C source file (FILE.c)")
    src = src.resolve()
    spec = ModuleSpec(src.stem, (f"{src.stem}.o",))
    kb = KbuildFile(src.parent / "Kbuild", [spec])
    return _run(src.parent, kb, echo, stderr, verbose)


def _run(d: Path, kb: KbuildFile, echo: Echo, stderr: TextIO | None, verbose: bool) -> BuildResult:
    b = _Builder(d, kb, echo, stderr if stderr is not None else sys.stderr, verbose)
    kos = b.build()
    return BuildResult(kos, b.lines)


#: What ``make clean`` removes in a module directory (and below it).
CLEAN_PATTERNS: Final = ("*.o", "*.a", "*.i", "*.s", "*.ko", "*.mod", "*.mod.c", ".*.cmd",
                         ".*.d", "*.symtypes", "modules.order", "Module.symvers", ".tmp_*")


def clean(directory: str | os.PathLike[str] = ".", *, echo: Echo = print) -> list[Path]:
    """``make M=directory clean``: removes the build products kbuild would
    (found recursively, skipping version-control directories) and prints
    ``  CLEAN   .../Module.symvers`` if there was one.  Returns what it removed."""
    d = _resolve_dir(directory)
    find_kbuild_file(d)
    symvers = d / "Module.symvers"
    if symvers.exists():
        echo(_quiet("CLEAN", symvers))
    removed: list[Path] = []
    for root, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if x not in (".git", ".hg", ".svn", ".bzr")]
        for name in files:
            p = Path(root) / name
            if any(p.match(pat) for pat in CLEAN_PATTERNS):
                p.unlink()
                removed.append(p)
    return removed
