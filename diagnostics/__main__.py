"""``python -m diagnostics``: see ``diagnostics.cli``."""

import sys

from .malloc import restart_with_tunables

restart_with_tunables("diagnostics")

from .cli import main  # noqa: E402 - only after the restart: pandas imported before it would be wasted

sys.exit(main())
