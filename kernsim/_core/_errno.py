"""Error numbers and error pointers, as in ``include/uapi/asm-generic/errno*.h``
and ``include/linux/err.h``.

The kernel returns failures as negative errno values, and from functions that
return pointers as an *error pointer*: the negative errno cast to a pointer in
the last page of the address space.  Python has no pointers, so an error
pointer is a distinct :class:`ErrPtr` object that carries its errno;
``IS_ERR(None)`` is false, as ``IS_ERR(NULL)`` is in C.
"""

from __future__ import annotations

from typing import Final

EPERM: Final = 1
ENOENT: Final = 2
ESRCH: Final = 3
EINTR: Final = 4
EIO: Final = 5
ENXIO: Final = 6
E2BIG: Final = 7
ENOEXEC: Final = 8
EBADF: Final = 9
ECHILD: Final = 10
EAGAIN: Final = 11
ENOMEM: Final = 12
EACCES: Final = 13
EFAULT: Final = 14
ENOTBLK: Final = 15
EBUSY: Final = 16
EEXIST: Final = 17
EXDEV: Final = 18
ENODEV: Final = 19
ENOTDIR: Final = 20
EISDIR: Final = 21
EINVAL: Final = 22
ENFILE: Final = 23
EMFILE: Final = 24
ENOTTY: Final = 25
ETXTBSY: Final = 26
EFBIG: Final = 27
ENOSPC: Final = 28
ESPIPE: Final = 29
EROFS: Final = 30
EMLINK: Final = 31
EPIPE: Final = 32
EDOM: Final = 33
ERANGE: Final = 34
EDEADLK: Final = 35
ENAMETOOLONG: Final = 36
ENOLCK: Final = 37
ENOSYS: Final = 38
ENOTEMPTY: Final = 39
ELOOP: Final = 40
EWOULDBLOCK: Final = EAGAIN
ENOMSG: Final = 42
ENODATA: Final = 61
ETIME: Final = 62
ENOTSUPP: Final = 524
EOVERFLOW: Final = 75
EBADMSG: Final = 74
EOPNOTSUPP: Final = 95
ECANCELED: Final = 125
ENOKEY: Final = 126
EKEYREJECTED: Final = 129
ETIMEDOUT: Final = 110
EALREADY: Final = 114
EINPROGRESS: Final = 115
# Kernel-internal restart codes (include/linux/errno.h): never seen by user
# space when a signal handler is involved, but they leak out of an init
# function that returns them without a pending signal.
ERESTARTSYS: Final = 512
ERESTARTNOINTR: Final = 513
ERESTARTNOHAND: Final = 514
ENOIOCTLCMD: Final = 515

MAX_ERRNO: Final = 4095

#: glibc's strerror() texts, which kmod prints for errors it has no text of its own for.
_STRERROR: Final[dict[int, str]] = {
    EPERM: "Operation not permitted",
    ENOENT: "No such file or directory",
    ESRCH: "No such process",
    EINTR: "Interrupted system call",
    EIO: "Input/output error",
    ENXIO: "No such device or address",
    E2BIG: "Argument list too long",
    ENOEXEC: "Exec format error",
    EBADF: "Bad file descriptor",
    ECHILD: "No child processes",
    EAGAIN: "Resource temporarily unavailable",
    ENOMEM: "Cannot allocate memory",
    EACCES: "Permission denied",
    EFAULT: "Bad address",
    ENOTBLK: "Block device required",
    EBUSY: "Device or resource busy",
    EEXIST: "File exists",
    EXDEV: "Invalid cross-device link",
    ENODEV: "No such device",
    ENOTDIR: "Not a directory",
    EISDIR: "Is a directory",
    EINVAL: "Invalid argument",
    ENFILE: "Too many open files in system",
    EMFILE: "Too many open files",
    ENOTTY: "Inappropriate ioctl for device",
    ETXTBSY: "Text file busy",
    EFBIG: "File too large",
    ENOSPC: "No space left on device",
    ESPIPE: "Illegal seek",
    EROFS: "Read-only file system",
    EMLINK: "Too many links",
    EPIPE: "Broken pipe",
    EDOM: "Numerical argument out of domain",
    ERANGE: "Numerical result out of range",
    EDEADLK: "Resource deadlock avoided",
    ENAMETOOLONG: "File name too long",
    ENOLCK: "No locks available",
    ENOSYS: "Function not implemented",
    ENOTEMPTY: "Directory not empty",
    ELOOP: "Too many levels of symbolic links",
    ENOMSG: "No message of desired type",
    ENODATA: "No data available",
    ETIME: "Timer expired",
    EBADMSG: "Bad message",
    EOVERFLOW: "Value too large for defined data type",
    EOPNOTSUPP: "Operation not supported",
    ETIMEDOUT: "Connection timed out",
    EALREADY: "Operation already in progress",
    EINPROGRESS: "Operation now in progress",
    ECANCELED: "Operation canceled",
    ENOKEY: "Required key not available",
    EKEYREJECTED: "Key was rejected by service",
}


def strerror(errno: int) -> str:
    """glibc's text for a positive errno (``Unknown error N`` otherwise)."""
    return _STRERROR.get(errno, f"Unknown error {errno}")


class ErrPtr:
    """An error pointer: what ``ERR_PTR(-ENOMEM)`` returns in C."""

    __slots__ = ("errno",)

    def __init__(self, errno: int) -> None:
        #: The negative errno this pointer encodes.
        self.errno = errno

    def __repr__(self) -> str:
        return f"ERR_PTR({self.errno})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrPtr) and other.errno == self.errno

    def __hash__(self) -> int:
        return hash(("ErrPtr", self.errno))


def ERR_PTR(error: int) -> ErrPtr:
    """Encode a negative errno as an error pointer."""
    if not -MAX_ERRNO <= error < 0:
        raise ValueError(f"ERR_PTR({error}): not a negative errno in [-{MAX_ERRNO}, -1]")
    return ErrPtr(error)


def IS_ERR(ptr: object) -> bool:
    """True if *ptr* is an error pointer."""
    return type(ptr) is ErrPtr


def IS_ERR_OR_NULL(ptr: object) -> bool:
    """True if *ptr* is None or an error pointer."""
    return ptr is None or type(ptr) is ErrPtr


def PTR_ERR(ptr: object) -> int:
    """The errno an error pointer carries; 0 for NULL.

    In C, ``PTR_ERR`` of a valid pointer returns its address: here it returns
    the object's simulated kernel address if it has one.
    """
    if type(ptr) is ErrPtr:
        return ptr.errno  # type: ignore[union-attr]
    if ptr is None:
        return 0
    return int(getattr(ptr, "kaddr", 0))


def PTR_ERR_OR_ZERO(ptr: object) -> int:
    """The errno of an error pointer, else 0."""
    return ptr.errno if type(ptr) is ErrPtr else 0  # type: ignore[union-attr]


def ERR_CAST(ptr: object) -> object:
    """Pass an error pointer on unchanged (a cast in C)."""
    return ptr


# -- exported to modules ------------------------------------------------------

from ._export import export, export_values  # noqa: E402

export_values(__name__, "linux/errno.h", {
    name: value for name, value in list(globals().items())
    if name.startswith("E") and name[1:].isupper() and isinstance(value, int)
})
export_values(__name__, "linux/err.h", {"MAX_ERRNO": MAX_ERRNO})
export_values(__name__, "linux/err.h", {"ErrPtr": ErrPtr}, kind="type")
for _fn in (ERR_PTR, IS_ERR, IS_ERR_OR_NULL, PTR_ERR, PTR_ERR_OR_ZERO, ERR_CAST):
    export("linux/err.h", kind="macro", points=False)(_fn)
del _fn
