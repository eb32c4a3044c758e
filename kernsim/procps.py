"""procps-ng ``ps`` (4.0.2, as Debian 12 ships it) over the simulated kernel's tasks.

A real ``ps`` reads ``/proc/PID/stat``, ``cmdline`` and ``wchan``; kernsim's
``ps`` gets the same facts as :class:`~kernsim.procfs.TaskStat` snapshots and
formats them the way procps does (``src/ps/parser.c``, ``sortformat.c``,
``select.c``, ``output.c`` and ``display.c``): the same option syntax (UNIX
``-ef``, BSD ``aux``, GNU ``--sort``), the same column table (headers, widths,
justification), the same column-overflow arithmetic of ``show_one_proc()``,
the same error texts and exit statuses.  Output is laid out as when stdout is
not a terminal: the last column is never cut.

Deliberate differences from procps, and why:

* ``ps`` with no arguments at all prints what ``ps ax`` prints.  procps would
  list the processes on the caller's terminal, but the simulated system runs
  no shell of the user's, so that list would always be empty.
* The simulated machine has ``pid_max`` = 32768 (PID columns 5 wide) and every
  task belongs to root (uid and gid 0); user and group names come from a
  small Debian-like passwd/group table, not from the host.
* Session and process-group ids are not in a ``TaskStat``; they are derived:
  a kthread has session and group 0 (as on Linux), init (pid 1) leads its own
  session, another user process is its own process group in its parent's
  session and, when it has a terminal, that terminal's foreground group
  (STAT ``+``), as a command typed at a shell is.
* Data the simulation does not model (signal masks, namespaces, cgroups, page
  faults, I/O counters...) shows as zero, empty or ``-``; ``ps`` never fails
  because of it.  The test-only ``_left``-style columns and ``--info`` are
  not provided; nor are the options of later procps releases (``-D``,
  ``--signames``).
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Final, TextIO

from .procfs import MEM_TOTAL_KB, TaskStat

__all__ = ["ps", "VERSION_TEXT"]

#: What ``ps -V`` prints.
VERSION_TEXT: Final = "ps from procps-ng 4.0.2"

#: ``/proc/sys/kernel/pid_max`` of the simulated machine: PID columns are as
#: wide as its digits (``procps_pid_length()``).
PID_MAX: Final = 32768
_PID_LENGTH: Final = len(str(PID_MAX))
_PAGE_KB: Final = 4
#: procps's output buffer (``OUTBUF_SIZE``): the screen width when stdout is no terminal.
_OUTBUF_SIZE: Final = 2 * 64 * 1024
_SPACE_AMOUNT: Final = 144
_SCREEN_ROWS: Final = 24
#: The user running ps: not the simulated tasks' owner (they are all root's,
#: and kernsim runs as you), so procps's default selection -- "my processes on
#: my terminal" -- matches none of them and ``ps -N`` lists them all, as the
#: tutorial's unprivileged ``ps -N`` does on a real machine.
_CALLER_UID: Final = 1000

#: Debian's base /etc/passwd and /etc/group (name -> id).
_USERS: Final = {
    "root": 0, "daemon": 1, "bin": 2, "sys": 3, "sync": 4, "games": 5, "man": 6,
    "lp": 7, "mail": 8, "news": 9, "uucp": 10, "proxy": 13, "www-data": 33,
    "backup": 34, "list": 38, "irc": 39, "_apt": 42, "nobody": 65534,
}
_GROUPS: Final = {
    "root": 0, "daemon": 1, "bin": 2, "sys": 3, "adm": 4, "tty": 5, "disk": 6,
    "lp": 7, "mail": 8, "news": 9, "uucp": 10, "man": 12, "proxy": 13, "kmem": 15,
    "dialout": 20, "fax": 21, "voice": 22, "cdrom": 24, "floppy": 25, "tape": 26,
    "sudo": 27, "audio": 29, "dip": 30, "www-data": 33, "backup": 34,
    "operator": 37, "list": 38, "irc": 39, "src": 40, "shadow": 42, "utmp": 43,
    "video": 44, "sasl": 45, "plugdev": 46, "staff": 50, "games": 60,
    "users": 100, "nogroup": 65534,
}
_USER_NAMES: Final = {v: k for k, v in _USERS.items()}
_GROUP_NAMES: Final = {v: k for k, v in _GROUPS.items()}

_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# --- the column table (output.c format_array[]) ------------------------------

# Justification (CF_*): 0 is literal AIX text.
_AIX, _USER, _LEFT, _RIGHT, _UNLIMITED, _WCHAN, _SIGNAL = range(7)
# When a column prints with -m: process line only, thread line only, both.
_PO, _TO, _ET, _AN = range(4)
_JUST = {"USER": _USER, "LEFT": _LEFT, "RIGHT": _RIGHT, "UNLIMITED": _UNLIMITED,
         "WCHAN": _WCHAN, "SIGNAL": _SIGNAL}
_PRINT = {"PO": _PO, "TO": _TO, "ET": _ET, "AN": _AN}


@dataclass(frozen=True)
class _Spec:
    """One format specifier: ``-o SPEC``."""

    spec: str
    head: str
    pr: str          # the output function ("nop" prints "-")
    width: int
    just: int
    pflag: int
    pidmax: bool     # CF_PIDMAX: as wide as pid_max's digits


# spec head pr width flags -- transcribed from procps-ng output.c (sorted by spec).
_TABLE_TEXT: Final = """
%cpu %CPU pcpu 4 ET|RIGHT
%mem %MEM pmem 4 PO|RIGHT
acflag ACFLG nop 5 AN|RIGHT
acflg ACFLG nop 5 AN|RIGHT
addr ADDR nop 4 AN|RIGHT
addr_1 ADDR nop 1 AN|LEFT
ag_id AGID agid 5 AN|RIGHT
ag_nice AGNI agnice 4 AN|RIGHT
alarm ALARM nop 5 AN|RIGHT
argc ARGC nop 4 PO|RIGHT
args COMMAND args 27 PO|UNLIMITED
atime TIME time 8 ET|RIGHT
blocked BLOCKED sigmask 9 TO|SIGNAL
bnd BND nop 1 TO|RIGHT
bsdstart START bsdstart 6 ET|RIGHT
bsdtime TIME bsdtime 6 ET|RIGHT
c C c 2 ET|RIGHT
caught CAUGHT sigcatch 9 TO|SIGNAL
cgname CGNAME cgname 27 PO|UNLIMITED
cgroup CGROUP cgroup 27 PO|UNLIMITED
cgroupns CGROUPNS ns 10 ET|RIGHT
class CLS class 3 TO|LEFT
cls CLS class 3 TO|RIGHT
cmaj_flt - nop 1 AN|RIGHT
cmd CMD args 27 PO|UNLIMITED
cmin_flt - nop 1 AN|RIGHT
cnswap - nop 1 AN|RIGHT
comm COMMAND comm 15 PO|UNLIMITED
command COMMAND args 27 PO|UNLIMITED
context CONTEXT context 31 ET|LEFT
cp CP cp 3 ET|RIGHT
cpu CPU nop 3 AN|RIGHT
cpuid CPUID psr 5 TO|RIGHT
cputime TIME time 8 ET|RIGHT
cputimes TIME times 8 ET|RIGHT
ctid CTID nop 5 ET|RIGHT
cuc %CUC utilization 7 AN|RIGHT
cursig CURSIG nop 6 AN|RIGHT
cutime - nop 1 AN|RIGHT
cuu %CUU utilization 6 AN|RIGHT
cwd CWD nop 3 AN|LEFT
docker DOCKER unknown 12 AN|LEFT
drs DRS unknown 5 PO|RIGHT
dsiz DSIZ unknown 4 PO|RIGHT
egid EGID gid 5 ET|RIGHT
egroup EGROUP group 8 ET|USER
eip EIP unknown 16 TO|RIGHT
emul EMUL nop 13 PO|LEFT
end_code E_CODE nop 16 PO|RIGHT
environ ENVIRONMENT environ 31 PO|UNLIMITED
esp ESP unknown 16 TO|RIGHT
etime ELAPSED etime 11 ET|RIGHT
etimes ELAPSED etimes 7 ET|RIGHT
euid EUID uid 5 ET|RIGHT
euser EUSER user 8 ET|USER
exe EXE unknown 27 PO|UNLIMITED
f F flag 1 ET|RIGHT
fgid FGID gid 5 ET|RIGHT
fgroup FGROUP group 8 ET|USER
flag F flag 1 ET|RIGHT
flags F flag 1 ET|RIGHT
fname COMMAND fname 8 PO|LEFT
fsgid FSGID gid 5 ET|RIGHT
fsgroup FSGROUP group 8 ET|USER
fsuid FSUID uid 5 ET|RIGHT
fsuser FSUSER user 8 ET|USER
fuid FUID uid 5 ET|RIGHT
fuser FUSER user 8 ET|USER
gid GID gid 5 ET|RIGHT
group GROUP group 8 ET|USER
ignored IGNORED sigignore 9 TO|SIGNAL
inblk INBLK nop 5 AN|RIGHT
inblock INBLK nop 5 AN|RIGHT
intpri PRI opri 3 TO|RIGHT
ipcns IPCNS ns 10 ET|RIGHT
jid JID nop 1 PO|RIGHT
jobc JOBC nop 4 AN|RIGHT
ktrace KTRACE nop 8 AN|RIGHT
ktracep KTRACEP nop 8 AN|RIGHT
label LABEL context 31 ET|LEFT
lastcpu C psr 3 TO|RIGHT
lim LIM lim 5 AN|RIGHT
login LOGNAME nop 8 AN|LEFT
logname LOGNAME nop 8 AN|LEFT
longtname TTY tty8 8 PO|LEFT
lsession SESSION sd 11 ET|LEFT
lstart STARTED lstart 24 ET|RIGHT
luid LUID luid 5 ET|RIGHT
luser LUSER nop 8 ET|USER
lwp LWP pid 5 TO|PIDMAX|RIGHT
lxc LXC sd 8 ET|LEFT
m_drs DRS unknown 5 PO|RIGHT
m_dt DT nop 4 PO|RIGHT
m_lrs LRS nop 5 PO|RIGHT
m_resident RES nop 5 PO|RIGHT
m_share SHRD nop 5 PO|RIGHT
m_size SIZE unknown 5 PO|RIGHT
m_swap SWAP nop 5 PO|RIGHT
m_trs TRS unknown 5 PO|RIGHT
machine MACHINE sd 31 ET|LEFT
maj_flt MAJFL zero 6 AN|RIGHT
majflt MAJFLT zero 6 AN|RIGHT
min_flt MINFL zero 6 AN|RIGHT
minflt MINFLT zero 6 AN|RIGHT
mntns MNTNS ns 10 ET|RIGHT
msgrcv MSGRCV nop 6 AN|RIGHT
msgsnd MSGSND nop 6 AN|RIGHT
mwchan MWCHAN nop 6 TO|WCHAN
netns NETNS ns 10 ET|RIGHT
ni NI nice 3 TO|RIGHT
nice NI nice 3 TO|RIGHT
nivcsw IVCSW nop 5 AN|RIGHT
nlwp NLWP nlwp 4 PO|RIGHT
nsignals NSIGS nop 5 AN|RIGHT
nsigs NSIGS nop 5 AN|RIGHT
nswap NSWAP nop 5 AN|RIGHT
numa NUMA zero 4 AN|RIGHT
nvcsw VCSW nop 5 AN|RIGHT
nwchan WCHAN nop 6 TO|RIGHT
oom OOM zero 4 TO|RIGHT
oomadj OOMADJ zero 5 TO|RIGHT
opri PRI opri 3 TO|RIGHT
osz SZ nop 2 PO|RIGHT
oublk OUBLK nop 5 AN|RIGHT
oublock OUBLK nop 5 AN|RIGHT
ouid OWNER sd 5 ET|LEFT
p_ru P_RU nop 6 AN|RIGHT
paddr PADDR nop 6 AN|RIGHT
pagein PAGEIN zero 6 AN|RIGHT
pcpu %CPU pcpu 4 ET|RIGHT
pending PENDING sig 9 ET|SIGNAL
pgid PGID pgid 5 PO|PIDMAX|RIGHT
pgrp PGRP pgid 5 PO|PIDMAX|RIGHT
pid PID pid 5 PO|PIDMAX|RIGHT
pidns PIDNS ns 10 ET|RIGHT
pmem %MEM pmem 4 PO|RIGHT
poip - nop 1 AN|RIGHT
policy POL class 3 TO|LEFT
ppid PPID ppid 5 PO|PIDMAX|RIGHT
pri PRI pri 3 TO|RIGHT
pri_api API pri_api 3 TO|RIGHT
pri_bar BAR pri_bar 3 TO|RIGHT
pri_baz BAZ pri_baz 3 TO|RIGHT
pri_foo FOO pri_foo 3 TO|RIGHT
priority PRI priority 3 TO|RIGHT
prmgrp PRMGRP nop 12 PO|RIGHT
prmid PRMID nop 12 PO|RIGHT
project PROJECT nop 12 PO|LEFT
projid PROJID nop 5 PO|RIGHT
pset PSET nop 4 TO|RIGHT
psr PSR psr 3 TO|RIGHT
pss PSS unknown 5 PO|RIGHT
psxpri PPR nop 3 TO|RIGHT
rbytes RBYTES zero 5 TO|RIGHT
rchars RCHARS zero 5 TO|RIGHT
re RE nop 3 AN|RIGHT
resident RES nop 5 PO|RIGHT
rgid RGID gid 5 ET|RIGHT
rgroup RGROUP group 8 ET|USER
rlink RLINK nop 8 AN|RIGHT
rops ROPS zero 5 TO|RIGHT
rss RSS rss 5 PO|RIGHT
rssize RSS rss 5 PO|RIGHT
rsz RSZ rss 5 PO|RIGHT
rtprio RTPRIO rtprio 6 TO|RIGHT
ruid RUID uid 5 ET|RIGHT
ruser RUSER user 8 ET|USER
s S s 1 TO|LEFT
sched SCH sched 3 TO|RIGHT
scnt SCNT nop 4 AN|RIGHT
scount SC nop 4 AN|RIGHT
seat SEAT sd 11 ET|LEFT
sess SESS sess 5 PO|PIDMAX|RIGHT
session SESS sess 5 PO|PIDMAX|RIGHT
sgi_p P sgi_p 1 TO|RIGHT
sgi_rss RSS rss 4 PO|LEFT
sgid SGID gid 5 ET|RIGHT
sgroup SGROUP group 8 ET|USER
share - nop 1 PO|RIGHT
sid SID sess 5 PO|PIDMAX|RIGHT
sig PENDING sig 9 ET|SIGNAL
sig_block BLOCKED sigmask 9 TO|SIGNAL
sig_catch CATCHED sigcatch 9 TO|SIGNAL
sig_ignore IGNORED sigignore 9 TO|SIGNAL
sig_pend SIGNAL sig 9 ET|SIGNAL
sigcatch CAUGHT sigcatch 9 TO|SIGNAL
sigignore IGNORED sigignore 9 TO|SIGNAL
sigmask BLOCKED sigmask 9 TO|SIGNAL
size SIZE unknown 5 PO|RIGHT
sl SL nop 3 AN|RIGHT
slice SLICE sd 31 ET|LEFT
spid SPID pid 5 TO|PIDMAX|RIGHT
stackp STACKP unknown 16 PO|RIGHT
start STARTED start 8 ET|RIGHT
start_code S_CODE nop 16 PO|RIGHT
start_stack STACKP unknown 16 PO|RIGHT
start_time START stime 5 ET|RIGHT
stat STAT stat 4 TO|LEFT
state S s 1 TO|LEFT
status STATUS nop 6 AN|RIGHT
stime STIME stime 5 ET|RIGHT
suid SUID uid 5 ET|RIGHT
supgid SUPGID unknown 20 PO|UNLIMITED
supgrp SUPGRP unknown 40 PO|UNLIMITED
suser SUSER user 8 ET|USER
svgid SVGID gid 5 ET|RIGHT
svgroup SVGROUP group 8 ET|USER
svuid SVUID uid 5 ET|RIGHT
svuser SVUSER user 8 ET|USER
systime SYSTEM nop 6 ET|RIGHT
sz SZ sz 5 PO|RIGHT
taskid TASKID nop 5 TO|PIDMAX|RIGHT
tdev TDEV nop 4 AN|RIGHT
tgid TGID pid 5 PO|PIDMAX|RIGHT
thcount THCNT nlwp 5 PO|RIGHT
tid TID pid 5 TO|PIDMAX|RIGHT
time TIME time 8 ET|RIGHT
timens TIMENS ns 10 ET|RIGHT
timeout TMOUT nop 5 AN|RIGHT
times TIME times 8 ET|RIGHT
tmout TMOUT nop 5 AN|RIGHT
tname TTY tty8 8 PO|LEFT
tpgid TPGID tpgid 5 PO|PIDMAX|RIGHT
trs TRS unknown 4 PO|RIGHT
trss TRSS unknown 4 PO|RIGHT
tsess TSESS nop 5 PO|PIDMAX|RIGHT
tsession TSESS nop 5 PO|PIDMAX|RIGHT
tsid TSID nop 5 PO|PIDMAX|RIGHT
tsig PENDING sig 9 ET|SIGNAL
tsiz TSIZ unknown 4 PO|RIGHT
tt TT tty8 8 PO|LEFT
tty TT tty8 8 PO|LEFT
tty4 TTY tty4 4 PO|LEFT
tty8 TTY tty8 8 PO|LEFT
u_procp UPROCP nop 6 AN|RIGHT
ucmd CMD comm 15 PO|UNLIMITED
ucomm COMMAND comm 15 PO|UNLIMITED
uid UID uid 5 ET|RIGHT
uid_hack UID user 8 ET|USER
umask UMASK nop 5 AN|RIGHT
uname USER user 8 ET|USER
unit UNIT sd 31 ET|LEFT
upr UPR nop 3 TO|RIGHT
uprocp UPROCP nop 8 AN|RIGHT
user USER user 8 ET|USER
userns USERNS ns 10 ET|RIGHT
usertime USER nop 4 ET|RIGHT
usrpri UPR nop 3 TO|RIGHT
uss USS unknown 5 PO|RIGHT
util C c 2 ET|RIGHT
utime UTIME nop 6 ET|RIGHT
utsns UTSNS ns 10 ET|RIGHT
uunit UUNIT sd 31 ET|LEFT
vm_data DATA nop 5 PO|RIGHT
vm_exe EXE nop 5 PO|RIGHT
vm_lib LIB nop 5 PO|RIGHT
vm_lock LCK nop 3 PO|RIGHT
vm_stack STACK nop 5 PO|RIGHT
vsize VSZ vsz 6 PO|RIGHT
vsz VSZ vsz 6 PO|RIGHT
wbytes WBYTES zero 5 TO|RIGHT
wcbytes WCBYTES zero 5 TO|RIGHT
wchan WCHAN wchan 6 TO|WCHAN
wchars WCHARS zero 5 TO|RIGHT
wname WCHAN wchan 6 TO|WCHAN
wops WOPS zero 5 TO|RIGHT
xstat XSTAT nop 5 AN|RIGHT
zone ZONE context 31 ET|LEFT
zoneid ZONEID nop 31 ET|RIGHT
"""


def _load_table() -> dict[str, _Spec]:
    table = {}
    for line in _TABLE_TEXT.strip().splitlines():
        spec, head, pr, width, flags = line.split()
        parts = flags.split("|")
        table[spec] = _Spec(spec, head, pr, int(width), _JUST[parts[-1]],
                            _PRINT[parts[0]], "PIDMAX" in parts)
    return table


_FORMATS: Final = _load_table()

#: Macro formats (output.c macro_array[]): named lists of specifiers.
_MACROS: Final = {
    "DFMT": "pid,tname,state,cputime,cmd",
    "DefBSD": "pid,tname,stat,bsdtime,args",
    "DefSysV": "pid,tname,time,cmd",
    "END_BSD": "state,tname,cputime,comm",
    "END_SYS5": "state,tname,time,command",
    "F5FMT": "uname,pid,ppid,c,start,tname,time,cmd",
    "FB_": "pid,tt,stat,time,command",
    "FB_j": "user,pid,ppid,pgid,sess,jobc,stat,tt,time,command",
    "FB_l": "uid,pid,ppid,cpu,pri,nice,vsz,rss,wchan,stat,tt,time,command",
    "FB_u": "user,pid,pcpu,pmem,vsz,rss,tt,stat,start,time,command",
    "FB_v": "pid,stat,time,sl,re,pagein,vsz,rss,lim,tsiz,pcpu,pmem,command",
    "FD_": "pid,tty,time,comm",
    "FD_f": "user,pid,ppid,start_time,tty,time,comm",
    "FD_fj": "user,pid,ppid,start_time,tty,time,pgid,sid,comm",
    "FD_j": "pid,tty,time,pgid,sid,comm",
    "FD_l": "flags,state,uid,pid,ppid,priority,nice,vsz,wchan,tty,time,comm",
    "FD_lj": "flags,state,uid,pid,ppid,priority,nice,vsz,wchan,tty,time,pgid,sid,comm",
    "FL5FMT": "f,state,uid,pid,ppid,pcpu,pri,nice,rss,wchan,start,time,command",
    "FLASK_context": "pid,context,command",
    "HP_": "pid,tty,time,comm",
    "HP_f": "user,pid,ppid,cpu,stime,tty,time,args",
    "HP_fl": "flags,state,user,pid,ppid,cpu,intpri,nice,addr,sz,wchan,stime,tty,time,args",
    "HP_l": "flags,state,uid,pid,ppid,cpu,intpri,nice,addr,sz,wchan,tty,time,comm",
    "J390": "pid,sid,pgrp,tname,atime,args",
    "JFMT": "user,pid,ppid,pgid,sess,jobc,state,tname,cputime,command",
    "L5FMT": "f,state,uid,pid,ppid,c,pri,nice,addr,sz,wchan,tt,time,ucmd",
    "LFMT": "uid,pid,ppid,cp,pri,nice,vsz,rss,wchan,state,tname,cputime,command",
    "OL_X": "pid,start_stack,esp,eip,timeout,alarm,stat,tname,bsdtime,args",
    "OL_j": "ppid,pid,pgid,sid,tname,tpgid,stat,uid,bsdtime,args",
    "OL_l": "flags,uid,pid,ppid,priority,nice,vsz,rss,wchan,stat,tname,bsdtime,args",
    "OL_m": "pid,tname,majflt,minflt,m_trs,m_drs,m_size,m_swap,rss,m_share,vm_lib,m_dt,args",
    "OL_s": "uid,pid,pending,sig_block,sig_ignore,caught,stat,tname,bsdtime,args",
    "OL_u": "user,pid,pcpu,pmem,vsz,rss,tname,stat,start_time,bsdtime,args",
    "OL_v": "pid,tname,stat,bsdtime,maj_flt,m_trs,m_drs,rss,pmem,args",
    "RD_": "pid,tname,state,bsdtime,comm",
    "RD_f": "uid,pid,ppid,start_time,tname,bsdtime,args",
    "RD_fj": "uid,pid,ppid,start_time,tname,bsdtime,pgid,sid,args",
    "RD_j": "pid,tname,state,bsdtime,pgid,sid,comm",
    "RD_l": "flags,state,uid,pid,ppid,priority,nice,wchan,tname,bsdtime,comm",
    "RD_lj": "flags,state,uid,pid,ppid,priority,nice,wchan,tname,bsdtime,pgid,sid,comm",
    "RUSAGE": "minflt,majflt,nswap,inblock,oublock,msgsnd,msgrcv,nsigs,nvcsw,nivcsw",
    "SCHED": "user,pcpu,pri,usrpri,nice,psxpri,psr,policy,pset",
    "SFMT": "uid,pid,cursig,sig,sigmask,sigignore,sigcatch,stat,tname,command",
    "Std_f": "uid_hack,pid,ppid,c,stime,tname,time,cmd",
    "Std_fl": "f,s,uid_hack,pid,ppid,c,opri,ni,addr,sz,wchan,stime,tname,time,cmd",
    "Std_l": "f,s,uid,pid,ppid,c,opri,ni,addr,sz,wchan,tname,time,ucmd",
    "THREAD": "user,pcpu,pri,scnt,wchan,usertime,systime",
    "UFMT": "uname,pid,pcpu,pmem,vsz,rss,tt,state,start,time,command",
    "VFMT": "pid,tt,state,time,sl,pagein,vsz,rss,pcpu,pmem,command",
}

#: AIX format descriptors (``-o "%p %c"``): letter -> (spec, header).
_AIX_CODES: Final = {
    "C": ("pcpu", "%CPU"), "G": ("group", "GROUP"), "P": ("ppid", "PPID"),
    "U": ("user", "USER"), "a": ("args", "COMMAND"), "c": ("comm", "COMMAND"),
    "g": ("rgroup", "RGROUP"), "n": ("nice", "NI"), "p": ("pid", "PID"),
    "r": ("pgid", "PGID"), "t": ("etime", "ELAPSED"), "u": ("ruser", "RUSER"),
    "x": ("time", "TIME"), "y": ("tty", "TTY"), "z": ("vsz", "VSZ"),
}

#: Short sort codes (``O`` option): letter -> specifier.
_SHORT_SORT: Final = {
    "C": "pcpu", "G": "tpgid", "J": "cstime", "M": "maj_flt", "N": "cmaj_flt",
    "P": "ppid", "R": "resident", "S": "share", "T": "start_time", "U": "uid",
    "c": "cmd", "f": "flags", "g": "pgrp", "j": "cutime", "k": "utime",
    "m": "min_flt", "n": "cmin_flt", "o": "session", "p": "pid", "r": "rss",
    "s": "size", "t": "tty", "u": "user", "v": "vsize", "y": "priority",
}

# --- option state bits (common.h) ---------------------------------------------

_SS_B_x, _SS_B_g, _SS_B_a, _SS_U_d, _SS_U_a = 0x01, 0x02, 0x04, 0x08, 0x10
_FF_Uf, _FF_Uj, _FF_Ul, _FF_Bj, _FF_Bl, _FF_Bs, _FF_Bu, _FF_Bv, _FF_LX, _FF_Lm, _FF_Fc = (
    1 << i for i in range(11))
_FM_c, _FM_j, _FM_y, _FM_L, _FM_P, _FM_T, _FM_F, _FM_M = (1 << i for i in range(8))
_TF_B_H, _TF_B_m, _TF_U_m, _TF_U_T, _TF_U_L = 0x1, 0x2, 0x4, 0x8, 0x10
_TF_show_proc, _TF_show_task, _TF_show_both, _TF_loose_tasks, _TF_must_use = (
    0x100, 0x200, 0x400, 0x800, 0x1000)
_HEAD_SINGLE, _HEAD_NONE, _HEAD_MULTI = 0, 1, 2
# Selection list types.
_SEL_RUID, _SEL_EUID, _SEL_RGID, _SEL_EGID, _SEL_PGRP, _SEL_PID, _SEL_PID_QUICK = range(7)
_SEL_PPID, _SEL_TTY, _SEL_SESS, _SEL_COMM = range(7, 11)
# Deferred sort/format options.
_SF_U_O, _SF_U_o, _SF_B_O, _SF_B_o, _SF_B_m, _SF_G_sort, _SF_G_format = range(7)


class _PsError(Exception):
    """An option error: ``error: MESSAGE`` and the usage, status 1."""


class _PsExit(Exception):
    """ps stops early (help, version, L, a conflict message)."""

    def __init__(self, status: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.stdout = stdout
        self.stderr = stderr


# --- help (help.c) --------------------------------------------------------------

_HELP_SECTIONS: Final = {
    "simple": """
Basic options:
 -A, -e               all processes
 -a                   all with tty, except session leaders
  a                   all with tty, including other users
 -d                   all except session leaders
 -N, --deselect       negate selection
  r                   only running processes
  T                   all processes on this terminal
  x                   processes without controlling ttys
""",
    "list": """
Selection by list:
 -C <command>         command name
 -G, --Group <GID>    real group id or name
 -g, --group <group>  session or effective group name
 -p, p, --pid <PID>   process id
        --ppid <PID>  parent process id
 -q, q, --quick-pid <PID>
                      process id (quick mode)
 -s, --sid <session>  session id
 -t, t, --tty <tty>   terminal
 -u, U, --user <UID>  effective user id or name
 -U, --User <UID>     real user id or name

  The selection options take as their argument either:
    a comma-separated list e.g. '-u root,nobody' or
    a blank-separated list e.g. '-p 123 4567'
""",
    "output": """
Output formats:
 -F                   extra full
 -f                   full-format, including command lines
  f, --forest         ascii art process tree
 -H                   show process hierarchy
 -j                   jobs format
  j                   BSD job control format
 -l                   long format
  l                   BSD long format
 -M, Z                add security data (for SELinux)
 -O <format>          preloaded with default columns
  O <format>          as -O, with BSD personality
 -o, o, --format <format>
                      user-defined format
  -P                  add psr column
  s                   signal format
  u                   user-oriented format
  v                   virtual memory format
  X                   register format
 -y                   do not show flags, show rss vs. addr (used with -l)
     --context        display security context (for SELinux)
     --headers        repeat header lines, one per page
     --no-headers     do not print header at all
     --cols, --columns, --width <num>
                      set screen width
     --rows, --lines <num>
                      set screen height
""",
    "threads": """
Show threads:
  H                   as if they were processes
 -L                   possibly with LWP and NLWP columns
 -m, m                after processes
 -T                   possibly with SPID column
""",
    "misc": """
Miscellaneous options:
 -c                   show scheduling class with -l option
  c                   show true command name
  e                   show the environment after command
  k,    --sort        specify sort order as: [+|-]key[,[+|-]key[,...]]
  L                   show format specifiers
  n                   display numeric uid and wchan
  S,    --cumulative  include some dead child process data
 -y                   do not show flags, show rss (only with -l)
 -V, V, --version     display version information and exit
 -w, w                unlimited output width

        --help <simple|list|output|threads|misc|all>
                      display help and exit
""",
}
_HELP_ABBREV: Final = {"s": "simple", "l": "list", "o": "output", "t": "threads",
                       "m": "misc", "a": "all"}


def _help_text(opt: str | None) -> str:
    """``do_help()``: the usage, with the section *opt* asks for."""
    section = opt if opt in _HELP_SECTIONS or opt == "all" else _HELP_ABBREV.get(opt or "")
    text = "\nUsage:\n ps [options]\n"
    if section is None:
        text += ("\n Try 'ps --help <simple|list|output|threads|misc|all>'\n"
                 "  or 'ps --help <s|l|o|t|m|a>'\n for additional help text.\n")
    else:
        for name, body in _HELP_SECTIONS.items():
            if section in (name, "all"):
                text += body
    return text + "\nFor more details see ps(1).\n"


# --- small C-like helpers -----------------------------------------------------------


def _c_strto(s: str) -> int | None:
    """C ``strtol``/``strtoul`` with base 0 (``0x`` hex, leading ``0`` octal)
    that must consume all of *s*: the (unbounded) value, None on trailing junk."""
    i, n = 0, len(s)
    while i < n and s[i] in " \t\n\v\f\r":
        i += 1
    neg = False
    if i < n and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    base, valid = 10, "0123456789"
    if s[i:i + 2] in ("0x", "0X") and s[i + 2:i + 3] and s[i + 2] in "0123456789abcdefABCDEF":
        base, valid = 16, "0123456789abcdefABCDEF"
        i += 2
    elif s[i:i + 1] == "0":
        base, valid = 8, "01234567"
    j = i
    while j < n and s[j] in valid:
        j += 1
    if j == i:  # no digits: the end pointer stays at the start
        return 0 if s == "" else None
    if j != n:
        return None
    value = int(s[i:j], base)
    return -value if neg else value


def _strtoul(s: str) -> int | None:
    """C ``strtoul(s, &end, 0)`` that must consume all of *s*."""
    value = _c_strto(s)
    if value is None:
        return None
    if value < 0:
        return max(0, (1 << 64) + value) if -value < (1 << 64) else (1 << 64) - 1
    return min(value, (1 << 64) - 1)


def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _escape(text: str, maxcells: int) -> str:
    """``escape_str()`` in a UTF-8 locale: unprintable characters become
    ``?``; stop before *maxcells* screen cells are exceeded."""
    out = []
    cells = 0
    for ch in text:
        if cells >= maxcells:
            break
        if ord(ch) < 128 or not ch.isprintable():
            out.append(ch if " " <= ch <= "~" else "?")
            cells += 1
            continue
        w = _char_cells(ch)
        if w > maxcells - cells:
            break
        out.append(ch)
        cells += w
    return "".join(out)


def _cells(text: str) -> int:
    return sum(_char_cells(ch) if ord(ch) >= 128 else 1 for ch in text)


def _ctime(t: int) -> str:
    """C ``ctime()`` without the newline: ``Thu Jan  5 10:23:45 2024``."""
    tm = time.localtime(t)
    return (f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}")


# --- formatting nodes and the per-task view -----------------------------------------


@dataclass
class _Node:
    """One output column (procps ``format_node``)."""

    name: str
    width: int
    just: int
    pflag: int
    pr: str | None   # None: literal AIX text
    spec: str = ""


def _node(spec: _Spec, override: str | None) -> _Node:
    """``do_one_spec()`` for a plain specifier."""
    w1 = max(_PID_LENGTH, len(spec.head)) if spec.pidmax else spec.width
    if override is not None:
        return _Node(override, max(w1, len(override.encode())), spec.just, spec.pflag,
                     spec.pr, spec.spec)
    return _Node(spec.head, w1, spec.just, spec.pflag, spec.pr, spec.spec)


def _one_spec(name: str, override: str | None = None) -> list[_Node] | None:
    """Nodes for a specifier or macro, in display order; None if unknown."""
    spec = _FORMATS.get(name)
    if spec is not None:
        return [_node(spec, override)]
    macro = _MACROS.get(name)
    if macro is not None:
        return [_node(_FORMATS[s], override) for s in macro.split(",")]
    return None


@dataclass
class _View:
    """What ps reads about one task, with the ids procfs does not carry."""

    t: TaskStat
    pgid: int
    sid: int
    tpgid: int

    @classmethod
    def of(cls, t: TaskStat) -> "_View":
        if t.kthread:
            return cls(t, 0, 0, -1)
        if t.pid == 1 or t.ppid == 0:
            return cls(t, t.pid, t.pid, -1)
        return cls(t, t.pid, t.ppid, t.pid if t.tty != "?" else -1)

    @property
    def cmdline(self) -> str:
        """PIDS_CMDLINE: the arguments, or ``[name]`` when there are none."""
        if self.t.cmdline:
            return " ".join(self.t.cmdline)
        text = f"[{self.t.name}]"
        return text + " <defunct>" if self.t.state == "Z" else text


@dataclass
class _Settings:
    """Everything the parser decides (procps's globals)."""

    all_processes: bool = False
    simple_select: int = 0
    negate: bool = False
    running_only: bool = False
    selections: list[tuple[int, list]] = field(default_factory=list)
    format_flags: int = 0
    format_modifiers: int = 0
    thread_flags: int = 0
    sf_list: list[tuple[int, str]] = field(default_factory=list)
    header_type: int = _HEAD_SINGLE
    prefer_bsd: bool = False
    unix_f: bool = False
    bsd_c: bool = False
    bsd_e: bool = False
    user_is_number: bool = False
    wchan_is_number: bool = False
    forest_type: str = ""
    w_count: int = 0
    screen_cols: int = _OUTBUF_SIZE
    screen_rows: int = _SCREEN_ROWS
    format_list: list[_Node] = field(default_factory=list)
    sort_list: list[tuple[str, int]] = field(default_factory=list)  # (spec, +1/-1/0)
    select_bits: int = 0


class _Parser:
    """procps ``arg_parse()``: first as UNIX options, then again forcing BSD."""

    def __init__(self, argv: list[str], caller_tty: str, known_ttys: set[str]) -> None:
        self.argv = argv
        self.caller_tty = caller_tty
        self.known_ttys = known_ttys

    def parse(self) -> _Settings:
        err = self._attempt(force_bsd=False)
        if isinstance(err, _Settings):
            return err
        second = self._attempt(force_bsd=True)
        if isinstance(second, _Settings):
            return second
        raise _PsError(err)

    def _attempt(self, force_bsd: bool) -> _Settings | str:
        self.s = _Settings(prefer_bsd=force_bsd)
        self.force_bsd = force_bsd
        self.old_m = force_bsd  # the BSD retry prefers old Linux "m"
        self.errbuf = ""
        for step in (self._parse_all, self._thread_check, self._process_sf,
                     self._select_setup):
            err = step()
            if err:
                return err
        return self.s

    # -- the argument loop -------------------------------------------------

    def _parse_all(self) -> str | None:
        self.i = 0
        while self.i < len(self.argv):
            arg = self.argv[self.i]
            kind = _arg_type(arg)
            if kind == "gnu":
                err = self._gnu()
            elif kind == "sysv" and not self.force_bsd:
                err = self._sysv()
            elif kind == "bsd" and self.force_bsd:
                return "way bad"
            elif kind in ("sysv", "bsd"):
                self.s.prefer_bsd = True
                err = self._bsd()
            elif kind in ("pid", "pgrp", "sess"):
                self.s.prefer_bsd = True
                err = self._trailing_pids()
            else:
                return "garbage option"
            if err:
                return err
            self.i += 1
        return None

    def _opt_arg(self, pos: int) -> str | None:
        """``get_opt_arg()``: the rest of this word, else the next word."""
        arg = self.argv[self.i]
        if pos + 1 < len(arg):
            return arg[pos + 1:]
        if self.i + 1 >= len(self.argv) or self.argv[self.i + 1] == "":
            return None
        self.i += 1
        return self.argv[self.i]

    def _exclusive(self, word: str) -> str | None:
        if len(self.argv) != 1 or self.argv[0] != word:
            return f"the option is exclusive: {word}"
        return None

    def _sysv(self) -> str | None:
        s = self.s
        arg = self.argv[self.i]
        for pos in range(1, len(arg)):
            c = arg[pos]
            if c in "AeN":
                if c == "N":
                    s.negate = True
                else:
                    s.all_processes = True
            elif c in "CGUgopqstu":
                value = self._opt_arg(pos)
                if value is None:
                    return {
                        "C": "list of command names must follow -C",
                        "G": "list of real groups must follow -G",
                        "U": "list of real users must follow -U",
                        "g": "list of session leaders OR effective group names must follow -g",
                        "o": "format specification must follow -o",
                        "p": "list of process IDs must follow -p",
                        "q": "List of process IDs must follow -q.",
                        "s": "list of session IDs must follow -s",
                        "t": "list of terminals (pty, tty...) must follow -t",
                        "u": "list of users must follow -u",
                    }[c]
                if c == "o":
                    s.sf_list.append((_SF_U_o, value))
                    return None
                if c == "g":
                    if self._list(value, self._pid, _SEL_SESS) is None:
                        return None
                    if self._list(value, self._gid, _SEL_EGID) is None:
                        return None
                    return "list of session leaders OR effective group IDs was invalid"
                kind, fn = {"C": (_SEL_COMM, self._cmd), "G": (_SEL_RGID, self._gid),
                            "U": (_SEL_RUID, self._uid), "p": (_SEL_PID, self._pid),
                            "q": (_SEL_PID_QUICK, self._pid), "s": (_SEL_SESS, self._pid),
                            "t": (_SEL_TTY, self._tty), "u": (_SEL_EUID, self._uid)}[c]
                return self._list(value, fn, kind)
            elif c == "O":
                value = self._opt_arg(pos)
                if value is None:
                    return "format or sort specification must follow -O"
                s.sf_list.append((_SF_U_O, value))
                return None
            elif c == "F":
                s.format_modifiers |= _FM_F
                s.format_flags |= _FF_Uf
                s.unix_f = True
            elif c == "H":
                s.forest_type = "u"
            elif c == "L":
                s.thread_flags |= _TF_U_L
            elif c in "MZ":
                s.format_modifiers |= _FM_M
            elif c == "P":
                s.format_modifiers |= _FM_P
            elif c == "T":
                s.thread_flags |= _TF_U_T
            elif c == "V":
                err = self._exclusive("-V")
                if err:
                    return err
                raise _PsExit(0, VERSION_TEXT + "\n")
            elif c == "a":
                s.simple_select |= _SS_U_a
            elif c == "c":
                s.format_modifiers |= _FM_c
            elif c == "d":
                s.simple_select |= _SS_U_d
            elif c == "f":
                s.format_flags |= _FF_Uf
                s.unix_f = True
            elif c == "j":
                s.format_modifiers |= _FM_j
            elif c == "l":
                s.format_flags |= _FF_Ul
            elif c == "m":
                s.thread_flags |= _TF_U_m
            elif c == "w":
                s.w_count += 1
            elif c == "x":
                return "must set personality to get -x option"
            elif c == "y":
                s.format_modifiers |= _FM_y
            elif c == "-":
                return "embedded '-' among SysV options makes no sense"
            else:
                return "unsupported SysV option"
        return None

    def _bsd(self) -> str | None:
        s = self.s
        arg = self.argv[self.i]
        start = 1 if arg.startswith("-") else 0
        if not start and self.force_bsd:
            return "second chance parse failed, not BSD or SysV"
        for pos in range(start, len(arg)):
            c = arg[pos]
            if "0" <= c <= "9":
                return self._list(arg[pos:], self._pid, _SEL_PID)
            if c == "H":
                s.thread_flags |= _TF_B_H
            elif c == "L":
                err = self._exclusive("L")
                if err:
                    return err
                raise _PsExit(0, "".join(f"{spec:<12.12} {f.head:<8.8}\n"
                                         for spec, f in _FORMATS.items() if f.pr != "nop"))
            elif c == "M":
                s.thread_flags |= _TF_B_m
            elif c in "OUkopqt":
                value = self._opt_arg(pos)
                if value is None:
                    if c == "t":  # obsolete BSD syntax: my terminal
                        s.selections.append((_SEL_TTY, [self.caller_tty]))
                        return None
                    return {"O": "format or sort specification must follow O",
                            "U": "list of users must follow U",
                            "k": "long sort specification must follow 'k'",
                            "o": "format specification must follow o",
                            "p": "list of process IDs must follow p",
                            "q": "List of process IDs must follow q."}[c]
                if c == "O":
                    s.sf_list.append((_SF_B_O, value))
                    return None
                if c == "k":
                    s.sf_list.append((_SF_G_sort, value))
                    return None
                if c == "o":
                    s.sf_list.append((_SF_B_o, value))
                    return None
                kind, fn = {"U": (_SEL_EUID, self._uid), "p": (_SEL_PID, self._pid),
                            "q": (_SEL_PID_QUICK, self._pid), "t": (_SEL_TTY, self._tty)}[c]
                return self._list(value, fn, kind)
            elif c == "S":
                pass  # include dead children: none in the simulation
            elif c == "T":
                s.selections.append((_SEL_TTY, [self.caller_tty]))
            elif c == "V":
                err = self._exclusive("V")
                if err:
                    return err
                raise _PsExit(0, VERSION_TEXT + "\n")
            elif c == "W":
                return "obsolete W option not supported (you have a /dev/drum?)"
            elif c == "X":
                s.format_flags |= _FF_LX
            elif c == "Z":
                s.format_modifiers |= _FM_M
            elif c == "a":
                s.simple_select |= _SS_B_a
            elif c == "c":
                s.bsd_c = True
            elif c == "e":
                s.bsd_e = True
            elif c == "f":
                s.forest_type = "b"
            elif c == "g":
                s.simple_select |= _SS_B_g
            elif c == "h":
                if s.header_type != _HEAD_SINGLE:
                    return "only one heading option may be specified"
                s.header_type = _HEAD_NONE
            elif c == "j":
                s.format_flags |= _FF_Bj
            elif c == "l":
                s.format_flags |= _FF_Bl
            elif c == "m":
                if self.old_m:
                    s.format_flags |= _FF_Lm
                else:
                    s.thread_flags |= _TF_B_m
            elif c == "n":
                s.wchan_is_number = True
                s.user_is_number = True
            elif c == "r":
                s.running_only = True
            elif c == "s":
                s.format_flags |= _FF_Bs
            elif c == "u":
                s.format_flags |= _FF_Bu
            elif c == "v":
                s.format_flags |= _FF_Bv
            elif c == "w":
                s.w_count += 1
            elif c == "x":
                s.simple_select |= _SS_B_x
            elif c == "-":
                return "embedded '-' among BSD options makes no sense"
            else:
                return "unsupported option (BSD syntax)"
        return None

    def _gnu(self) -> str | None:
        s = self.s
        word = self.argv[self.i][2:]
        cut = min([p for p in (word.find(":"), word.find("=")) if p >= 0], default=len(word))
        if cut > 15:
            return "unknown gnu long option"
        name, rest = word[:cut], word[cut:]

        def value() -> str | None:  # grab_gnu_arg()
            if rest:
                return rest[1:] or None
            if self.i + 1 >= len(self.argv) or self.argv[self.i + 1] == "":
                return None
            self.i += 1
            return self.argv[self.i]

        lists = {"Group": (_SEL_RGID, self._gid, "list of real groups must follow --Group"),
                 "User": (_SEL_RUID, self._uid, "list of real users must follow --User"),
                 "group": (_SEL_EGID, self._gid, "list of effective groups must follow --group"),
                 "pid": (_SEL_PID, self._pid, "list of process IDs must follow --pid"),
                 "ppid": (_SEL_PPID, self._pid, "list of process IDs must follow --ppid"),
                 "quick-pid": (_SEL_PID_QUICK, self._pid,
                               "List of process IDs must follow --quick-pid."),
                 "sid": (_SEL_SESS, self._pid, "some sid thing(s) must follow --sid"),
                 "tty": (_SEL_TTY, self._tty, "list of ttys must follow --tty"),
                 "user": (_SEL_EUID, self._uid, "list of effective users must follow --user")}
        if name in lists:
            kind, fn, missing = lists[name]
            v = value()
            if v is None:
                return missing
            return self._list(v, fn, kind)
        if name in ("cols", "width", "columns", "rows", "lines"):
            v = value()
            n = _c_strto(v) if v else None
            if n is not None and 0 < n < 2000000000:
                if name in ("rows", "lines"):
                    s.screen_rows = n
                else:
                    s.screen_cols = n
                return None
            if name in ("rows", "lines"):
                return "number of rows must follow --rows or --lines"
            return "number of columns must follow --cols, --width, or --columns"
        if name == "cumulative":
            return "option --cumulative does not take an argument" if rest else None
        if name == "deselect":
            if rest:
                return "option --deselect does not take an argument"
            s.negate = True
            return None
        if name in ("no-header", "no-headers", "no-heading", "no-headings", "noheader",
                    "noheaders", "noheading", "noheadings", "header", "headers",
                    "heading", "headings"):
            none = name.startswith("no")
            if rest:
                return f"option --{'no-heading' if none else 'heading'} does not take an argument"
            if s.header_type != _HEAD_SINGLE:
                return "only one heading option may be specified"
            s.header_type = _HEAD_NONE if none else _HEAD_MULTI
            return None
        if name == "forest":
            if rest:
                return "option --forest does not take an argument"
            s.forest_type = "g"
            return None
        if name in ("format", "sort"):
            v = value()
            if v is None:
                return ("format specification must follow --format" if name == "format"
                        else "long sort specification must follow --sort")
            s.sf_list.append((_SF_G_format if name == "format" else _SF_G_sort, v))
            return None
        if name == "context":
            s.format_flags |= _FF_Fc
            return None
        if name == "version":
            err = self._exclusive("--version")
            if err:
                return err
            raise _PsExit(0, VERSION_TEXT + "\n")
        if name == "help":
            raise _PsExit(0, _help_text(value()))
        return "unknown gnu long option"

    def _trailing_pids(self) -> str | None:
        pids: list[int] = []
        pgrps: list[int] = []
        sessions: list[int] = []
        for word in self.argv[self.i:]:
            target, text = (pgrps, word[1:]) if word[:1] == "-" else (
                (sessions, word[1:]) if word[:1] == "+" else (pids, word))
            err, value = self._pid(text)
            if err:
                return err
            target.append(value)
        self.i = len(self.argv) - 1
        for kind, values in ((_SEL_PID, pids), (_SEL_PGRP, pgrps), (_SEL_SESS, sessions)):
            if values:
                self.s.selections.append((kind, values))
        return None

    # -- lists ---------------------------------------------------------------

    def _list(self, arg: str, fn: Callable[[str], tuple[str | None, object]],
              kind: int) -> str | None:
        """``parse_list()``: items separated by blanks or commas."""
        items = arg.replace("\t", " ").replace(",", " ").split(" ")
        if not arg or any(item == "" for item in items):
            return "improper list"
        values = []
        for item in items:
            err, value = fn(item)
            if err:
                return err
            values.append(value)
        self.s.selections.append((kind, values))
        return None

    def _pid(self, text: str) -> tuple[str | None, int]:
        num = _strtoul(text)
        if num is None:
            return "process ID list syntax error", 0
        if num < 1 or num > 0x7FFFFFFF:
            return "process ID out of range", 0
        return None, num

    def _uid(self, text: str) -> tuple[str | None, int]:
        return self._id(text, _USERS, "user name does not exist", "user ID out of range")

    def _gid(self, text: str) -> tuple[str | None, int]:
        return self._id(text, _GROUPS, "group name does not exist", "group ID out of range")

    def _id(self, text: str, names: dict[str, int], unknown: str,
            out_of_range: str) -> tuple[str | None, int]:
        num = _strtoul(text)
        if num is None:
            if text in names:
                num = names[text]
            elif not self.s.negate:
                return unknown, 0
            else:
                num = 0xFFFFFFFF
        if not self.s.negate and num > 0xFFFFFFFE:
            return out_of_range, 0
        return None, num & 0xFFFFFFFF

    @staticmethod
    def _cmd(text: str) -> tuple[str | None, str]:
        return None, text[:63]

    def _tty(self, text: str) -> tuple[str | None, str]:
        """``parse_tty()``: the terminals the simulated /dev has."""
        if text.startswith("/"):
            name = text[5:] if text.startswith("/dev/") else None
            if name is None or name not in self.known_ttys:
                return "TTY could not be found", ""
            return None, name
        for candidate in (f"pts/{text}", text, f"tty{text}", f"pty{text}", f"{text}nsole"):
            if candidate in self.known_ttys:
                return None, candidate
        if text in ("-", "?"):
            return None, "?"
        return "TTY could not be found", ""

    # -- after the loop -------------------------------------------------------

    def _thread_check(self) -> str | None:
        s = self.s
        tf = s.thread_flags
        if not tf:
            s.thread_flags = _TF_show_proc
            return None
        if s.forest_type:
            return "thread display conflicts with forest display"
        if tf & _TF_B_H and tf & (_TF_B_m | _TF_U_m):
            return "thread flags conflict; can't use H with m or -m"
        if tf & _TF_B_m and tf & _TF_U_m:
            return "thread flags conflict; can't use both m and -m"
        if tf & _TF_U_L and tf & _TF_U_T:
            return "thread flags conflict; can't use both -L and -T"
        if tf & _TF_B_H:
            tf |= _TF_show_proc | _TF_loose_tasks
        if tf & (_TF_B_m | _TF_U_m):
            tf |= _TF_show_proc | _TF_show_task | _TF_show_both
        if tf & (_TF_U_T | _TF_U_L):
            if tf & (_TF_B_m | _TF_U_m | _TF_B_H):
                tf |= _TF_must_use
            else:
                tf |= _TF_show_task
        s.thread_flags = tf
        return None

    def _process_sf(self) -> str | None:
        """``process_sf_options()``: formats and sort orders, then the defaults."""
        s = self.s
        self.parsed_format = self.parsed_sort = False
        self.have_gnu_sort = any(code == _SF_G_sort for code, _ in s.sf_list)
        formats: list[_Node] = []
        sorts: list[tuple[str, int]] = []
        for code, text in s.sf_list:
            err = self._parse_o(code, text, formats, sorts)
            if err:
                return err
        s.sort_list = sorts
        if formats:
            if s.format_flags:
                return "conflicting format options"
            if s.format_modifiers:
                return "can not use output modifiers with user-defined output"
            if s.thread_flags & _TF_must_use:
                return "-L/-T with H/m/-m and -o/-O/o/O is nonsense"
            s.format_list = formats
            return None
        spec = {0: None, _FF_Uf | _FF_Ul: None, _FF_Uf: None, _FF_Ul: None,
                _FF_Bj: "OL_j", _FF_Bl: "OL_l", _FF_Bs: "OL_s", _FF_Bu: "OL_u",
                _FF_Bv: "OL_v", _FF_LX: "OL_X", _FF_Lm: "OL_m",
                _FF_Fc: "FLASK_context"}
        if s.format_flags not in spec:
            return "conflicting format options"
        macro = spec[s.format_flags]
        if macro is None:
            return self._sysv_list()
        fl = _one_spec(macro) or []
        mods = s.format_modifiers

        def add_after(after: str, new: list[_Node]) -> bool:
            for k, node in enumerate(fl):
                if node.name == after:
                    fl[k + 1:k + 1] = new
                    return True
            return False

        def delete(name: str) -> bool:
            for k, node in enumerate(fl):
                if node.name == name:
                    del fl[k]
                    return True
            return False

        if mods & _FM_j:
            if not add_after("PPID", _one_spec("pgid") or []):
                if not add_after("PID", _one_spec("pgid") or []):
                    return "internal error: no PID or PPID for -j option"
            if not add_after("PGID", _one_spec("sid") or []):
                return "lost my PGID"
        if mods & _FM_y:
            delete("F")
            if add_after("ADDR", _one_spec("rss") or []):
                delete("ADDR")
        if mods & _FM_c:
            for name in ("%CPU", "CPU", "CP", "C", "NI"):
                delete(name)
            if not add_after("PRI", _one_spec("class") or []):
                return "internal error: no PRI for -c option"
            delete("PRI")
            if not add_after("CLS", _one_spec("pri") or []):
                return "lost my CLS"
        if s.thread_flags & _TF_U_T:
            if not add_after("PID", _one_spec("spid") or []) and s.thread_flags & _TF_must_use:
                return "-T with H/-m/m but no PID for SPID to follow"
        if s.thread_flags & _TF_U_L:
            if not any(add_after(n, _one_spec("lwp") or [])
                       for n in ("SID", "SESS", "PGID", "PGRP", "PPID", "PID")):
                if s.thread_flags & _TF_must_use:
                    return "-L with H/-m/m but no PID/PGID/SID/SESS for NLWP to follow"
            add_after("%CPU", _one_spec("nlwp") or [])
        if mods & _FM_M:
            fl[0:0] = _one_spec("label") or []
        s.format_list = fl
        return None

    def _parse_o(self, code: int, text: str, formats: list[_Node],
                 sorts: list[tuple[str, int]]) -> str | None:
        """``parse_O_option()`` for one deferred option, in command-line order."""
        if code in (_SF_B_o, _SF_G_format, _SF_U_o):
            err, nodes = self._format_parse(text)
            if err:
                return err
            formats.extend(nodes)
            self.parsed_format = True
            return None
        if code == _SF_U_O:
            if self.parsed_format:
                return "option -O can not follow other format options"
            err, nodes = self._format_parse(text)
            if err:
                return err
            self.parsed_format = True
            formats.extend((_one_spec("pid") or []) + nodes + (_one_spec("END_SYS5") or []))
            return None
        if code == _SF_B_O:
            if self.have_gnu_sort or self.parsed_sort:
                serr: str | None = "multiple sort options"
            else:
                serr = _verify_short_sort(text, bool(self.s.forest_type))
            if not serr:
                keys = []
                direction = 1
                for ch in text:
                    if ch in "+-":
                        direction = 1 if ch == "+" else -1
                        continue
                    spec = _SHORT_SORT.get(ch)
                    if spec is None or spec not in _FORMATS:
                        break
                    keys.append((spec, direction))
                    direction = 0
                sorts.extend(keys)
                self.parsed_sort = True
                return None
            if self.parsed_format:
                return "option O is neither first format nor sort order"
            ferr, nodes = self._format_parse(text)
            if not ferr:
                self.parsed_format = True
                formats.extend((_one_spec("pid") or []) + nodes + (_one_spec("END_BSD") or []))
                return None
            return serr
        # _SF_G_sort / _SF_B_m
        if self.parsed_sort:
            return "multiple sort options"
        self.parsed_sort = True
        return _long_sort_parse(text, sorts)

    def _format_parse(self, text: str) -> tuple[str | None, list[_Node]]:
        """``format_parse()``: ``spec[:width][=header]`` items; AIX ``%x`` codes."""
        err, nodes = _format_list(text)
        if err is None:
            return None, nodes
        if err.startswith("unknown user-defined"):
            if not self.errbuf:
                self.errbuf = err
            err = self.errbuf
        if ("%" in text and text != "%cpu" and not text.startswith("%cpu ")
                and not text.startswith("%cpu,") and not text.startswith("%m")):
            return _aix_format(text)
        return err, []

    def _sysv_list(self) -> str | None:
        """``generate_sysv_list()``: the UNIX formats built column by column."""
        s = self.s
        ff, fm, tf = s.format_flags, s.format_modifiers, s.thread_flags
        if fm & _FM_y and not ff & _FF_Ul:
            return "modifier -y without format -l makes no sense"
        pushed: list[str] = []
        push = pushed.append
        if s.prefer_bsd:
            push("cmd" if ff else "args")
            push("bsdtime")
            if not ff & _FF_Ul:
                push("stat")
        else:
            push("cmd" if ff & _FF_Uf else "ucmd")
            push("time")
        push("tname")
        if ff & _FF_Uf:
            push("stime")
        if fm & _FM_F:
            if not fm & _FM_P:
                push("psr")
            if not (ff & _FF_Ul and fm & _FM_y):
                push("rss")
        if ff & _FF_Ul:
            push("wchan")
        if fm & _FM_F or ff & _FF_Ul:
            push("sz")
        if ff & _FF_Ul:
            push("rss" if fm & _FM_y else "addr_1")
        if fm & _FM_c:
            push("pri")
            push("class")
        elif ff & _FF_Ul:
            push("ni")
            push("opri")
        if tf & _TF_U_L and ff & _FF_Uf:
            push("nlwp")
        if ff & (_FF_Uf | _FF_Ul) and not fm & _FM_c:
            push("c")
        if fm & _FM_P:
            push("psr")
        if tf & _TF_U_L:
            push("lwp")
        if fm & _FM_j:
            push("sid")
            push("pgid")
        if ff & (_FF_Uf | _FF_Ul):
            push("ppid")
        if tf & _TF_U_T:
            push("spid")
        push("pid")
        if ff & _FF_Uf:
            push("uid_hack")
        elif ff & _FF_Ul:
            push("uid")
        if ff & _FF_Ul:
            push("s")
            if not fm & _FM_y:
                push("f")
        if fm & _FM_M:
            push("label")
        s.format_list = [_node(_FORMATS[name], None) for name in reversed(pushed)]
        return None

    def _select_setup(self) -> str | None:
        """``select_bits_setup()``: the table of the simple selections."""
        s = self.s
        if not s.simple_select and not s.prefer_bsd:
            s.select_bits = 0xAA00  # my euid on my terminal
            return None
        value = s.simple_select
        if not value & (_SS_U_a | _SS_U_d):
            value |= _SS_B_g
        bits = {_SS_U_a | _SS_U_d: 0x3F3F, _SS_U_a: 0x0303, _SS_U_d: 0x3333,
                _SS_B_g: 0x0A0A, _SS_B_g | _SS_B_a: 0x0F0F, _SS_B_g | _SS_B_x: 0xAAAA}
        if value == _SS_B_g | _SS_B_x | _SS_B_a:
            s.all_processes = True
            s.simple_select = 0
            return None
        if value not in bits:
            return "process selection options conflict"
        s.select_bits = bits[value]
        return None


def _arg_type(arg: str) -> str:
    """``arg_type()``: how procps classifies one command-line word."""
    c0 = arg[:1]
    if c0.isascii() and c0.isalpha():
        return "bsd"
    if "0" <= c0 <= "9" and c0:
        return "pid"
    if c0 == "+":
        return "sess"
    if c0 != "-":
        return "fail"
    c1 = arg[1:2]
    if c1.isascii() and c1.isalpha():
        return "sysv"
    if "0" <= c1 <= "9" and c1:
        return "pgrp"
    if c1 != "-":
        return "fail"
    c2 = arg[2:3]
    if c2.isascii() and c2.isalpha():
        return "gnu"
    return "end" if c2 == "" else "fail"


def _format_list(text: str) -> tuple[str | None, list[_Node]]:
    """The non-AIX part of ``format_parse()``."""
    seps = " ,\t\n"
    if not text:
        return "improper format list", []
    items: list[str] = []
    need = True
    for ch in text:
        if ch in seps:
            if need:
                return "improper format list", []
            need = True
        else:
            if need:
                items.append("")
            need = False
    if not items:
        return "empty format list", []
    if need:  # one trailing delimiter is allowed
        text = text[:-1]
    nodes: list[_Node] = []
    rest: str | None = text
    for k in range(len(items)):
        assert rest is not None
        cut = min([p for p in (rest.find(c) for c in seps) if p >= 0], default=-1)
        last = k == len(items) - 1
        if not last and cut >= 0:  # the last item's header may hold separators
            item, rest = rest[:cut], rest[cut + 1:]
        else:
            item, rest = rest, (rest[cut + 1:] if cut >= 0 else None)
        header = None
        if "=" in item:
            item, header = item.split("=", 1)
        width = None
        if ":" in item:
            item, width = item.split(":", 1)
            if not width.isdigit() or width.startswith("0") or not width.isascii():
                return "column widths must be unsigned decimal numbers", []
        new = _one_spec(item, header)
        if new is None:
            return f'unknown user-defined format specifier "{item}"', []
        if width is not None:
            if len(new) > 1:
                return "can not set width for a macro (multi-column) format specifier", []
            new[0].width = int(width)
        nodes.extend(new)
    return None, nodes


def _aix_format(text: str) -> tuple[str | None, list[_Node]]:
    """``aix_format_parse()``: ``%p``-style descriptors among literal text."""
    if text[:1] not in ("%", " "):
        return "improper AIX field descriptor", []
    k = 0
    while k < len(text):
        if text[k] == "%":
            if k + 1 >= len(text) or text[k + 1] == " ":
                return "missing AIX field descriptor", []
            k += 2
        else:
            k += 1
    nodes: list[_Node] = []
    k = 0
    while k < len(text):
        if text[k] == "%":
            if text[k + 1] == "%":
                return "missing AIX field descriptor", []
            code = _AIX_CODES.get(text[k + 1])
            if code is None:
                return "unknown AIX field descriptor", []
            nodes.extend(_one_spec(code[0], code[1]) or [])
            k += 2
        else:
            end = text.find("%", k)
            end = len(text) if end < 0 else end
            literal = text[k:end]
            nodes.append(_Node(literal, len(literal.encode()), _AIX, _ET, None))
            k = end
    return None, nodes


def _verify_short_sort(text: str, forest: bool) -> str | None:
    allowed = set("CGJKMNPRSTUcfgjkmnoprstuvy+-")
    if any(ch not in allowed for ch in text):
        return "bad sorting code"
    seen: set[str] = set()
    for k, ch in enumerate(text):
        if ch in "+-":
            nxt = text[k + 1:k + 2]
            if not nxt or nxt in "+-":
                return "bad sorting code"
            continue
        if ch == "P" and forest:
            return "PPID sort and forest output conflict"
        if ch in seen:
            return "bad sorting code"
        seen.add(ch)
    return None


def _long_sort_parse(text: str, sorts: list[tuple[str, int]]) -> str | None:
    """``long_sort_parse()``: ``[+|-]key[,[+|-]key...]``."""
    seps = " ,\t\n"
    need = True
    count = 0
    for ch in text:
        if ch in seps:
            if need:
                return "improper sort list"
            need = True
        else:
            count += need
            need = False
    if not count:
        return "empty sort list"
    for item in text.replace("\t", " ").replace("\n", " ").replace(",", " ").split():
        direction = 1
        if item[0] in "+-":
            direction = 1 if item[0] == "+" else -1
            item = item[1:]
        if item not in _FORMATS:
            return "unknown sort specifier"
        sorts.append((item, direction))
    return None


# --- output ---------------------------------------------------------------------


class _Output:
    """The column values (``pr_*`` functions) and ``show_one_proc()``."""

    def __init__(self, s: _Settings, *, now_ns: int, boot_wall_ns: int, hz: int) -> None:
        self.s = s
        self.hz = hz if hz > 0 else 100
        self.now_ns = now_ns
        self.boot_time = boot_wall_ns // 1_000_000_000           # btime of /proc/stat
        self.now_wall = (boot_wall_ns + now_ns) // 1_000_000_000  # time(NULL)
        self.uptime = (now_ns // 10_000_000) / 100                # /proc/uptime
        self.forest_prefix = ""
        self.active_cols = _OUTBUF_SIZE
        self.wide_signals = True
        self.lines: list[str] = []
        self.lines_to_next_header = 1
        self.header_gap = -1
        self.did_stuff = False
        #: With -m: "proc" or "task" while printing those lines.
        self.line_kind = ""

    # -- derived numbers ---------------------------------------------------

    def _ticks(self, ns: int) -> int:
        return ns * self.hz // 1_000_000_000

    def _start(self, t: TaskStat) -> int:
        """Wall-clock start, whole seconds: boot time + start ticks / Hertz."""
        return self.boot_time + self._ticks(t.start_ns) // self.hz

    def _elapsed(self, t: TaskStat) -> float:
        e = self.uptime - self._ticks(t.start_ns) / self.hz
        return e if e > 0 else 0.0

    def _pcpu_permille(self, t: TaskStat, scale: int) -> int:
        jiffies = int(self._elapsed(t) * self.hz)
        return self._ticks(t.cpu_ns) * scale // jiffies if jiffies else 0

    # -- the value of one column -------------------------------------------

    def value(self, node: _Node, v: _View, room: int) -> tuple[str, int]:
        """The text of *node* for task *v* and its width in cells."""
        pr = node.pr
        t = v.t
        if pr in ("args", "comm", "fname"):
            fh = self._forest(room)
            left = room - len(fh)
            if pr == "fname":
                left = min(left, 8)
                text = _escape(t.name, left)
            elif pr == "args":
                text = _escape(t.name if self.s.bsd_c else v.cmdline, left)
            else:
                text = _escape(v.cmdline if self.s.unix_f else t.name, left)
            return fh + text, len(fh) + _cells(text)
        if pr == "wchan":
            w = "-" if t.wchan == "0" else t.wchan.lstrip(".").lstrip("_")
            w = w[:max(room, 0)]
            return w, len(w)
        if pr in ("user", "group"):
            ident = t.uid
            names = _USER_NAMES if pr == "user" else _GROUP_NAMES
            name = names.get(ident)
            if not self.s.user_is_number and name is not None:
                text = _escape(name, _OUTBUF_SIZE)
                if _cells(text) <= room:
                    return text, _cells(text)
                raw = text.encode()
                if room >= 1 and len(raw) >= room and raw[room - 1] < 127:
                    text = raw[:room - 1].decode() + "+"
                    return text, len(text)
            return str(ident), len(str(ident))
        if pr in ("sig", "sigmask", "sigcatch", "sigignore"):
            mask = "ffffffffffffffff" if pr == "sigignore" and t.kthread else "0" * 16
            if self.wide_signals:
                text = mask if len(mask) > 8 else "00000000" + mask
            elif len(mask.lstrip("0")) > 8:
                text = "<" + mask[-8:]
            else:
                text = mask[-8:].rjust(8, "0")
            return text, len(text)
        text = self._simple(pr or "", v)
        return text, _cells(text)

    def _forest(self, room: int) -> str:
        """``forest_helper()``: the tree art before a command."""
        out = []
        rightward = min(room, _OUTBUF_SIZE - 1)
        per = 2 if self.s.forest_type == "u" else 4
        art = {" ": "    ", "L": " \\_ ", "+": " \\_ ", "|": " |  "}
        for ch in self.forest_prefix:
            if rightward < per:
                break
            out.append("  " if per == 2 else art[ch])
            rightward -= per
        return "".join(out)

    def _simple(self, pr: str, v: _View) -> str:
        t = v.t
        if pr == "pid":
            return str(t.pid)
        if pr == "ppid":
            return str(t.ppid)
        if pr == "pgid":
            return str(v.pgid)
        if pr == "sess":
            return str(v.sid)
        if pr == "tpgid":
            return str(v.tpgid)
        if pr == "nlwp":
            return "1"
        if pr == "stat":
            out = t.state
            out += "<" if t.nice < 0 else ("N" if t.nice > 0 else "")
            if v.sid == t.pid:
                out += "s"
            if v.pgid == v.tpgid:
                out += "+"
            return out
        if pr == "s":
            return t.state
        if pr in ("tty8", "tty4"):
            if pr == "tty4" and t.tty != "?":
                for prefix in ("pts/", "tty"):
                    if t.tty.startswith(prefix):
                        return t.tty[len(prefix):]
            return t.tty
        if pr == "time":
            return _dhms(self._ticks(t.cpu_ns) // self.hz, always_hours=True)
        if pr == "times":
            return str(self._ticks(t.cpu_ns) // self.hz)
        if pr == "bsdtime":
            u = self._ticks(t.cpu_ns) // self.hz
            return f"{u // 60:3d}:{u % 60:02d}"
        if pr == "etime":
            return _dhms(int(self._elapsed(t)), always_hours=False)
        if pr == "etimes":
            return str(int(self._elapsed(t)))
        if pr == "c":
            return f"{min(self._pcpu_permille(t, 100), 99):2d}"
        if pr == "cp":
            return f"{min(self._pcpu_permille(t, 1000), 999):3d}"
        if pr == "pcpu":
            p = self._pcpu_permille(t, 1000)
            return str(p // 10) if p > 999 else f"{p // 10}.{p % 10}"
        if pr == "utilization":
            e = self._elapsed(t)
            util = 100 * (self._ticks(t.cpu_ns) / self.hz) / e if e else 0.0
            return f"{99.999 if util > 99.0 else util:.3f}"
        if pr == "pmem":
            p = min(t.rss_kb * 1000 // MEM_TOTAL_KB, 999)
            return f"{p // 10:2d}.{p % 10}"
        if pr == "vsz":
            return str(t.vsz_kb)
        if pr == "sz":
            return str(t.vsz_kb // _PAGE_KB)
        if pr == "rss":
            return str(t.rss_kb)
        if pr == "nice":
            return str(t.nice)
        if pr == "priority":
            return str(t.priority)
        if pr == "opri":
            return str(60 + t.priority)
        if pr == "pri":
            return str(39 - t.priority)
        if pr == "pri_api":
            return str(-1 - t.priority)
        if pr == "pri_bar":
            return str(t.priority + 1)
        if pr == "pri_baz":
            return str(t.priority + 100)
        if pr == "pri_foo":
            return str(t.priority - 20)
        if pr == "class":
            return "TS"
        if pr == "rtprio":
            return "-"
        if pr == "sched":
            return "0"
        if pr == "flag":
            return format((t.flags >> 6) & 7, "o")
        if pr == "psr":
            return str(t.psr)
        if pr == "sgi_p":
            return str(t.psr) if t.state == "R" else "*"
        if pr in ("uid", "gid"):
            return str(t.uid)
        if pr == "luid":
            return "-"
        if pr == "context":
            return "unconfined"
        if pr == "zero":
            return "0"
        if pr == "lim":
            return "xx"
        if pr == "environ":
            return ""
        if pr == "stime":
            return self._stime(t)
        if pr == "start":
            return self._start_col(t)
        if pr == "bsdstart":
            start = self._start(t)
            text = _ctime(start)
            return text[4:10] if max(self.now_wall - start, 0) > 86400 else text[10:16]
        if pr == "lstart":
            tm = time.localtime(self._start(t))
            return (f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
                    f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}")
        return "-"  # pr_nop, and data the simulation does not have

    def _stime(self, t: TaskStat) -> str:
        now = time.localtime(self.now_wall)
        tm = time.localtime(self._start(t))
        if now.tm_year != tm.tm_year:
            return str(tm.tm_year)
        if now.tm_yday != tm.tm_yday:
            return f"{_MONTHS[tm.tm_mon - 1]}{tm.tm_mday:02d}"
        return f"{tm.tm_hour:02d}:{tm.tm_min:02d}"

    def _start_col(self, t: TaskStat) -> str:
        start = self._start(t)
        text = list(_ctime(start))
        if text[8] == " ":
            text[8] = "0"
        if text[11] == " ":
            text[11] = "0"
        s = "".join(text)
        if start + 86400 > self.now_wall:
            return s[11:19]
        return "  " + s[4:10]

    # -- layout ----------------------------------------------------------------

    def check_header_width(self, fmt: list[_Node]) -> None:
        """``check_header_width()``: how wide a line may grow."""
        total = 0
        was_normal = 0
        sigs = 0
        for k, node in enumerate(fmt):
            last = k == len(fmt) - 1
            if node.just == _AIX:
                total += node.width
                was_normal = 0
                continue
            if node.just == _SIGNAL:
                sigs += 1
                total += node.width
            elif node.just == _UNLIMITED:
                total += 3 if last else node.width
            else:
                total += node.width
            total += was_normal
            was_normal = 1
        i = 0
        cols = self.s.screen_cols
        while True:
            i += 1
            self.active_cols = cols * i
            if self.active_cols >= total or cols * i >= _OUTBUF_SIZE // 2:
                break
        self.wide_signals = total + sigs * 7 <= self.active_cols

    def show(self, v: _View | None, fmt: list[_Node]) -> None:
        """``show_one_proc()``: one line (the header when *v* is None)."""
        if v is not None:
            self.lines_to_next_header -= 1
            if self.lines_to_next_header == 0:
                self.lines_to_next_header = self.header_gap
                self.show(None, fmt)
        self.did_stuff = True
        correct = actual = dospace = 0
        parts: list[str] = []
        for k, node in enumerate(fmt):
            last = k == len(fmt) - 1
            legit = 0
            if not last:
                room = node.width
                tmpspace = 0
            else:
                tmpspace = correct - actual
                if tmpspace < 1:
                    tmpspace = dospace
                    room = self.active_cols - actual - tmpspace
                else:
                    room = self.active_cols - max(correct, actual)
            room = max(0, min(room, _OUTBUF_SIZE - 1))
            if v is not None and node.pr is not None:
                if node.pr == "nop" or self._suppressed(node):
                    text, amount = "-", 1
                else:
                    text, amount = self.value(node, v, room)
            else:
                text, amount = node.name, len(node.name.encode())
            just = node.just
            if just == _RIGHT or (just == _USER and self.s.user_is_number) or (
                    just == _WCHAN and self.s.wchan_is_number):
                leftpad = max(node.width - amount, 0)
            elif just == _SIGNAL:
                if self.wide_signals:
                    leftpad, legit = 16 - amount, 7
                else:
                    leftpad = 9 - amount
                leftpad = max(leftpad, 0)
            else:
                leftpad = 0
                if just in (_UNLIMITED, _WCHAN) and self.active_cols - actual - tmpspace < 1:
                    text = text[:1]
            space = correct - actual + leftpad
            if space < 1:
                space = dospace
            space = min(space, _SPACE_AMOUNT)
            parts.append(" " * space + text)
            if last:
                break
            actual += space + amount
            correct += node.width + legit
            if node.pr is not None and fmt[k + 1].pr is not None:
                correct += 1
                dospace = 1
            else:
                dospace = 0
        self.lines.append("".join(parts))

    def _suppressed(self, node: _Node) -> bool:
        """With ``-m``, thread-only columns are ``-`` on the process line and
        process-only ones on the thread lines."""
        mode = self.line_kind
        return (mode == "proc" and node.pflag == _TO) or (mode == "task" and node.pflag == _PO)


def _dhms(seconds: int, *, always_hours: bool) -> str:
    """TIME ``[DD-]HH:MM:SS`` or ELAPSED ``[[DD-]HH:]MM:SS``."""
    ss, t = seconds % 60, seconds // 60
    mm, t = t % 60, t // 60
    hh, dd = t % 24, t // 24
    out = f"{dd}-" if dd else ""
    if always_hours or dd or hh:
        out += f"{hh:02d}:"
    return out + f"{mm:02d}:{ss:02d}"


def _sort_key(spec: str, v: _View, out: _Output) -> Any:
    """What ``--sort SPEC`` compares (the library item behind the column)."""
    t = v.t
    pr = _FORMATS[spec].pr
    keys: dict[str, Callable[[], Any]] = {
        "pid": lambda: t.pid, "ppid": lambda: t.ppid, "pgid": lambda: v.pgid,
        "sess": lambda: v.sid, "tpgid": lambda: v.tpgid,
        "args": lambda: t.name if out.s.bsd_c else v.cmdline,
        "comm": lambda: t.name, "fname": lambda: t.name,
        "time": lambda: t.cpu_ns, "times": lambda: t.cpu_ns, "bsdtime": lambda: t.cpu_ns,
        "pcpu": lambda: out._pcpu_permille(t, 1000), "c": lambda: out._pcpu_permille(t, 1000),
        "cp": lambda: out._pcpu_permille(t, 1000), "pmem": lambda: t.rss_kb,
        "vsz": lambda: t.vsz_kb, "sz": lambda: t.vsz_kb, "rss": lambda: t.rss_kb,
        "etime": lambda: -t.start_ns, "etimes": lambda: -t.start_ns,
        "stime": lambda: t.start_ns, "start": lambda: t.start_ns,
        "bsdstart": lambda: t.start_ns, "lstart": lambda: t.start_ns,
        "tty8": lambda: t.tty, "tty4": lambda: t.tty, "stat": lambda: t.state,
        "s": lambda: t.state, "wchan": lambda: t.wchan, "nice": lambda: t.nice,
        "priority": lambda: t.priority, "opri": lambda: t.priority,
        "pri": lambda: -t.priority, "flag": lambda: t.flags, "psr": lambda: t.psr,
        "uid": lambda: t.uid, "gid": lambda: t.uid,
        "user": lambda: _USER_NAMES.get(t.uid, str(t.uid)),
        "group": lambda: _GROUP_NAMES.get(t.uid, str(t.uid)),
    }
    fn = keys.get(pr)
    return fn() if fn else 0


def _want(s: _Settings, v: _View, caller_tty: str) -> bool:
    """``want_this_proc()``: simple selections OR lists, then ``r`` and ``-N``."""
    t = v.t
    accepted = True
    if not s.all_processes:
        accepted = False
        if s.simple_select or not s.selections:
            index = ((t.uid == _CALLER_UID) | (v.sid == t.pid) << 1
                     | (t.tty == "?") << 2 | (t.tty == caller_tty) << 3)
            accepted = bool(s.select_bits & (1 << index))
        if not accepted:
            accepted = _listed(s, v)
    if s.running_only and t.state not in "RD":
        accepted = False
    return not accepted if s.negate else accepted


def _listed(s: _Settings, v: _View) -> bool:
    t = v.t
    for kind, values in s.selections:
        if kind in (_SEL_RUID, _SEL_EUID, _SEL_RGID, _SEL_EGID):
            if t.uid in values:
                return True
        elif kind in (_SEL_PID, _SEL_PID_QUICK):
            if t.pid in values:
                return True
        elif kind == _SEL_PGRP:
            if v.pgid in values:
                return True
        elif kind == _SEL_PPID:
            if t.ppid in values:
                return True
        elif kind == _SEL_SESS:
            if v.sid in values:
                return True
        elif kind == _SEL_TTY:
            if t.tty in values:
                return True
        elif kind == _SEL_COMM:
            for name in values:
                if len(t.name) == 15 and len(name) >= 15 and t.name[:15] == name[:15]:
                    return True
                if t.name[:63] == name[:63]:
                    return True
    return False


def _check_conflicts(s: _Settings) -> str | None:
    """``arg_check_conflicts()``: the quick-pid rules."""
    quick = sum(1 for kind, _ in s.selections if kind == _SEL_PID_QUICK)
    if quick > 1:
        return "q/-q/--quick-pid can only be used once."
    if quick and len(s.selections) > quick:
        return "q/-q/--quick-pid cannot be combined with other selection options."
    if quick and s.forest_type:
        return "q/-q/--quick-pid cannot be used together with forest type listings."
    if quick and s.sort_list:
        return "q/-q,--quick-pid cannot be used together with sort options."
    if quick and s.negate:
        return "q/-q/--quick-pid cannot be used together with negation switches."
    return None


def ps(argv: list[str], tasks: list[TaskStat], *, now_ns: int, boot_wall_ns: int, hz: int,
       caller_tty: str, out: TextIO, err: TextIO) -> int:
    """Run ``ps ARGV`` (the words after ``ps``) over *tasks*; its exit status.

    *now_ns* is the kernel's uptime, *boot_wall_ns* the wall clock
    (``time.time_ns()``) at boot, *hz* the clock ticks per second of /proc's
    times, *caller_tty* the terminal of the user running ps (``pts/3`` or
    ``?``).  Output goes to *out*, diagnostics to *err*, as procps writes them.
    """
    if not argv:
        argv = ["ax"]  # see the module docstring
    known_ttys = {t.tty for t in tasks if t.tty != "?"}
    if caller_tty != "?":
        known_ttys.add(caller_tty)
    known_ttys.update({"console", "ptmx", "tty"} | {f"tty{n}" for n in range(64)}
                      | {f"ttyS{n}" for n in range(4)})
    try:
        s = _Parser(list(argv), caller_tty, known_ttys).parse()
    except _PsError as exc:
        err.write(f"error: {exc}\n" + _help_text(None))
        return 1
    except _PsExit as exc:
        out.write(exc.stdout)
        err.write(exc.stderr)
        return exc.status
    conflict = _check_conflicts(s)
    if conflict:
        err.write(conflict + "\n")
        return 1
    if s.w_count and s.screen_cols < 132:
        s.screen_cols = 132
    if s.w_count > 1:
        s.screen_cols = _OUTBUF_SIZE

    o = _Output(s, now_ns=now_ns, boot_wall_ns=boot_wall_ns, hz=hz)
    fmt = s.format_list
    # check_headers()
    if s.header_type == _HEAD_MULTI:
        o.header_gap = s.screen_rows - 1
    elif s.header_type == _HEAD_NONE:
        o.lines_to_next_header = -1
    elif not any(node.name and node.pr is not None for node in fmt):
        o.lines_to_next_header = -1
    o.check_header_width(fmt)

    views = [_View.of(t) for t in sorted(tasks, key=lambda t: t.pid)]
    quick = [values for kind, values in s.selections if kind == _SEL_PID_QUICK]
    if s.forest_type or s.sort_list:
        chosen = [v for v in views if _want(s, v, caller_tty)]
        if s.thread_flags & _TF_show_both:
            o.line_kind = "proc"
        if chosen:
            order = list(s.sort_list)
            if s.forest_type:
                order = [("ppid", 1)] + (order or [("start_time", 1)])
            for spec, direction in reversed(order):
                if direction:
                    chosen.sort(key=lambda v: _sort_key(spec, v, o), reverse=direction < 0)
            if s.forest_type:
                _show_forest(o, chosen, fmt)
            else:
                for v in chosen:
                    o.show(v, fmt)
    else:
        if quick:
            by_pid = {v.t.pid: v for v in views}
            views = [by_pid[p] for p in quick[0] if p in by_pid]
        for v in views:
            if not _want(s, v, caller_tty):
                continue
            if s.thread_flags & _TF_show_both:
                o.line_kind = "proc"
                o.show(v, fmt)
                o.line_kind = "task"
                o.show(v, fmt)
                o.line_kind = ""
            else:
                o.show(v, fmt)
    status = 0
    if not o.did_stuff:
        o.lines_to_next_header -= 1
        if o.lines_to_next_header == 0:
            o.show(None, fmt)
        status = 1
    out.write("".join(line + "\n" for line in o.lines))
    return status


def _show_forest(o: _Output, procs: list[_View], fmt: list[_Node]) -> None:
    """``show_forest()``/``show_tree()``: roots found from the end of the sorted list."""
    n = len(procs)
    prefix: list[str] = [""] * (n + 2)

    def tree(self_i: int, level: int, have_sibling: bool) -> None:
        if level:
            prefix[level - 1] = "+" if have_sibling else "L"
        o.forest_prefix = "".join(prefix[:level])
        o.show(procs[self_i], fmt)
        self_pid = procs[self_i].t.pid
        first = next((i for i in range(n) if procs[i].t.ppid == self_pid), None)
        if first is None:
            return
        if level:
            prefix[level - 1] = "|" if have_sibling else " "
        i = first
        more = True
        while more and i < n:
            if i + 1 >= n or procs[i + 1].t.ppid != self_pid:
                more = False
            tree(i, level + 1, more)
            i += 1
        o.forest_prefix = ""

    pids = {v.t.pid for v in procs}
    for i in range(n - 1, -1, -1):
        if procs[i].t.ppid not in pids:
            tree(i, 0, False)
    o.forest_prefix = ""
