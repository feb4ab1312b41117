"""The settings dialog: fields from the declarations, the key to the real Secret Service and nowhere else."""

from __future__ import annotations

import logging
from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox
from pytestqt.qtbot import QtBot

from desktop.app import secrets
from desktop.app.logs import setup_logging
from desktop.app.secrets import KeyStore
from desktop.app.settings import SettingsStore
from desktop.ui.settings_dialog import AudioPage, ConnectionPage, HotkeysPage, SettingsDialog, TurnsPage
from tests.support.secret_service import SecretServiceEnv

FAKE_KEY = "sk-dialog-test-key-not-a-secret-123"


def make_dialog(qtbot: QtBot, path: Path, keys: KeyStore, rescans: list[int] | None = None) -> SettingsDialog:
    store = SettingsStore(QSettings(str(path), QSettings.Format.IniFormat))
    devices = {"input": ["vmic", "mic.monitor"], "output": ["spk"]}
    dialog = SettingsDialog(store, keys, lambda kind: devices[kind],
                            lambda: rescans.append(1) if rescans is not None else None,
                            lambda: (False, "no X display"))
    qtbot.addWidget(dialog)
    return dialog


def test_key_saved_through_dialog_survives_restart_and_leaks_nowhere(
        qtbot: QtBot, tmp_path: Path, secret_service: SecretServiceEnv) -> None:
    log_file = setup_logging()
    assert log_file is not None
    ini = tmp_path / "parley.ini"
    dialog = make_dialog(qtbot, ini, KeyStore())
    page = dialog.page(ConnectionPage)
    assert isinstance(page, ConnectionPage)
    page.key_edit.setText(FAKE_KEY)
    page.fields["model"].setEditText("gpt-realtime-mini")  # type: ignore[union-attr]
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    try:
        # "Restart": fresh objects read the key from the Secret Service and the model from the file.
        assert KeyStore().load() == secrets.KeySource(FAKE_KEY, "keyring")
        assert SettingsStore(QSettings(str(ini), QSettings.Format.IniFormat)).get("model") == "gpt-realtime-mini"
        again = make_dialog(qtbot, ini, KeyStore())
        again_page = again.page(ConnectionPage)
        assert isinstance(again_page, ConnectionPage)
        assert again_page.key_edit.text() == ""  # never shown back
        assert "stored in the keyring" in again_page.key_edit.placeholderText()
        for handler in logging.getLogger().handlers:
            handler.flush()
        assert FAKE_KEY not in ini.read_text()
        assert FAKE_KEY not in log_file.read_text()
        assert "stored in the keyring" in log_file.read_text()
    finally:
        keyring.delete_password(secrets.SERVICE, secrets.USERNAME)
        for handler in list(logging.getLogger().handlers):
            handler.close()
            logging.getLogger().removeHandler(handler)


def test_keyring_unavailable_keeps_the_key_and_offers_session_only(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    keys = KeyStore()
    dialog = make_dialog(qtbot, tmp_path / "p.ini", keys)
    page = dialog.page(ConnectionPage)
    assert isinstance(page, ConnectionPage)
    assert "No keyring backend" in page.key_status.text()
    assert page.session_only.isChecked()
    page.session_only.setChecked(False)  # the user insists on storing it
    page.key_edit.setText(FAKE_KEY)
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "session only" in dialog.problem.text()
    assert page.key_edit.text() == FAKE_KEY and page.session_only.isChecked()
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert keys.load() == secrets.KeySource(FAKE_KEY, "session")


def test_env_override_is_explained(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "env-test-key-not-a-secret")
    dialog = make_dialog(qtbot, tmp_path / "p.ini", KeyStore())
    page = dialog.page(ConnectionPage)
    assert isinstance(page, ConnectionPage)
    assert "OPENAI_API_KEY is set" in page.key_status.text()


def test_pages_round_trip_typed_values(qtbot: QtBot, tmp_path: Path) -> None:
    rescans: list[int] = []
    dialog = make_dialog(qtbot, tmp_path / "p.ini", KeyStore(), rescans)
    turns = dialog.page(TurnsPage)
    turns.fields["turn_mode"].setCurrentIndex(turns.fields["turn_mode"].findData("semantic_vad"))  # type: ignore[union-attr]
    turns.fields["vad_silence_ms"].setValue(700)  # type: ignore[union-attr]
    turns.fields["headphones"].setChecked(True)  # type: ignore[union-attr]
    audio = dialog.page(AudioPage)
    assert isinstance(audio, AudioPage)
    combo = audio.fields["input_device"]
    assert [combo.itemText(i) for i in range(combo.count())] == ["System default", "vmic", "mic.monitor"]  # type: ignore[union-attr]
    combo.setCurrentIndex(1)  # type: ignore[union-attr]
    audio.rescan()
    assert rescans == [1] and audio.fields["input_device"].currentText() == "vmic"  # type: ignore[union-attr]
    hotkeys = dialog.page(HotkeysPage)
    assert isinstance(hotkeys, HotkeysPage)
    assert hotkeys.global_status.text() == "Global hotkey unavailable: no X display"
    assert not hotkeys.fields["global_hotkey_enabled"].isEnabled()
    dialog.accept()
    store = dialog.store
    assert (store.get("turn_mode"), store.get("vad_silence_ms"), store.get("headphones"),
            store.get("input_device")) == ("semantic_vad", 700, True, "vmic")


def test_every_field_has_its_own_label_and_spin_boxes_show_units(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = make_dialog(qtbot, tmp_path / "parley.ini", KeyStore())
    for page_type in (ConnectionPage, AudioPage, HotkeysPage, TurnsPage):
        page = dialog.page(page_type)
        assert page is not None
        labels = []
        for row in range(page.form.rowCount()):
            item = page.form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and isinstance(item.widget(), QLabel) and item.widget().text():
                labels.append(item.widget().text())
        assert len(labels) == len(set(labels)), f"{page_type.__name__} repeats a label: {labels}"
    audio = dialog.page(AudioPage)
    assert audio is not None
    rest = audio.fields["audio_rest_s"]
    assert isinstance(rest, QSpinBox) and rest.suffix() == " s" and rest.specialValueText() == "never"
