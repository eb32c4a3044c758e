"""The detached kernel process: ``python -m kernsim.live`` (started by ``kernsim boot``)."""

import os
import sys
import traceback

from .control import daemon_main

try:
    status = daemon_main()
except SystemExit as exc:  # argparse's errors
    status = exc.code if isinstance(exc.code, int) else 1
except BaseException:  # a bug of kernsim's: its traceback goes to NAME.out
    traceback.print_exc()
    status = 1
sys.stdout.flush()
sys.stderr.flush()
# Not sys.exit(): a thread that module code started (threading.Thread) must
# not keep a halted kernel's process alive.
os._exit(status)
