"""Reading .ko files: kmod's ``modinfo``, and the checks a loader makes.

What kmod does
--------------
``modinfo FILE.ko`` (kmod tools/modinfo.c) first prints ``filename:`` with
the absolute path, *then* opens the ELF file (libkmod-elf.c) and prints each
``tag=value`` string of its ``.modinfo`` section in section order, as
``printf("%s:%-*s%s\\n", key, 15 - strlen(key), "", value)`` -- the key and
its colon padded to 16 columns.  ``-F FIELD`` prints only the values of one
field (``-F filename`` only the path, without opening the file), ``-0`` ends
each record with a NUL instead of a newline (and prints ``key=value``).

libkmod's ELF reader is lenient: it checks the magic (else ``ENOEXEC``,
"Exec format error"), the class and byte order and that the header, the
section headers and the section-name table fit in the file (else
``EINVAL``, "Invalid argument"), and that ``.modinfo`` exists (else
``ENODATA``, "No data available").  It does *not* check the machine: an
arm64 module's modinfo prints fine on x86.  The message is
``modinfo: ERROR: could not get modinfo from 'NAME': STRERROR``, where NAME
is the module name (the file's basename up to the first dot, ``-`` turned
into ``_``).  An argument that is not an existing regular ``*.ko`` file is
looked up as an alias instead, which fails with
``modinfo: ERROR: Module ARG not found.``

Parameters (``parm=NAME:TEXT`` from MODULE_PARM_DESC, ``parmtype=NAME:TYPE``
from module_param) are merged per name and printed after the other fields,
one ``parm:`` line each: ``NAME:TEXT (TYPE)``, ``NAME:TEXT`` without a type,
``NAME:TYPE`` without a text.  kmod prepends each new name to its list, so
they come out in the reverse of their first appearance in the section -- the
source order, as GCC emits a file's ``.modinfo`` strings last to first.
``-p`` (``-F parm``) prints them without the ``parm:`` key, and a parameter
without a text as ``NAME: (TYPE)`` (kmod 30's modinfo_params_do).

A Python module (``NAME.py``) has no ELF file: what its top-level
MODULE_*() and module_param() calls declare is read from its syntax tree,
never by running it (:mod:`kernsim.pyinfo`), and laid out as modpost would
lay out a C module's.  A file that does not parse is an "Exec format error",
as a .ko without ELF magic is.

The kernel's loader (kernel/module/main.c, elf_validity_cache_copy and
check_modinfo) is stricter: an ELF relocatable (``ET_REL``) of the running
machine and class, with ``.gnu.linkonce.this_module`` and a matching
vermagic, else ``-ENOEXEC``, which kmod's insmod prints as
``insmod: ERROR: could not insert module X.ko: Invalid module format``.
:meth:`KoInfo.check_loadable` makes those checks.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass
from typing import Final, TextIO

from .kbuild import VERMAGIC

#: The file name endings kmod takes as a module file (path_ends_with_kmod_ext).
KMOD_EXTENSIONS: Final = (".ko", ".ko.gz", ".ko.xz", ".ko.zst")

ELFMAG: Final = b"\x7fELF"
ET_REL: Final = 1
EM_X86_64: Final = 62
_EHDR = {1: (52, 40), 2: (64, 64)}   # ELF class -> (sizeof Ehdr, sizeof Shdr)


def modname_of(path: str) -> str:
    """kmod's module name of a path: basename up to the first ``.``, with
    ``-`` turned into ``_`` (modname_normalize)."""
    base = os.path.basename(path)
    return base.split(".", 1)[0].replace("-", "_")


class KoError(Exception):
    """A .ko file that cannot be read or loaded.

    ``errno`` is what libkmod (or the kernel) returns; :attr:`modinfo_message`
    and :meth:`insmod_message` are kmod's wordings of it (without the
    ``modinfo: ERROR: `` / ``insmod: ERROR: `` prefix), ``dmesg`` the line
    the kernel logs for it, if any.
    """

    def __init__(self, path: str, err: int, reason: str, *, dmesg: str | None = None,
                 not_found: bool = False) -> None:
        self.path = path
        self.errno = err
        self.reason = reason
        self.dmesg = dmesg
        self.not_found = not_found
        super().__init__(self.modinfo_message)

    @property
    def name(self) -> str:
        return modname_of(self.path)

    @property
    def modinfo_message(self) -> str:
        if self.not_found:
            return f"Module {self.path} not found."
        return f"could not get modinfo from '{self.name}': {os.strerror(self.errno)}"

    def insmod_message(self, argument: str | None = None) -> str:
        """What ``insmod ARGUMENT`` prints after ``insmod: ERROR: ``: a file
        that cannot be opened is "could not load module", anything the
        kernel rejects is "Invalid module format" (ENOEXEC)."""
        arg = argument if argument is not None else self.path
        if self.not_found:
            return f"could not load module {arg}: {os.strerror(errno.ENOENT)}"
        return f"could not insert module {arg}: Invalid module format"


@dataclass(frozen=True)
class KoInfo:
    """What a .ko file says about itself."""

    #: The path as given, and as kmod prints it (absolute).
    path: str
    filename: str
    #: The ``.modinfo`` strings as (key, value), in section order.
    fields: tuple[tuple[str, str], ...]
    #: 32 or 64 (EI_CLASS), byte order, e_type and e_machine numbers.
    elfclass: int
    little_endian: bool
    e_type: int
    e_machine: int
    #: Whether init_module / cleanup_module are defined (init is optional
    #: for the kernel; without cleanup_module a module cannot be removed).
    has_init: bool
    has_cleanup: bool
    #: Whether there is a .gnu.linkonce.this_module section (modpost's
    #: __this_module): the kernel refuses a module without one.
    has_this_module: bool

    @property
    def name(self) -> str:
        """The module's name: its ``name=`` field (modpost's KBUILD_MODNAME),
        else the file name's."""
        return self.get("name") or modname_of(self.filename)

    def get(self, key: str) -> str | None:
        """The first value of ``key`` (as the kernel's get_modinfo), or None."""
        for k, v in self.fields:
            if k == key:
                return v
        return None

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.fields if k == key]

    def check_loadable(self, vermagic: str = VERMAGIC) -> None:
        """Raise :class:`KoError` (ENOEXEC) if the kernel's loader would
        refuse this file: not ET_REL, another machine or class, no
        ``__this_module``, or a vermagic other than ``vermagic``."""
        if self.e_type != ET_REL or self.e_machine != EM_X86_64 or self.elfclass != 64 \
                or not self.little_endian:
            raise KoError(self.path, errno.ENOEXEC, "not an x86_64 relocatable object")
        if not self.has_this_module:
            raise KoError(self.path, errno.ENOEXEC, "no .gnu.linkonce.this_module section",
                          dmesg=f"{self.get('name') or '(missing .modinfo section or name field)'}"
                                ": No module found in object")
        magic = self.get("vermagic")
        if magic is None:
            raise KoError(self.path, errno.ENOEXEC, "no vermagic",
                          dmesg=f"{self.name}: no version magic, tainting kernel.")
        if magic != vermagic:
            raise KoError(self.path, errno.ENOEXEC, "vermagic mismatch",
                          dmesg=f"{self.name}: version magic '{magic}' should be '{vermagic}'")


def _is_module_filename(path: str) -> bool:
    return os.path.isfile(path) and path.endswith(KMOD_EXTENSIONS)


def read_ko(path: str | os.PathLike[str]) -> KoInfo:
    """Read a .ko file as libkmod does for modinfo.

    Raises :class:`KoError` with kmod's errno: not an existing ``*.ko`` file
    (``not_found``), no ELF magic (ENOEXEC), a bad class / byte order /
    truncated header or section table (EINVAL), no ``.modinfo`` (ENODATA).
    The machine is not checked here (see :meth:`KoInfo.check_loadable`).
    """
    p = os.fspath(path)
    if not _is_module_filename(p):
        raise KoError(p, errno.ENOENT, "not a module file", not_found=True)
    filename = os.path.abspath(p)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise KoError(p, exc.errno or errno.EIO, exc.strerror or "cannot read") from None
    return _parse(p, filename, data)


def load_ko(path: str | os.PathLike[str], vermagic: str = VERMAGIC) -> KoInfo:
    """read_ko() and check_loadable(), as insmod meets them: any format
    problem is ENOEXEC ("Invalid module format"); a missing file stays
    ``not_found`` ("could not load module ...: No such file or directory")."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise KoError(p, errno.ENOENT, "no such file", not_found=True)
    try:
        with open(p, "rb") as f:
            data = f.read()
        info = _parse(p, os.path.abspath(p), data)
    except KoError as exc:
        raise KoError(p, errno.ENOEXEC, exc.reason, dmesg=exc.dmesg) from None
    info.check_loadable(vermagic)
    return info


def _parse(path: str, filename: str, data: bytes) -> KoInfo:
    """kmod_elf_new() and kmod_elf_get_strings(".modinfo"), then the symbols."""
    size = len(data)
    if size <= 16 or data[:4] != ELFMAG:
        raise KoError(path, errno.ENOEXEC, "not an ELF file")
    elfclass = data[4]
    if elfclass not in _EHDR:
        raise KoError(path, errno.EINVAL, "bad ELF class")
    ehdr_size, shdr_size = _EHDR[elfclass]
    if size <= ehdr_size:
        raise KoError(path, errno.EINVAL, "truncated ELF header")
    if data[5] not in (1, 2):
        raise KoError(path, errno.EINVAL, "bad ELF byte order")
    le = data[5] == 1
    bo = "<" if le else ">"
    if elfclass == 2:
        e_type, e_machine = struct.unpack_from(bo + "HH", data, 16)
        shoff, = struct.unpack_from(bo + "Q", data, 40)
        shentsize, shnum, shstrndx = struct.unpack_from(bo + "HHH", data, 58)
    else:
        e_type, e_machine = struct.unpack_from(bo + "HH", data, 16)
        shoff, = struct.unpack_from(bo + "I", data, 32)
        shentsize, shnum, shstrndx = struct.unpack_from(bo + "HHH", data, 46)
    if shentsize != shdr_size or shoff + shdr_size * shnum > size:
        raise KoError(path, errno.EINVAL, "section headers out of the file")

    def section(idx: int) -> tuple[int, int, int, int] | None:
        """(sh_name, sh_type, sh_offset, sh_size) if it lies in the file."""
        if idx == 0 or idx >= shnum:
            return None
        off = shoff + idx * shdr_size
        if elfclass == 2:
            name, typ, _flags, _addr, offset, sz = struct.unpack_from(bo + "IIQQQQ", data, off)
        else:
            name, typ, _flags, _addr, offset, sz = struct.unpack_from(bo + "IIIIII", data, off)
        if offset + sz > size:
            return None
        return name, typ, offset, sz

    strtab = section(shstrndx)
    if strtab is None or strtab[3] == 0 or data[strtab[2] + strtab[3] - 1] != 0:
        raise KoError(path, errno.EINVAL, "bad section-name table")
    names = data[strtab[2]:strtab[2] + strtab[3]]

    def name_of(off: int) -> str | None:
        if off >= len(names):
            return None
        return names[off:names.index(b"\0", off)].decode(errors="replace")

    sections: dict[str, tuple[int, int, int]] = {}
    for i in range(1, shnum):
        s = section(i)
        if s is None:
            continue
        n = name_of(s[0])
        if n is not None and n not in sections:
            sections[n] = (s[1], s[2], s[3])
    if ".modinfo" not in sections:
        raise KoError(path, errno.ENODATA, "no .modinfo section")
    _, off, sz = sections[".modinfo"]
    fields = []
    for raw in data[off:off + sz].split(b"\0"):
        if not raw:
            continue
        text = raw.decode(errors="replace")
        key, eq, value = text.partition("=")
        fields.append((key, value if eq else ""))
    has_init, has_cleanup = _entry_points(data)
    return KoInfo(path=path, filename=filename, fields=tuple(fields), elfclass=32 if elfclass == 1 else 64,
                  little_endian=le, e_type=e_type, e_machine=e_machine, has_init=has_init,
                  has_cleanup=has_cleanup, has_this_module=".gnu.linkonce.this_module" in sections)


def _entry_points(data: bytes) -> tuple[bool, bool]:
    """Whether init_module / cleanup_module are defined, from .symtab
    (pyelftools); a symbol table it cannot read counts as neither."""
    import io

    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    has_init = has_cleanup = False
    try:
        elf = ELFFile(io.BytesIO(data))
        for sec in elf.iter_sections():
            if not isinstance(sec, SymbolTableSection):
                continue
            for sym in sec.iter_symbols():
                if sym["st_shndx"] == "SHN_UNDEF":
                    continue
                if sym.name == "init_module":
                    has_init = True
                elif sym.name == "cleanup_module":
                    has_cleanup = True
    except (ELFError, struct.error, ValueError, KeyError, IndexError, UnicodeDecodeError):
        return False, False
    return has_init, has_cleanup


def format_field_line(key: str, value: str, separator: str = "\n") -> str:
    """One line of modinfo's output: ``printf("%s:%-*s%s%c", key,
    15 - keylen, "", value, sep)`` (a negative width pads on the left-justify
    side too, so keys of 16+ characters get ``keylen - 15`` spaces)."""
    if separator == "\0":
        return f"{key}={value}\0"
    return f"{key}:{' ' * abs(15 - len(key))}{value}{separator}"


def _fields_of(p: str, err: TextIO) -> tuple[tuple[str, str], ...] | None:
    """The fields of a .ko or .py file, or None after printing kmod's error."""
    if p.endswith(".py"):
        from ._core._module import module_name_of
        from .pyinfo import PyModinfoError, read_py_modinfo

        try:
            info = read_py_modinfo(p, module_name_of(p))
        except PyModinfoError:
            err.write(f"modinfo: ERROR: could not get modinfo from '{modname_of(p)}': "
                      f"{os.strerror(errno.ENOEXEC)}\n")
            err.flush()
            return None
        for line, macro, reason in info.skipped:
            err.write(f"modinfo: WARNING: {p}:{line}: {macro}(): {reason}, not shown\n")
        err.flush()
        return info.fields
    try:
        return read_ko(p).fields
    except KoError as exc:
        err.write(f"modinfo: ERROR: {exc.modinfo_message}\n")
        err.flush()
        return None


def modinfo(paths: list[str], *, field: str | None = None, null: bool = False,
            out: TextIO, err: TextIO) -> int:
    """``modinfo [-F FIELD] [-p] [-0] FILE...`` (``.ko`` or ``.py``): prints
    as kmod does; returns its exit status (1 if any argument failed)."""
    sep = "\0" if null else "\n"
    status = 0
    for p in paths:
        if not (_is_module_filename(p) or (p.endswith(".py") and os.path.isfile(p))):
            out.flush()
            err.write(f"modinfo: ERROR: Module {p} not found.\n")
            err.flush()
            status = 1
            continue
        filename = os.path.abspath(p)
        if field == "filename":
            out.write(f"{filename}{sep}")
            continue
        if field is None:
            out.write(f"{'filename:':<16}{filename}{sep}")
        out.flush()
        fields = _fields_of(p, err)
        if fields is None:
            status = 1
            continue
        if field == "parm":
            out.write(_parms(fields, sep, keyed=False))
            continue
        for key, value in fields:
            if field is not None:
                if key == field:
                    out.write(f"{value}{sep}")
                continue
            if key in ("parm", "parmtype"):
                continue
            out.write(format_field_line(key, value, sep))
        if field is None:
            out.write(_parms(fields, sep))
    out.flush()
    return status


def _parms(fields: tuple[tuple[str, str], ...], sep: str, keyed: bool = True) -> str:
    """The ``parm:`` lines kmod prints after the other fields (*keyed*), or
    what ``-p`` prints: one per parameter, in the reverse of their first
    appearance (kmod prepends to its list), ``name:desc (type)``."""
    params: dict[str, list[str | None]] = {}
    order: list[str] = []
    for key, value in fields:
        if key not in ("parm", "parmtype") or ":" not in value:
            continue
        name, _, rest = value.partition(":")
        if name not in params:
            params[name] = [None, None]
            order.insert(0, name)
        params[name][0 if key == "parm" else 1] = rest
    out = []
    key = f"{'parm:':<16}" if keyed else ""
    for name in order:
        desc, typ = params[name]
        if desc is None:
            out.append(f"{key}{name}:{typ}{sep}" if keyed else f"{name}: ({typ}){sep}")
        elif typ is not None:
            out.append(f"{key}{name}:{desc} ({typ}){sep}")
        else:
            out.append(f"{key}{name}:{desc}{sep}")
    return "".join(out)
