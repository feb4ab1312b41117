"""The desktop reached through Qt for the built-in tools: the clipboard and the default browser.

Qt's clipboard and QDesktopServices belong to the GUI thread; tool calls run on the qasync loop, which is that
thread, so these plain functions are injected into the Qt-free tools (desktop/tools/desktop_actions.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

if TYPE_CHECKING:
    from desktop.tools.registry import ToolRegistry
    from desktop.tools.timers import TimerBook


def clipboard_text() -> str | None:
    """The clipboard's text, or None when it holds none (empty, or only an image)."""
    mime = QGuiApplication.clipboard().mimeData()
    if mime is None or not mime.hasText():
        return None
    return mime.text()


def open_in_browser(url: str) -> bool:
    """Hands a checked http(s)/mailto URL to the desktop; False when nothing could open it."""
    target = QUrl(url, QUrl.ParsingMode.StrictMode)
    return target.isValid() and QDesktopServices.openUrl(target)


def app_registry(timers: TimerBook) -> ToolRegistry:
    """Every built-in tool, with the app's timer book and the desktop reached through Qt."""
    from desktop.tools.builtin import default_registry

    return default_registry(timers, clipboard_text, open_in_browser)
