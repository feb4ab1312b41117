"""The bundle's entry point: PyInstaller needs a script, and the frozen-only fixes must run before the CLI.

`prepare()` runs first so the keyring backend and the PortAudio check are settled before anything imports
them.
"""

from __future__ import annotations

import sys

from desktop.app.frozen import prepare

prepare()

from desktop.cli import main  # noqa: E402  (after prepare() on purpose)

sys.exit(main())
