"""A live kernel: boot it once, then run the tools against it.

``kernsim boot`` starts a process (:mod:`.server`) that owns one simulated
kernel and listens on a Unix socket in the user's runtime directory
(:mod:`.paths`).  Each tool -- ``insmod``, ``rmmod``, ``lsmod``, ``ps``,
``dmesg``, ``modinfo``, ``sleep``, ``halt`` -- is a short-lived client
(:mod:`.client`) that sends one request and prints the replies
(:mod:`.protocol`: one JSON object a line).

What the tools *show* is formatted on the client's side from procfs-like
snapshots (:mod:`kernsim.procfs`), as the real tools format what they read
from ``/proc``; what *changes* the kernel (``insmod``, ``rmmod``) runs inside
it as a user process of the simulation, which can block in ``D`` as the real
one does.
"""
