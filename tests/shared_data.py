"""Where the tests find the real evaluation data: ``$RAXEL_SHARED_DATA``, else ``../shared/data``
beside the project (the layout CI and developers have). Tests that need a file skip with the
reason when it is absent."""
import os
from pathlib import Path

#: The shared data folder (it may not exist: tests check the files they need).
DATA = Path(os.environ.get("RAXEL_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
