"""Logs go to a rotating file in the platform log folder, and key-shaped strings never reach it."""

from __future__ import annotations

import logging

from desktop.app.logs import setup_logging


def test_log_file_written_and_secrets_redacted() -> None:
    path = setup_logging()
    assert path is not None
    try:
        logging.getLogger("parley.test").warning("connecting with Bearer %s", "sk-proj-test-key-not-a-secret-42")
        logging.getLogger("parley.test").warning("header api-key: %s", "azure0test0key0not0a0secret")
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = path.read_text()
        assert "connecting with" in text
        assert "not-a-secret" not in text and "not0a0secret" not in text
        assert text.count("[redacted]") >= 2
    finally:
        for handler in list(logging.getLogger().handlers):
            handler.close()
            logging.getLogger().removeHandler(handler)
