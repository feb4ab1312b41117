"""Backend choice: offline without a key, OpenAI with one, an explicit URL always wins."""

from __future__ import annotations

from typing import Any

from desktop.app.backend import choose_backend
from desktop.app.secrets import KeySource
from desktop.app.settings import SETTINGS

DEFAULTS: dict[str, Any] = {s.key: s.default for s in SETTINGS}
NO_KEY = KeySource(None, "none")
KEY = KeySource("test-key-not-a-secret", "keyring")
SILENT_KEYRING = KeySource(None, "unavailable", "The system keyring did not give Parley the API key (OSError).")


def test_first_run_without_key_uses_the_offline_engine() -> None:
    backend = choose_backend(DEFAULTS, NO_KEY, None)
    assert backend.kind == "offline" and backend.key is None and "offline engine" in backend.notice


def test_key_switches_auto_to_openai() -> None:
    backend = choose_backend(DEFAULTS, KEY, None)
    assert backend.kind == "openai"
    assert backend.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1"  # the default model
    assert backend.auth_style == "bearer" and backend.key == KEY.key


def test_url_override_wins() -> None:
    backend = choose_backend(DEFAULTS, NO_KEY, "ws://127.0.0.1:8765/v1/realtime")
    assert (backend.kind, backend.url) == ("custom", "ws://127.0.0.1:8765/v1/realtime")


def test_custom_endpoint_gets_the_model_and_auth_style() -> None:
    settings = {**DEFAULTS, "backend": "custom", "auth_style": "api-key", "model": "my-deploy",
                "endpoint_url": "wss://res.openai.azure.com/openai/v1/realtime"}
    backend = choose_backend(settings, KEY, None)
    assert backend.url == "wss://res.openai.azure.com/openai/v1/realtime?model=my-deploy"
    assert backend.auth_style == "api-key"


def test_openai_without_key_says_what_to_do() -> None:
    backend = choose_backend({**DEFAULTS, "backend": "openai"}, NO_KEY, None)
    assert backend.key is None and "Settings" in backend.notice


def test_each_backend_has_a_title_in_words_never_the_url() -> None:
    assert choose_backend(DEFAULTS, KEY, None).title == "OpenAI · gpt-realtime-2.1 · voice marin"
    voice = choose_backend({**DEFAULTS, "voice": "cedar", "model": "gpt-realtime-mini"}, KEY, None)
    assert voice.title == "OpenAI · gpt-realtime-mini · voice cedar"
    assert choose_backend(DEFAULTS, NO_KEY, None).title == "Offline engine"
    assert choose_backend({**DEFAULTS, "backend": "offline"}, KEY, None).title == "Offline engine"
    override = choose_backend(DEFAULTS, NO_KEY, "ws://127.0.0.1:44057/v1/realtime?model=gpt-realtime")
    assert override.title == "Custom server · 127.0.0.1:44057"
    azure_settings = {**DEFAULTS, "backend": "custom", "endpoint_url": "wss://res.openai.azure.com/openai/v1/realtime"}
    azure = choose_backend(azure_settings, KEY, None)
    assert azure.title == "Custom server · res.openai.azure.com"


def test_a_custom_title_leaves_out_credentials_and_survives_a_bad_url() -> None:
    assert choose_backend(DEFAULTS, NO_KEY, "wss://user:secret@example.com:8443/rt").title == \
        "Custom server · example.com:8443"
    assert choose_backend(DEFAULTS, NO_KEY, "ws://[::1]:9000/v1/realtime").title == "Custom server · [::1]:9000"
    assert choose_backend(DEFAULTS, NO_KEY, "ws://host:notaport/x").title == "Custom server"
    assert choose_backend(DEFAULTS, NO_KEY, "not a url").title == "Custom server"


def test_only_something_to_know_or_do_becomes_a_transcript_notice() -> None:
    assert choose_backend(DEFAULTS, KEY, None).notice == ""  # the status line already says where
    assert choose_backend(DEFAULTS, NO_KEY, "ws://127.0.0.1:8765/v1/realtime").notice == ""
    assert choose_backend({**DEFAULTS, "backend": "offline"}, KEY, None).notice == ""
    assert "Settings" in choose_backend(DEFAULTS, NO_KEY, None).notice  # a new user learns how to add a key


def test_a_keyring_that_did_not_answer_is_said_not_taken_for_no_key() -> None:
    """A saved key may be behind a locked keyring: the user is told why Parley talks offline (or cannot reach
    OpenAI), not invited to add a key they already have."""
    offline = choose_backend(DEFAULTS, SILENT_KEYRING, None)
    assert offline.kind == "offline" and offline.notice.startswith(SILENT_KEYRING.problem)
    assert "No API key yet" not in offline.notice
    openai = choose_backend({**DEFAULTS, "backend": "openai"}, SILENT_KEYRING, None)
    assert openai.key is None and openai.notice == SILENT_KEYRING.problem
    assert "keyring" not in choose_backend({**DEFAULTS, "backend": "offline"}, SILENT_KEYRING, None).notice, \
        "who chose the offline engine needs no key"
