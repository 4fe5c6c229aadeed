"""``python -m diagnostics``: see ``diagnostics.cli``."""

import sys

from . import malloc

malloc.restart_with_tunables("diagnostics")
malloc.configure()  # the command line's allocators (diagnostics/malloc.py), before any work

from .cli import main  # noqa: E402 - only after the restart: pandas imported before it would be wasted

sys.exit(main())
