"""``python -m kernsim``: the same as the ``kernsim`` command."""

import sys

from .cli import main

sys.exit(main())
