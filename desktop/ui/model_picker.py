"""The model field of Settings → Connection: the catalogue's models to pick from (any other name can still be
typed, e.g. an Azure deployment), with the chosen model's protocol and list price shown beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from desktop.core.models import CATALOGUE, find


class ModelPicker(QComboBox):
    """Items carry no data, so the settings page reads the text: a picked id or a typed name alike."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("model")
        self.setEditable(True)
        for index, model in enumerate(CATALOGUE):
            self.addItem(model.id)
            self.setItemData(index, f"{model.label}: {model.price_text()}", Qt.ItemDataRole.ToolTipRole)
        self.setToolTip("Realtime or GPT-Live model (or an Azure deployment name).")
        self.price = QLabel(parent)
        self.price.setObjectName("model_price")
        self.price.setWordWrap(True)
        self.currentTextChanged.connect(self._describe)
        self._describe(self.currentText())

    def _describe(self, name: str) -> None:
        model = find(name)
        if model is None:
            self.price.setText("Not in Parley's catalogue: its price is unknown, so the meter counts tokens.")
        else:
            protocol = "GPT-Live (full duplex)" if model.protocol == "live" else "Realtime"
            self.price.setText(f"{model.label} · {protocol} · {model.price_text()}")
