"""The conversation as it streams in: one framed entry per item id, rewritten in place on every update.

Each entry lives in its own QTextFrame, so a delta for an earlier item (the user's transcript often completes
after the assistant has started) rewrites only that frame, and later entries keep their place. Text goes in
through QTextCursor.insertText with explicit formats, never as HTML, so a transcript cannot inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import (
    QColor,
    QFont,
    QTextCharFormat,
    QTextCursor,
    QTextFrame,
    QTextFrameFormat,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

USER_COLOUR = QColor("#4fc08d")
ASSISTANT_COLOUR = QColor("#7aa2f7")
TEXT_COLOUR = QColor("#e6e9ef")
PENDING_COLOUR = QColor("#a3abbd")
UNHEARD_COLOUR = QColor("#6b7385")
NOTICE_COLOUR = QColor("#8a93a6")
TOOL_COLOUR = QColor("#d8b26a")
USER_BACKGROUND = QColor("#1d2a25")
ASSISTANT_BACKGROUND = QColor("#1e2433")
TOOL_BACKGROUND = QColor("#242219")
MAX_TOOL_TEXT = 160
STICK_THRESHOLD = 24  # pixels from the bottom that still count as "at the bottom"

STYLE = "QTextBrowser { background: #161a22; color: #e6e9ef; border: none; }"


@dataclass
class _Entry:
    kind: str  # "user", "assistant", "tool", "notice"
    frame: QTextFrame
    text: str = ""
    final: bool = False
    heard: str | None = None  # set once the item was cut off
    unheard: str = ""
    tool_name: str = ""
    tool_arguments: str = ""
    tool_output: str | None = None
    tool_note: str = ""  # while no output: what the call waits for ("waiting for your approval")


def _shorten(text: str, limit: int = MAX_TOOL_TEXT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class TranscriptView(QTextBrowser):
    """Driven by the controller's signals; holds no conversation state beyond what it displays."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setUndoRedoEnabled(False)
        self.setStyleSheet(STYLE)
        self.document().setDocumentMargin(10)
        self._entries: dict[str, _Entry] = {}
        self._notices = 0
        self._stick = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._scrolled)
        bar.rangeChanged.connect(self._range_changed)

    # --- public API

    def add_or_update(self, item_id: str, role: str, text: str, final: bool) -> None:
        entry = self._entries.get(item_id)
        if entry is None:
            kind = "user" if role == "user" else "assistant"
            entry = self._new_entry(item_id, kind)
        if entry.heard is not None:
            # A late transcript for a cut-off item: what was heard stays heard, the rest is the unheard part.
            if text.startswith(entry.heard):
                entry.unheard = text[len(entry.heard):]
        else:
            entry.text = text
        entry.final = final
        self._render(entry)

    def mark_truncated(self, item_id: str, heard_text: str, unheard_text: str) -> None:
        entry = self._entries.get(item_id) or self._new_entry(item_id, "assistant")
        entry.heard = heard_text
        entry.unheard = unheard_text
        entry.text = heard_text + unheard_text
        entry.final = True
        self._render(entry)

    def add_tool_call(self, call_id: str, name: str, arguments: str, output: str | None = None) -> None:
        key = f"tool:{call_id}"
        entry = self._entries.get(key) or self._new_entry(key, "tool")
        entry.tool_name = name or entry.tool_name
        entry.tool_arguments = arguments if arguments else entry.tool_arguments
        if output is not None:
            entry.tool_output = output
        self._render(entry)

    def set_tool_note(self, call_id: str, note: str = "") -> None:
        entry = self._entries.get(f"tool:{call_id}")
        if entry is not None:
            entry.tool_note = note
            self._render(entry)

    def add_notice(self, text: str) -> None:
        self._notices += 1
        entry = self._new_entry(f"notice:{self._notices}", "notice")
        entry.text = text
        self._render(entry)

    def clear(self) -> None:
        self._entries.clear()
        self._notices = 0
        self._stick = True
        super().clear()

    # --- queries for the window and tests

    def has_item(self, item_id: str) -> bool:
        return item_id in self._entries

    def plain_text(self) -> str:
        return self.document().toPlainText()

    # --- rendering

    def _new_entry(self, key: str, kind: str) -> _Entry:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextFrameFormat()
        fmt.setPadding(6 if kind in ("user", "assistant") else 3)
        fmt.setTopMargin(4)
        fmt.setBottomMargin(4)
        fmt.setBorder(0)
        background = {"user": USER_BACKGROUND, "assistant": ASSISTANT_BACKGROUND, "tool": TOOL_BACKGROUND}
        if kind in background:
            fmt.setBackground(background[kind])
        if kind == "user":
            fmt.setLeftMargin(60)
        elif kind == "assistant":
            fmt.setRightMargin(60)
        frame = cursor.insertFrame(fmt)
        entry = _Entry(kind=kind, frame=frame)
        self._entries[key] = entry
        return entry

    def _render(self, entry: _Entry) -> None:
        cursor = QTextCursor(self.document())
        cursor.setPosition(entry.frame.firstPosition())
        cursor.setPosition(entry.frame.lastPosition(), QTextCursor.MoveMode.KeepAnchor)
        cursor.beginEditBlock()
        cursor.removeSelectedText()
        if entry.kind in ("user", "assistant"):
            self._write_turn(cursor, entry)
        elif entry.kind == "tool":
            self._write_tool(cursor, entry)
        else:
            cursor.insertText(entry.text, _char(NOTICE_COLOUR, italic=True, scale=0.9))
        cursor.endEditBlock()

    def _write_turn(self, cursor: QTextCursor, entry: _Entry) -> None:
        colour = USER_COLOUR if entry.kind == "user" else ASSISTANT_COLOUR
        cursor.insertText("You" if entry.kind == "user" else "Parley", _char(colour, bold=True, scale=0.85))
        cursor.insertBlock()
        if entry.heard is not None:
            cursor.insertText(entry.heard, _char(TEXT_COLOUR))
            if entry.unheard:
                cursor.insertText(entry.unheard, _char(UNHEARD_COLOUR, strike=True))
            cursor.insertText("  (interrupted)", _char(NOTICE_COLOUR, italic=True, scale=0.85))
        elif entry.text:
            cursor.insertText(entry.text, _char(TEXT_COLOUR if entry.final else PENDING_COLOUR))
        elif not entry.final:
            cursor.insertText("…", _char(PENDING_COLOUR))

    def _write_tool(self, cursor: QTextCursor, entry: _Entry) -> None:
        mono = _char(TOOL_COLOUR, scale=0.9)
        mono.setFontFamilies(["monospace"])
        mono.setFontFixedPitch(True)
        cursor.insertText(f"⚙ {entry.tool_name}({_shorten(entry.tool_arguments)})", mono)
        if entry.tool_output is None:
            cursor.insertText(f"  … {entry.tool_note or 'running'}", _char(NOTICE_COLOUR, italic=True, scale=0.9))
        else:
            result = _char(PENDING_COLOUR, scale=0.9)
            result.setFontFamilies(["monospace"])
            cursor.insertText(f"  → {_shorten(entry.tool_output)}", result)

    # --- auto-scroll: follow new text only while the user is at the bottom

    def _scrolled(self, value: int) -> None:
        self._stick = value >= self.verticalScrollBar().maximum() - STICK_THRESHOLD

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._stick:
            self.verticalScrollBar().setValue(maximum)

    def is_following(self) -> bool:
        """True while new text scrolls into view; False after the user scrolled up to read."""
        return self._stick


def _char(colour: QColor, bold: bool = False, italic: bool = False, strike: bool = False,
          scale: float = 1.0) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(colour)
    if bold:
        fmt.setFontWeight(QFont.Weight.DemiBold)
    fmt.setFontItalic(italic)
    fmt.setFontStrikeOut(strike)
    if scale != 1.0:
        fmt.setFontPointSize(max(7.0, QFont().pointSizeF() * scale))
    return fmt
