"""The clipboard and link tools through real Qt: the offscreen clipboard, and QDesktopServices with URL handlers
registered for the schemes (Qt's own hook for who opens a link) recording instead of starting a browser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

from desktop.app.desktop_bridge import app_registry, clipboard_text, open_in_browser
from desktop.tools.registry import ToolRegistry
from desktop.tools.timers import TimerBook


class LinkRecorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def record(self, url: QUrl) -> None:
        self.opened.append(url.toString())


SCHEMES = ("http", "https", "mailto", "file", "javascript")


@pytest.fixture
def links(qapp: object) -> Iterator[LinkRecorder]:
    recorder = LinkRecorder()
    for scheme in SCHEMES:
        QDesktopServices.setUrlHandler(scheme, recorder, "record")
    yield recorder
    for scheme in SCHEMES:
        QDesktopServices.unsetUrlHandler(scheme)


@pytest.fixture
def registry(tmp_path: Path, qapp: object) -> ToolRegistry:
    return app_registry(TimerBook(tmp_path / "timers.json"))


def call(registry: ToolRegistry, name: str, **arguments: object) -> dict[str, object]:
    out = json.loads(asyncio.run(registry.call(name, json.dumps(arguments))))
    assert isinstance(out, dict)
    return out


def test_reads_what_was_copied(registry: ToolRegistry) -> None:
    QGuiApplication.clipboard().setText("the dentist: 555 0142")
    assert clipboard_text() == "the dentist: 555 0142"
    assert call(registry, "read_clipboard")["text"] == "the dentist: 555 0142"


def test_an_image_on_the_clipboard_is_no_text(registry: ToolRegistry) -> None:
    mime = QMimeData()
    image = QImage(4, 4, QImage.Format.Format_RGB32)
    image.fill(0)
    mime.setImageData(image)
    QGuiApplication.clipboard().setMimeData(mime)
    assert clipboard_text() is None
    assert call(registry, "read_clipboard") == {"text": "", "empty": True, "note": "the clipboard holds no text"}


def test_links_reach_the_desktop_and_bad_ones_never_do(registry: ToolRegistry, links: LinkRecorder) -> None:
    assert call(registry, "open_url", url="https://example.org/a?b=1") == {"opened": "https://example.org/a?b=1"}
    assert call(registry, "open_url", url="mailto:someone@example.org")["opened"]
    for refused in ("file:///etc/passwd", "javascript:alert(1)"):
        assert "refused" in str(call(registry, "open_url", url=refused)["error"])
    assert links.opened == ["https://example.org/a?b=1", "mailto:someone@example.org"]
    assert open_in_browser("http://127.0.0.1:1/") is True and links.opened[-1] == "http://127.0.0.1:1/"
