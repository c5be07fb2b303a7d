"""``python -m raxel_core.cli ARGS...``: the ``raxel`` command."""
import sys

from . import main

sys.exit(main())
