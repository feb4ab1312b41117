"""The settings dialog: small pages, each with load() and save(), over the settings declared in one place.

Fields are built from the declarations (type, choices, bounds, description as tooltip), so adding a setting never
means writing another widget by hand. The API key is the exception on purpose: it goes to the keyring, is never
shown back, and a refused keyring keeps the dialog open with the key still typed in, instead of losing it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.app.secrets import ENV_VAR, KeyStore, KeyStoreUnavailable, backend_name
from desktop.app.settings import Setting, SettingsStore, setting

FieldWidget = QLineEdit | QPlainTextEdit | QComboBox | QCheckBox | QSpinBox | QDoubleSpinBox

CHOICE_LABELS = {
    "auto": "Automatic", "offline": "Offline engine (on this computer)", "openai": "OpenAI",
    "custom": "Custom endpoint", "bearer": "Bearer token (OpenAI)", "api-key": "api-key header (Azure OpenAI)",
    "none": "None (local server)", "push_to_talk": "Push-to-talk", "server_vad": "Hands-free (voice activity)",
    "semantic_vad": "Hands-free (semantic turn detection)", "near_field": "Near field (headset, laptop)",
    "far_field": "Far field (room microphone)", "off": "Off", "low": "Low", "medium": "Medium", "high": "High",
}


def make_field(decl: Setting[Any], parent: QWidget) -> FieldWidget:
    widget: FieldWidget
    if decl.choices:
        widget = QComboBox(parent)
        for choice in decl.choices:
            widget.addItem(CHOICE_LABELS.get(choice, choice), choice)
    elif decl.type is bool:
        widget = QCheckBox(decl.description, parent)
    elif decl.type is int:
        widget = QSpinBox(parent)
        widget.setRange(int(decl.minimum or 0), int(decl.maximum or 1_000_000))
        if decl.unit:
            widget.setSuffix(f" {decl.unit}")
        if decl.zero_label:
            widget.setSpecialValueText(decl.zero_label)
    elif decl.type is float:
        widget = QDoubleSpinBox(parent)
        widget.setRange(decl.minimum or 0.0, decl.maximum or 1e6)
        widget.setSingleStep(0.05)
    elif decl.key == "instructions":
        widget = QPlainTextEdit(parent)
        widget.setFixedHeight(90)
    else:
        widget = QLineEdit(parent)
    widget.setToolTip(decl.description)
    widget.setObjectName(decl.key)
    return widget


def read_field(widget: FieldWidget) -> Any:
    if isinstance(widget, QComboBox):
        data = widget.currentData()
        return data if data is not None else widget.currentText()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QSpinBox | QDoubleSpinBox):
        return widget.value()
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText()
    return widget.text()


def write_field(widget: FieldWidget, value: Any) -> None:
    if isinstance(widget, QComboBox):
        index = widget.findData(value)
        if index < 0 and widget.isEditable():
            widget.setEditText(str(value))
        else:
            widget.setCurrentIndex(max(index, 0))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QDoubleSpinBox):
        widget.setValue(float(value))
    elif isinstance(widget, QPlainTextEdit):
        widget.setPlainText(str(value))
    else:
        widget.setText(str(value))


class OptionsPage(QWidget):
    """A page showing some declared settings; subclasses add what is not a plain setting."""

    title = ""
    keys: Sequence[str] = ()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.fields: dict[str, FieldWidget] = {}
        for key in self.keys:
            decl = setting(key)
            field = make_field(decl, self)
            self.fields[key] = field
            label = "" if isinstance(field, QCheckBox) else decl.label or decl.key
            self.form.addRow(label, field)

    def load(self, store: SettingsStore) -> None:
        for key, field in self.fields.items():
            write_field(field, store.get(key))

    def save(self, store: SettingsStore) -> str | None:
        """Writes the fields; returns a message when something could not be saved (the dialog stays open)."""
        for key, field in self.fields.items():
            try:
                store.set(key, read_field(field))
            except ValueError as exc:
                return str(exc)
        return None


class ConnectionPage(OptionsPage):
    title = "Connection"
    keys = ("backend", "endpoint_url", "auth_style", "model")

    def __init__(self, keys: KeyStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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


class SettingsDialog(QDialog):
    def __init__(self, store: SettingsStore, keys: KeyStore, list_devices: Callable[[str], list[str]],
                 rescan: Callable[[], None], global_status: Callable[[], tuple[bool, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Parley settings")
        self.store = store
        self.pages: list[OptionsPage] = [ConnectionPage(keys), VoicePage(), TurnsPage(),
                                         AudioPage(list_devices, rescan), HotkeysPage(global_status),
                                         DesktopPage()]
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
        page = self.page(HotkeysPage)
        assert isinstance(page, HotkeysPage)
        page.show_status(available, text)

    def page(self, kind: type[OptionsPage]) -> OptionsPage:
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
