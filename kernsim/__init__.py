"""kernsim: the Linux kernel's kthread, wait-queue, sleep and module machinery,
simulated in user space.

Layout: ``kernsim._core`` is the simulated kernel (one module per concept),
``kernsim.linux`` the kernel API for modules (generated from the core's one
list of exported symbols), and ``kernsim.session`` / ``kernsim.expect`` /
``kernsim.cli`` the front ends.
"""

__version__ = "0.1.0"
