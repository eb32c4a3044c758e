"""Import every core module that exports kernel symbols, so that
``_export.EXPORTS`` is complete (the facade and the C headers are generated
from it)."""

from . import (  # noqa: F401
    _atomic,
    _completion,
    _errno,
    _kthread,
    _module,
    _mutex,
    _param,
    _printk,
    _sched,
    _signal,
    _slab,
    _spinlock,
    _time,
    _wait_event,
    _waitqueue,
    _warn,
)
