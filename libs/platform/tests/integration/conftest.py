"""The helper modules beside these tests are imported by name, here and by their subprocesses."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):  # and samples.py, shared with the unit tests
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
