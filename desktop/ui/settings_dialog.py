"""The settings dialog: small pages, each with load() and save(), over the settings declared in one place.

Fields are built from the declarations (type, choices, bounds, description as tooltip), so adding a setting never
means writing another widget by hand. The API key is the exception on purpose: it goes to the keyring, is never
shown back, and a refused keyring keeps the dialog open with the key still typed in, instead of losing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.app.secrets import ENV_VAR, KeyStore, KeyStoreUnavailable, backend_name
from desktop.app.settings import SettingsStore, setting
from desktop.ui.model_picker import ModelPicker
from desktop.ui.options_page import OptionsPage, read_field, write_field

if TYPE_CHECKING:
    from desktop.app.tools_service import ToolsService

Page = TypeVar("Page", bound="OptionsPage")

class ConnectionPage(OptionsPage):
    title = "Connection"
    keys = ("backend", "endpoint_url", "auth_style", "model")

    def __init__(self, keys: KeyStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.endpoint = QLabel("Not connected yet.", self)
        self.endpoint.setObjectName("endpoint_in_use")
        self.endpoint.setWordWrap(True)
        self.endpoint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form.insertRow(0, "In use", self.endpoint)
        old, self.fields["model"] = self.fields["model"], (picker := ModelPicker(self))
        self.form.replaceWidget(old, picker)
        old.hide()
        old.deleteLater()
        model_row = 1 + self.keys.index("model")  # the fields follow the "In use" row
        self.form.insertRow(model_row + 1, "", picker.price)
        self.key_store = keys
        self.key_edit = QLineEdit(self)
        self.key_edit.setObjectName("api_key")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setToolTip("Stored in the system keyring under the service 'parley'; never in a file.")
        self.session_only = QCheckBox("Use this key for this session only (do not store it)", self)
        self.forget = QPushButton("Forget stored key", self)
        self.forget.clicked.connect(self._forget)
        self.key_status = QLabel(self)
        self.key_status.setObjectName("key_status")
        self.key_status.setWordWrap(True)
        self.form.addRow("API key", self.key_edit)
        self.form.addRow("", self.session_only)
        row = QHBoxLayout()
        row.addWidget(self.forget)
        row.addStretch(1)
        self.form.addRow("", row)
        self.form.addRow("", self.key_status)

    def show_endpoint(self, title: str, url: str) -> None:
        """Where Parley talks now: the status line's words and the full URL (selectable, to copy)."""
        self.endpoint.setText(f"{title}\n{url}")

    def load(self, store: SettingsStore) -> None:
        super().load(store)
        self.key_edit.clear()
        source = self.key_store.load()
        notes = []
        if source.origin == "environment":
            notes.append(f"{ENV_VAR} is set in the environment: it overrides any key stored here.")
        elif source.origin == "keyring":
            self.key_edit.setPlaceholderText("A key is stored in the keyring (type to replace it)")
        elif source.origin == "session":
            self.key_edit.setPlaceholderText("A key is in use for this session only")
        elif source.origin == "unavailable":
            notes.append(source.problem)
        else:
            self.key_edit.setPlaceholderText("sk-… (needed for OpenAI; the offline engine needs none)")
        try:
            notes.append(f"Keyring: {backend_name().rsplit('.', 2)[-2]}")
        except KeyStoreUnavailable as exc:
            notes.append(str(exc))
            self.session_only.setChecked(True)
        self.key_status.setText("\n".join(notes))

    def save(self, store: SettingsStore) -> str | None:
        problem = super().save(store)
        if problem:
            return problem
        key = self.key_edit.text().strip()
        if not key:
            return None
        if self.session_only.isChecked():
            self.key_store.use_for_session(key)
            return None
        try:
            self.key_store.save(key)
        except KeyStoreUnavailable as exc:
            self.session_only.setChecked(True)
            self.key_status.setText(f"{exc}\nTick 'session only' and press OK to use the key without storing it.")
            return str(exc)
        return None

    def _forget(self) -> None:
        try:
            self.key_store.delete()
        except KeyStoreUnavailable as exc:
            self.key_status.setText(str(exc))
            return
        self.key_edit.clear()
        self.key_status.setText("The stored key was removed.")


class VoicePage(OptionsPage):
    title = "Voice"
    keys = ("voice", "instructions", "transcription_model", "noise_reduction")


class TurnsPage(OptionsPage):
    title = "Turns"
    keys = ("turn_mode", "vad_threshold", "vad_silence_ms", "vad_prefix_padding_ms", "semantic_eagerness",
            "headphones")


class AudioPage(OptionsPage):
    title = "Audio"
    keys = ("input_device", "output_device", "jitter_ms", "preroll_ms", "audio_rest_s")

    def __init__(self, list_devices: Callable[[str], list[str]], rescan: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        self._list_devices = list_devices
        self._rescan = rescan
        super().__init__(parent)
        for key in ("input_device", "output_device"):
            old = self.fields[key]
            combo = QComboBox(self)
            combo.setEditable(True)
            combo.setObjectName(key)
            combo.setToolTip(setting(key).description)
            self.form.replaceWidget(old, combo)
            old.hide()  # removed from the layout, it would linger on screen until deleted
            old.deleteLater()
            self.fields[key] = combo
        button = QPushButton("Rescan devices", self)
        button.setToolTip("Find headsets and microphones plugged in since Parley started.")
        button.clicked.connect(self.rescan)
        self.form.addRow("", button)
        self._fill()

    def _fill(self) -> None:
        for key, kind in (("input_device", "input"), ("output_device", "output")):
            combo = self.fields[key]
            assert isinstance(combo, QComboBox)
            current = read_field(combo)
            combo.clear()
            combo.addItem("System default", "")
            for name in self._list_devices(kind):
                combo.addItem(name, name)
            write_field(combo, current)

    def rescan(self) -> None:
        self._rescan()
        self._fill()


class HotkeysPage(OptionsPage):
    title = "Hotkeys"
    keys = ("hotkey", "global_hotkey_enabled", "global_hotkey")

    def __init__(self, global_status: Callable[[], tuple[bool, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.global_status = QLabel(self)
        self.global_status.setObjectName("global_hotkey_status")
        self.global_status.setWordWrap(True)
        self.form.addRow("", self.global_status)
        self.show_status(*global_status())

    def show_status(self, available: bool, reason: str) -> None:
        """Which mechanism carries the global key, or why none can; with none the option cannot be turned on."""
        self.global_status.setText(f"Global hotkey: {reason}" if available
                                   else f"Global hotkey unavailable: {reason}")
        self.fields["global_hotkey_enabled"].setEnabled(available)


class DesktopPage(OptionsPage):
    title = "Desktop"
    keys = ("close_to_tray", "start_hidden", "start_at_login", "earcons")


class HistoryPage(OptionsPage):
    title = "History"
    keys = ("keep_history", "start_with")


class SettingsDialog(QDialog):
    def __init__(self, store: SettingsStore, keys: KeyStore, list_devices: Callable[[str], list[str]],
                 rescan: Callable[[], None], global_status: Callable[[], tuple[bool, str]],
                 tools: ToolsService | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Parley settings")
        self.store = store
        self.pages: list[OptionsPage] = [ConnectionPage(keys), VoicePage(), TurnsPage(),
                                         AudioPage(list_devices, rescan), HotkeysPage(global_status),
                                         HistoryPage(), DesktopPage()]
        if tools is not None:
            from desktop.ui.tools_page import ToolsPage

            self.pages.append(ToolsPage(tools))
        self.tabs = QTabWidget(self)
        for page in self.pages:
            page.load(store)
            self.tabs.addTab(page, page.title)
        self.problem = QLabel(self)
        self.problem.setObjectName("settings_problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #e57373")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(560, 480)

    def show_global_status(self, available: bool, text: str) -> None:
        self.page(HotkeysPage).show_status(available, text)

    def page(self, kind: type[Page]) -> Page:
        return next(p for p in self.pages if isinstance(p, kind))

    def accept(self) -> None:
        for page in self.pages:
            problem = page.save(self.store)
            if problem:
                self.tabs.setCurrentWidget(page)
                self.problem.setText(problem)
                return
        self.store.sync()
        super().accept()
