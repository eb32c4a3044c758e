"""The simulated kernel: one module per concept (see the package README in
``kernsim/__init__``).  Importing any part imports them all, then swaps in
the C accelerator of the hot path where it was built (``_accel``)."""

from . import _all  # noqa: F401  (every module that exports kernel symbols)
from ._accel import install as _install_accelerator

_install_accelerator()
