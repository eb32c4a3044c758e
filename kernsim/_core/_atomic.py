"""Atomics and once-accesses (``include/linux/atomic.h``,
``include/asm-generic/rwonce.h``, ``arch/x86/include/asm/cmpxchg.h``).

In C these are single instructions (or plain volatile accesses), not kernel
calls: they are no scheduling points on either side, and kernsim runs module
code between two kernel calls without interruption, so every one of them is
atomic here by construction.  ``atomic_t`` holds a 32-bit signed counter that
wraps around as the CPU's does.

Python has no pointers, so the operations on *plain variables* take the
place of the variable as an object and an attribute name -- or a dict and a
key, which is how a module's own globals are reached::

    WRITE_ONCE(dev, "ready", 1)        # WRITE_ONCE(dev->ready, 1);
    old = xchg(globals(), "flag", 0)   # old = xchg(&flag, 0);
    cmpxchg(dev, "state", 0, 1)        # cmpxchg(&dev->state, 0, 1);

``READ_ONCE(x)`` of a value is the value (Python reads a variable once per
use anyway); ``READ_ONCE(dev, "ready")`` reads the attribute.
"""

from __future__ import annotations

from typing import Any, MutableMapping

from ._export import export, export_values


def _s32(x: int) -> int:
    """Wrap to a 32-bit signed int, as the counter's register does."""
    return ((int(x) + 0x80000000) & 0xFFFFFFFF) - 0x80000000


class atomic_t:
    """``atomic_t``: a 32-bit counter (read ``counter``, or use ``atomic_read``)."""

    __slots__ = ("counter",)

    def __init__(self, i: int = 0) -> None:
        self.counter = _s32(i)

    def __repr__(self) -> str:
        return f"<atomic_t {self.counter}>"


export_values(__name__, "linux/types.h", {"atomic_t": atomic_t}, kind="type")


@export("linux/atomic.h", kind="macro", points=False)
def ATOMIC_INIT(i: int) -> atomic_t:
    """A new atomic_t holding *i*: ``v = ATOMIC_INIT(0)``."""
    return atomic_t(i)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_read(v: atomic_t) -> int:
    """The value."""
    return v.counter


@export("linux/atomic.h", kind="macro", points=False)
def atomic_set(v: atomic_t, i: int) -> None:
    """Set the value to *i*."""
    v.counter = _s32(i)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_add(i: int, v: atomic_t) -> None:
    """Add *i*."""
    v.counter = _s32(v.counter + i)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_sub(i: int, v: atomic_t) -> None:
    """Subtract *i*."""
    v.counter = _s32(v.counter - i)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_inc(v: atomic_t) -> None:
    """Add 1."""
    v.counter = _s32(v.counter + 1)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_dec(v: atomic_t) -> None:
    """Subtract 1."""
    v.counter = _s32(v.counter - 1)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_add_return(i: int, v: atomic_t) -> int:
    """Add *i*; return the new value."""
    v.counter = _s32(v.counter + i)
    return v.counter


@export("linux/atomic.h", kind="macro", points=False)
def atomic_sub_return(i: int, v: atomic_t) -> int:
    """Subtract *i*; return the new value."""
    v.counter = _s32(v.counter - i)
    return v.counter


@export("linux/atomic.h", kind="macro", points=False)
def atomic_inc_return(v: atomic_t) -> int:
    """Add 1; return the new value."""
    return atomic_add_return(1, v)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_dec_return(v: atomic_t) -> int:
    """Subtract 1; return the new value."""
    return atomic_sub_return(1, v)


@export("linux/atomic.h", kind="macro", points=False)
def atomic_fetch_add(i: int, v: atomic_t) -> int:
    """Add *i*; return the old value."""
    old = v.counter
    v.counter = _s32(old + i)
    return old


@export("linux/atomic.h", kind="macro", points=False)
def atomic_fetch_sub(i: int, v: atomic_t) -> int:
    """Subtract *i*; return the old value."""
    old = v.counter
    v.counter = _s32(old - i)
    return old


@export("linux/atomic.h", kind="macro", points=False)
def atomic_dec_and_test(v: atomic_t) -> bool:
    """Subtract 1; True if the result is 0."""
    return atomic_sub_return(1, v) == 0


@export("linux/atomic.h", kind="macro", points=False)
def atomic_inc_and_test(v: atomic_t) -> bool:
    """Add 1; True if the result is 0."""
    return atomic_add_return(1, v) == 0


@export("linux/atomic.h", kind="macro", points=False)
def atomic_sub_and_test(i: int, v: atomic_t) -> bool:
    """Subtract *i*; True if the result is 0."""
    return atomic_sub_return(i, v) == 0


@export("linux/atomic.h", kind="macro", points=False)
def atomic_cmpxchg(v: atomic_t, old: int, new: int) -> int:
    """If the value is *old*, make it *new*; return the value found."""
    cur = v.counter
    if cur == _s32(old):
        v.counter = _s32(new)
    return cur


@export("linux/atomic.h", kind="macro", points=False)
def atomic_xchg(v: atomic_t, new: int) -> int:
    """Set the value to *new*; return the old one."""
    old = v.counter
    v.counter = _s32(new)
    return old


# -- plain variables -----------------------------------------------------------------

def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, MutableMapping):
        return obj[name]
    return getattr(obj, name)


def _set(obj: Any, name: str, value: Any) -> None:
    if isinstance(obj, MutableMapping):
        obj[name] = value
    else:
        setattr(obj, name, value)


def _same(a: Any, b: Any) -> bool:
    """C's ``==`` on what cmpxchg compares: numbers by value, pointers (objects) by identity."""
    if a is b:
        return True
    return isinstance(a, int) and isinstance(b, int) and a == b


_UNSET: Any = object()


@export("linux/compiler.h", kind="macro", points=False)
def READ_ONCE(x: Any, name: str = _UNSET) -> Any:
    """``READ_ONCE(x)``: *x* itself; ``READ_ONCE(obj, "field")``: ``obj.field``
    (or ``obj["field"]`` for a dict such as ``globals()``)."""
    if name is _UNSET:
        return x
    return _get(x, name)


@export("linux/compiler.h", kind="macro", points=False)
def WRITE_ONCE(obj: Any, name: str, value: Any) -> None:
    """``WRITE_ONCE(obj->field, value)``: ``WRITE_ONCE(obj, "field", value)``
    (``WRITE_ONCE(globals(), "flag", 1)`` for a module variable)."""
    _set(obj, name, value)


@export("linux/atomic.h", kind="macro", points=False)
def xchg(obj: Any, name: str, new: Any) -> Any:
    """``old = xchg(&obj->field, new)``: ``old = xchg(obj, "field", new)``."""
    old = _get(obj, name)
    _set(obj, name, new)
    return old


@export("linux/atomic.h", kind="macro", points=False)
def cmpxchg(obj: Any, name: str, old: Any, new: Any) -> Any:
    """``cmpxchg(&obj->field, old, new)``: store *new* if the field is *old*;
    return what the field held."""
    cur = _get(obj, name)
    if _same(cur, old):
        _set(obj, name, new)
    return cur
