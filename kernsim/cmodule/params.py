"""A C module's parameters: its ``__param`` section, read as the kernel's loader
reads it (``find_module_sections``: ``mod->kp``).

Each ``struct kernel_param`` there names its ``kernel_param_ops`` by address:
kernsim's C runtime defines the kernel's ``param_ops_TYPE`` objects, so the
address says which of the core's ops (``_core._param``) parse and print the
value.  The value itself stays in the module's memory: :class:`CArg` reads and
writes the variable through ``kp->arg`` with the type's C type, so what the
module's C code reads is what the kernel stored -- and a charp gets a copy of
the string that lives as long as the process (the kernel's kmalloc'ed copy).
"""

from __future__ import annotations

from typing import Any

from .._core._module import LoadFailed
from .._core._param import (
    PARAM_OPS,
    CStr,
    KernelParam,
    KernelParamOps,
    KParamArray,
    KParamString,
    param_array_ops,
    param_ops_string,
)

#: charp values given to C modules: never freed (module code may keep the pointer).
_STRINGS: list[Any] = []


class UnsupportedParamOps(LoadFailed):
    """A parameter whose kernel_param_ops are the module's own (module_param_cb)."""


class CArg:
    """``kp->arg`` as a ``TYPE *`` (``char **`` for a charp)."""

    __slots__ = ("ffi", "ptr", "kind")

    def __init__(self, ffi: Any, addr: int, ctype: str) -> None:
        self.ffi = ffi
        self.ptr = ffi.cast(("_Bool" if ctype == "bool" else ctype) + " *", addr)
        self.kind = ctype

    def load(self) -> Any:
        v = self.ptr[0]
        if self.kind == "char *":
            return None if v == self.ffi.NULL else self.ffi.string(v)
        if self.kind == "bool":
            return bool(v)
        return int(v)

    def store(self, value: Any) -> None:
        if self.kind == "char *":
            buf = self.ffi.new("char[]", value)
            _STRINGS.append(buf)
            self.ptr[0] = buf
        else:
            self.ptr[0] = value


class CCharArray:
    """``kparam_string.string``: a char array of the module."""

    __slots__ = ("ffi", "ptr")

    def __init__(self, ffi: Any, ptr: Any) -> None:
        self.ffi = ffi
        self.ptr = ptr

    def load(self) -> bytes:
        return bytes(self.ffi.string(self.ptr))

    def store(self, value: bytes) -> None:
        self.ffi.memmove(self.ptr, value + b"\0", len(value) + 1)


class CParams:
    """The runtime's kernel_param_ops by address, and ``struct kernel_param`` readers."""

    def __init__(self, ffi: Any, lib: Any) -> None:
        self.ffi = ffi
        self.ops_at: dict[int, KernelParamOps] = {
            self.addr(ffi.addressof(lib, name)): ops for name, ops in PARAM_OPS.items()}

    def addr(self, ptr: Any) -> int:
        return int(self.ffi.cast("uintptr_t", ptr))

    def _ops(self, ptr: Any, module: str, name: str) -> KernelParamOps:
        ops = self.ops_at.get(self.addr(ptr))
        if ops is None:
            raise UnsupportedParamOps(
                f"kernsim: {module}: parameter '{name}' uses kernel_param_ops of its own "
                f"(module_param_cb): kernsim only provides the kernel's param_ops_TYPE")
        return ops

    def kernel_param(self, kp: Any, mod: Any = None) -> KernelParam:
        """The core's view of the ``struct kernel_param`` at *kp*."""
        ffi = self.ffi
        name = ffi.string(kp.name).decode("utf-8", "backslashreplace")
        modname = getattr(mod, "name", "module")
        ops = self._ops(kp.ops, modname, name)
        param = KernelParam(name, ops, int(kp.perm), level=int(kp.level), flags=int(kp.flags),
                            mod=mod)
        if ops is param_array_ops:
            a = ffi.cast("struct kparam_array *", kp.arg)
            eops = self._ops(a.ops, modname, name)
            base, size = self.addr(a.elem), int(a.elemsize)
            etype = eops.ctype or "int"
            num = None if a.num == ffi.NULL else CArg(ffi, self.addr(a.num), "unsigned int")
            param.arr = KParamArray(int(a.max), eops,
                                    lambda i: CArg(ffi, base + i * size, etype), num)
        elif ops is param_ops_string:
            s = ffi.cast("struct kparam_string *", kp.arg)
            param.str = KParamString(int(s.maxlen), CCharArray(ffi, s.string))
        else:
            param.arg = CArg(ffi, self.addr(kp.arg), ops.ctype or "int")
        return param

    def section(self, start: int, size: int, mod: Any) -> list[KernelParam]:
        """The parameters of a ``__param`` section at *start* (*size* bytes)."""
        n = size // self.ffi.sizeof("struct kernel_param")
        first = self.ffi.cast("struct kernel_param *", start)
        return [self.kernel_param(first + i, mod) for i in range(n)]

    # -- param_ops_TYPE.set/get called from module code --------------------------

    def c_set(self, val: Any, kp: Any) -> int:
        param = self.kernel_param(self.ffi.cast("struct kernel_param *", kp))
        arg = None if val == self.ffi.NULL else CStr.of(self.ffi.string(val))
        return param.ops.set(arg, param)

    def c_get(self, buffer: Any, kp: Any) -> int:
        """Into a PAGE_SIZE buffer, as scnprintf would: the length written."""
        param = self.kernel_param(self.ffi.cast("struct kernel_param *", kp))
        data = param.ops.get(param).encode("utf-8", "surrogateescape")[:4095]
        self.ffi.memmove(buffer, data + b"\0", len(data) + 1)
        return len(data)
