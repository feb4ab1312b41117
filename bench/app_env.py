"""Imported first by the benches that run the whole app: a private settings/log home, offscreen Qt, the loopback
server's fake key, and the project root on sys.path. Import it before anything from desktop/ or Qt."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_home = tempfile.mkdtemp(prefix="parley-bench-")
for _var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_var] = os.path.join(_home, _var.lower())
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["OPENAI_API_KEY"] = "test-key-not-a-secret"
