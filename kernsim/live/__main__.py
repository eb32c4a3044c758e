"""The detached kernel process: ``python -m kernsim.live`` (started by ``kernsim boot``)."""

import sys

from .control import daemon_main

sys.exit(daemon_main())
