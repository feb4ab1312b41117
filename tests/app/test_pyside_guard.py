"""Fails fast on the PySide6 6.12 + CPython 3.11 bug that drops a reference to None on every void call and aborts
the interpreter at exit after an otherwise green run."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel


def test_void_calls_keep_none_refcount(qapp: QApplication) -> None:
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(200):
        label.setText("x")
    assert sys.getrefcount(None) - before > -50
