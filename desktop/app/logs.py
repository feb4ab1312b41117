"""Logging to stderr and to a rotating file in the platform's log folder, with secrets scrubbed on the way out.

The scrubber is a second line of defence: code must never format a key into a message, but a URL or a server
error echoing a header could carry one, and a log file outlives the session.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

import platformdirs

_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9_\-\.]{8,}|api-key[\"':= ]+[A-Za-z0-9_\-]{8,})")


class RedactSecrets(logging.Filter):
    """Replaces anything shaped like an API key or bearer token in the final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _SECRET.sub("[redacted]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir("parley", appauthor=False))


def setup_logging(verbose: bool = False) -> Path | None:
    """Configures the root logger once; returns the log file path (None if the folder cannot be written)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    redact = RedactSecrets()
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stderr.setFormatter(fmt)
    stderr.addFilter(redact)
    root.addHandler(stderr)
    path: Path | None = log_dir() / "parley.log"
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                                            encoding="utf-8")
    except OSError as exc:
        root.warning("cannot write the log file: %s", exc)
        return None
    file_handler.setFormatter(fmt)
    file_handler.addFilter(redact)
    root.addHandler(file_handler)
    return path
