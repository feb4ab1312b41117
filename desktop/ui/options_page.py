"""A settings page built from the declared settings: one field widget per setting (type, choices, bounds, the
description as tooltip), with load() and save(). The settings dialog and pages in other modules (Tools) build on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

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
