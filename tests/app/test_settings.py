"""Settings are declared once, typed, validated, persisted in QSettings — and never hold a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from desktop.app.settings import SETTINGS, SettingsStore, setting


@pytest.fixture
def store(tmp_path: Path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "parley.ini"), QSettings.Format.IniFormat))


def test_every_setting_has_a_valid_default_and_description() -> None:
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))
    for decl in SETTINGS:
        assert decl.description.strip()
        assert decl.coerce(decl.default) == decl.default
        assert not any(word in decl.key for word in ("key", "secret", "token", "password")) or decl.key.startswith(
            ("hotkey", "global_hotkey"))


def test_values_round_trip_with_their_types(store: SettingsStore, tmp_path: Path) -> None:
    store.set("jitter_ms", 120)
    store.set("headphones", True)
    store.set("vad_threshold", 0.7)
    store.set("turn_mode", "server_vad")
    store.sync()
    again = SettingsStore(QSettings(str(tmp_path / "parley.ini"), QSettings.Format.IniFormat))
    assert again.get("jitter_ms") == 120
    assert again.get("headphones") is True
    assert again.get("vad_threshold") == pytest.approx(0.7)
    assert again.get("turn_mode") == "server_vad"


def test_invalid_values_are_refused(store: SettingsStore) -> None:
    with pytest.raises(ValueError):
        store.set("turn_mode", "telepathy")
    with pytest.raises(ValueError):
        store.set("jitter_ms", 5)
    with pytest.raises(KeyError):
        store.set("api_key", "x")


def test_corrupt_stored_value_falls_back_to_default(store: SettingsStore, tmp_path: Path) -> None:
    raw = QSettings(str(tmp_path / "parley.ini"), QSettings.Format.IniFormat)
    raw.setValue("jitter_ms", "lots")
    raw.sync()
    assert store.get("jitter_ms") == setting("jitter_ms").default
