"""The model picker in Settings → Connection: the catalogue, each model's price beside it, free text kept."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from desktop.app.secrets import KeyStore
from desktop.app.settings import SettingsStore
from desktop.core.models import CATALOGUE
from desktop.ui.model_picker import ModelPicker
from desktop.ui.settings_dialog import ConnectionPage
from tests.ui.test_settings_dialog import make_dialog


def test_picker_lists_the_catalogue_and_shows_the_price(qtbot: QtBot) -> None:
    picker = ModelPicker()
    qtbot.addWidget(picker)
    qtbot.addWidget(picker.price)
    assert [picker.itemText(i) for i in range(picker.count())] == [m.id for m in CATALOGUE]
    picker.setCurrentText("gpt-realtime-2.1-mini")
    assert picker.price.text() == ("GPT-Realtime-2.1 Mini · Realtime · audio $10 in / $20 out, text $0.6 / $2.4 "
                                   "per 1M tokens")
    picker.setCurrentText("gpt-live-1.1")
    assert "GPT-Live (full duplex)" in picker.price.text() and "$0.05 per minute" in picker.price.text()
    picker.setEditText("my-azure-deployment")
    assert "unknown" in picker.price.text()
    assert "per 1M tokens" in str(picker.itemData(0, Qt.ItemDataRole.ToolTipRole))


def test_dialog_saves_a_picked_or_typed_model(qtbot: QtBot, tmp_path: Path) -> None:
    ini = tmp_path / "parley.ini"
    for wanted in ("gpt-realtime-2", "my-azure-deployment"):
        dialog = make_dialog(qtbot, ini, KeyStore())
        page = dialog.page(ConnectionPage)
        picker = page.fields["model"]
        assert isinstance(picker, ModelPicker)
        picker.setEditText(wanted)
        dialog.accept()
        assert SettingsStore(QSettings(str(ini), QSettings.Format.IniFormat)).get("model") == wanted
    again = make_dialog(qtbot, ini, KeyStore())
    picker = again.page(ConnectionPage).fields["model"]
    assert isinstance(picker, ModelPicker) and picker.currentText() == "my-azure-deployment"
