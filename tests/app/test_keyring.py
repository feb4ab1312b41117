"""The API key goes to a real Secret Service and comes back; nothing about it reaches QSettings or the log."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import keyring
import pytest

from desktop.app import secrets
from desktop.app.secrets import KeyStore, KeyStoreUnavailable
from tests.support.secret_service import SecretServiceEnv

FAKE_KEY = "sk-test-key-not-a-secret-0123456789"


def test_backend_is_secret_service(secret_service: SecretServiceEnv) -> None:
    assert "SecretService" in secrets.backend_name()


def test_key_round_trips_through_the_secret_service(secret_service: SecretServiceEnv) -> None:
    store = KeyStore()
    store.save(FAKE_KEY)
    try:
        assert keyring.get_password(secrets.SERVICE, secrets.USERNAME) == FAKE_KEY
        # A second process sees it through the Secret Service itself, not through our process's memory.
        out = subprocess.run(["secret-tool", "lookup", "service", secrets.SERVICE, "username", secrets.USERNAME],
                             capture_output=True, text=True, env={**secret_service.env, "PATH": "/usr/bin:/bin"},
                             timeout=20)
        assert out.stdout.strip() == FAKE_KEY
        assert KeyStore().load() == secrets.KeySource(FAKE_KEY, "keyring")
    finally:
        store.delete()
    assert KeyStore().load().origin == "none"


def test_environment_overrides_keyring(secret_service: SecretServiceEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "env-test-key-not-a-secret")
    assert KeyStore().load() == secrets.KeySource("env-test-key-not-a-secret", "environment")


def test_no_backend_gives_advice_and_session_key_works(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    store = KeyStore()
    with pytest.raises(KeyStoreUnavailable, match="session only"):
        store.save(FAKE_KEY)
    assert store.load().origin == "none"
    store.use_for_session(FAKE_KEY)
    assert store.load() == secrets.KeySource(FAKE_KEY, "session")


def test_a_stalled_secret_service_holds_neither_the_event_loop_nor_the_app(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A Secret Service that does not answer (waiting on an unlock prompt) and then goes away: the loop keeps
    running meanwhile, and the read ends as "no key, because the keyring did not answer" rather than an error."""
    from keyring.backends import SecretService

    path = tmp_path / "bus"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={path}")
    monkeypatch.delenv(secrets.ENV_VAR, raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", SecretService.Keyring())

    async def main() -> None:
        reading = asyncio.create_task(KeyStore().aload())
        bus, _ = await asyncio.to_thread(listener.accept)  # the read reached the bus and waits for an answer
        ticks = 0
        for _ in range(5):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 5 and not reading.done()
        bus.close()  # the bus goes away
        source = await asyncio.wait_for(reading, 10)
        assert source.key is None and source.origin == "unavailable"
        assert "keyring did not give Parley the API key (" in source.problem

    try:
        asyncio.run(main())
    finally:
        listener.close()
