"""The history in the window: a dialog listing conversations newest first, full-text search with the match
highlighted, one conversation shown read-only, delete one or all, export, and Continue; plus the window's
History button and Ctrl+N (see HistoryControls).

The dialog only draws: reads go through the store's async API (answered by its own thread), file writes run
in a worker thread, and confirmations are non-modal boxes (a nested exec() loop would stall the sockets).
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, QTimer
from PySide6.QtGui import QKeySequence, QPainter, QShortcut, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop.history.export import to_json, to_markdown
from desktop.history.models import ConversationRecord, ConversationSummary, SearchHit
from desktop.ui.transcript_view import TranscriptView

if TYPE_CHECKING:
    from desktop.app.history_recorder import HistoryRecorder
    from desktop.ui.main_window import MainWindow

LIST_LIMIT = 200
HTML_ROLE = Qt.ItemDataRole.UserRole + 1
TEXT_COLOUR = "#e6e9ef"
STYLE = """
QListWidget { background: #1b202b; color: #e6e9ef; border: 1px solid #3a4256; border-radius: 6px; outline: 0; }
QListWidget::item { padding: 7px 6px; border-bottom: 1px solid #262c39; }
QListWidget::item:selected { background: #2f3b55; color: #ffffff; }
QLabel#history_status { color: #8a93a6; }
"""
MATCH_STYLE = "background:#6b5a1e; color:#ffffff; font-weight:600"
Spawn = Callable[[Awaitable[Any]], Any]


def show_record(view: TranscriptView, record: ConversationRecord) -> None:
    """Fills a transcript view with a stored conversation, as it looked when it happened."""
    view.clear()
    for item in record.items:
        if item.kind == "function_call":
            view.add_tool_call(item.item_id, item.text, item.arguments, item.output)
        elif item.heard is not None:
            view.mark_truncated(item.item_id, item.heard, item.unheard)
        elif item.kind == "message":
            view.add_or_update(item.item_id, item.role, item.text, True)


def describe(summary: ConversationSummary) -> str:
    when = datetime.fromtimestamp(summary.started).strftime("%Y-%m-%d %H:%M")
    messages = f"{summary.items} message{'s' if summary.items != 1 else ''}"
    return f"{summary.title or '(no words yet)'}\n{when} · {messages} · ${summary.cost:.3f} · {summary.backend}"


def highlighted(hit: SearchHit) -> str:
    """The snippet as safe rich text: everything escaped, the matched words marked."""
    runs = [f"<span style='{MATCH_STYLE}'>{html.escape(text)}</span>" if match else html.escape(text)
            for text, match in hit.parts()]
    who = "You" if hit.role == "user" else "Parley"
    return f"<b>{html.escape(hit.title or '(untitled)')}</b><br><i>{who}:</i> {''.join(runs)}"


class RichTextDelegate(QStyledItemDelegate):
    """Draws an item's HTML (HTML_ROLE): only the rows on screen are laid out, unlike a label per row."""

    def _document(self, index: QModelIndex | QPersistentModelIndex, width: int) -> QTextDocument:
        document = QTextDocument()
        document.setDefaultStyleSheet(f"body {{ color: {TEXT_COLOUR}; }}")
        document.setHtml(f"<body>{index.data(HTML_ROLE)}</body>")
        document.setTextWidth(max(width, 120))
        return document

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        self.initStyleOption(option, index)
        option.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        rect = option.rect
        painter.save()
        painter.translate(rect.topLeft())
        self._document(index, rect.width()).drawContents(painter)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        widget = option.widget
        width = widget.viewport().width() if isinstance(widget, QListWidget) else 300
        document = self._document(index, width)
        return QSize(width, int(document.size().height()) + 2)


class HistoryDialog(QDialog):
    def __init__(self, recorder: HistoryRecorder, spawn: Spawn, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Parley history")
        self.setStyleSheet(STYLE)
        self.resize(900, 560)
        self.recorder = recorder
        self.store = recorder.store
        self._spawn = spawn
        self.shown_id: str | None = None
        self.record: ConversationRecord | None = None
        self.confirm_box: QMessageBox | None = None
        self.file_dialog: QFileDialog | None = None

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search all conversations")
        self.search.setClearButtonEnabled(True)
        self.status = QLabel(self)
        self.status.setObjectName("history_status")
        self.conversations = QListWidget(self)
        self.conversations.setObjectName("history_list")
        self.conversations.setWordWrap(True)
        self.results = QListWidget(self)
        self.results.setObjectName("history_results")
        self.results.setItemDelegate(RichTextDelegate(self.results))
        self.results.hide()
        self.transcript = TranscriptView(self)
        lists = QWidget(self)
        lists_layout = QVBoxLayout(lists)
        lists_layout.setContentsMargins(0, 0, 0, 0)
        lists_layout.addWidget(self.conversations)
        lists_layout.addWidget(self.results)
        splitter = QSplitter(self)
        splitter.addWidget(lists)
        splitter.addWidget(self.transcript)
        splitter.setSizes([330, 570])

        self.new_button = QPushButton("New conversation", self)
        self.new_button.setToolTip("Start afresh (Ctrl+N in the window): the model forgets what was said.")
        self.continue_button = QPushButton("Continue this conversation", self)
        self.markdown_button = QPushButton("Export Markdown…", self)
        self.json_button = QPushButton("Export JSON…", self)
        self.delete_button = QPushButton("Delete", self)
        self.delete_all_button = QPushButton("Delete all…", self)
        close = QPushButton("Close", self)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.continue_button, self.markdown_button, self.json_button,
                       self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_all_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(lambda: self._spawn(self.run_search()))
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self._refresh_timer = QTimer(self)  # while open, what is being said now shows up in the list
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(1000)
        self._refresh_timer.timeout.connect(self._refresh_live)
        recorder.changed.connect(self._refresh_timer.start)
        self.conversations.currentItemChanged.connect(self._picked)
        self.results.currentItemChanged.connect(self._picked)
        self.continue_button.clicked.connect(lambda: self._spawn(self.continue_shown()))
        self.new_button.clicked.connect(lambda: self._spawn(self.start_new()))
        self.markdown_button.clicked.connect(lambda: self.ask_export("markdown"))
        self.json_button.clicked.connect(lambda: self.ask_export("json"))
        self.delete_button.clicked.connect(self.ask_delete)
        self.delete_all_button.clicked.connect(self.ask_delete_all)
        close.clicked.connect(self.close)
        self._enable()

    # ------------------------------------------------------------------------------------------ reading

    async def refresh(self) -> None:
        """Reloads the list (newest first); keeps the shown conversation if it still exists."""
        try:
            summaries = await self.store.list(limit=LIST_LIMIT)
        except Exception as exc:  # a damaged file: say so, keep the window usable
            self.status.setText(f"The history cannot be read: {exc}")
            return
        self.conversations.blockSignals(True)  # rebuilding is not the user picking a conversation
        self.conversations.clear()
        for row, summary in enumerate(summaries):
            item = QListWidgetItem(describe(summary))
            item.setData(Qt.ItemDataRole.UserRole, summary.id)
            self.conversations.addItem(item)
            if summary.id == self.shown_id:
                self.conversations.setCurrentRow(row)
        if self.shown_id is not None and all(s.id != self.shown_id for s in summaries):
            self.conversations.setCurrentRow(-1)
            self._show(None)
        self.conversations.blockSignals(False)
        text = ("No conversations yet." if not summaries else
                f"{len(summaries)} most recent conversation{'s' if len(summaries) != 1 else ''}.")
        if not self.recorder.enabled:
            text += " Keeping a history is off (Settings → History): nothing new is written."
        self.status.setText(text)

    def _refresh_live(self) -> None:
        if self.isVisible() and not self.search.text().strip():
            self._spawn(self.refresh())

    async def run_search(self) -> None:
        text = self.search.text().strip()
        if not text:
            self.results.hide()
            self.conversations.show()
            await self.refresh()
            return
        hits = await self.store.search(text)
        self.results.clear()
        for hit in hits:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, hit.conversation_id)
            item.setData(HTML_ROLE, highlighted(hit))
            item.setToolTip(hit.title)
            self.results.addItem(item)
        self.conversations.hide()
        self.results.show()
        self.status.setText(f"{len(hits)} match{'es' if len(hits) != 1 else ''} for “{text}”.")

    def result_html(self) -> list[str]:
        return [str(self.results.item(i).data(HTML_ROLE)) for i in range(self.results.count())]

    def _picked(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None = None) -> None:
        if current is not None:
            self._spawn(self.open_conversation(current.data(Qt.ItemDataRole.UserRole)))

    async def open_conversation(self, conversation_id: str) -> None:
        self._show(await self.store.open(conversation_id))

    def _show(self, record: ConversationRecord | None) -> None:
        self.record = record
        self.shown_id = record.summary.id if record is not None else None
        if record is None:
            self.transcript.clear()
        else:
            show_record(self.transcript, record)
        self._enable()

    def _enable(self) -> None:
        for button in (self.continue_button, self.markdown_button, self.json_button, self.delete_button):
            button.setEnabled(self.record is not None)

    # ------------------------------------------------------------------------------------------ actions

    async def continue_shown(self) -> None:
        if self.shown_id is not None:
            conversation_id = self.shown_id
            self.close()
            await self.recorder.continue_conversation(conversation_id)

    async def start_new(self) -> None:
        self.close()
        await self.recorder.new_conversation()

    def ask_export(self, kind: str) -> QFileDialog:
        title = (self.record.summary.title if self.record else "") or "conversation"
        suffix = ".md" if kind == "markdown" else ".json"
        name = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()[:50] or "conversation"
        dialog = QFileDialog(self, "Export conversation", str(Path.home() / f"{name}{suffix}"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.setNameFilter("Markdown (*.md)" if kind == "markdown" else "JSON (*.json)")
        dialog.fileSelected.connect(lambda path: self._spawn(self.export_to(Path(path), kind)))
        self.file_dialog = dialog
        dialog.open()
        return dialog

    async def export_to(self, path: Path, kind: str) -> None:
        if self.record is None:
            return
        text = to_markdown(self.record) if kind == "markdown" else to_json(self.record)
        try:
            await asyncio.to_thread(_write_whole, path, text)
        except OSError as exc:
            self.status.setText(f"Could not export to {path}: {exc.strerror or exc}")
            return
        self.status.setText(f"Exported to {path}.")

    def ask_delete(self) -> QMessageBox | None:
        if self.record is None:
            return None
        conversation_id, title = self.record.summary.id, self.record.summary.title or "this conversation"
        return self._confirm(f"Delete “{title}” from the history?", lambda: self._spawn(self.delete(conversation_id)))

    def ask_delete_all(self) -> QMessageBox:
        return self._confirm("Delete every conversation in the history? This cannot be undone.",
                             lambda: self._spawn(self.delete_all()))

    async def delete(self, conversation_id: str) -> None:
        await self.store.delete(conversation_id)
        if self.recorder.current == conversation_id:
            self.recorder.current = None  # what is said next goes into a new conversation
        await self.refresh()

    async def delete_all(self) -> None:
        await self.store.delete_all()
        self.recorder.current = None
        self._show(None)
        self.search.clear()
        await self.refresh()
        self.status.setText("The history is empty; the file was compacted.")

    def _confirm(self, question: str, on_yes: Callable[[], Any]) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Warning, "Parley history", question,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: on_yes() if box.standardButton(button)
                                  == QMessageBox.StandardButton.Yes else None)
        self.confirm_box = box
        box.open()
        return box


def _write_whole(path: Path, text: str) -> None:
    """Writes beside the target, then renames: the file is either absent or complete, never half written."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, "utf-8")
    partial.replace(path)


class HistoryControls(QObject):
    """What the history adds to the main window: a History button, Ctrl+N, and the transcript following
    conversation switches."""

    def __init__(self, window: MainWindow, recorder: HistoryRecorder) -> None:
        super().__init__(window)
        self.window = window
        self.recorder = recorder
        self.dialog: HistoryDialog | None = None
        self.button = QPushButton("History", window)
        self.button.setToolTip("Earlier conversations: search, continue, export or delete them (Ctrl+N starts "
                               "a new one).")
        window.status_row.insertWidget(window.status_row.indexOf(window.settings_button), self.button)
        self.button.clicked.connect(self.open)
        self.new_shortcut = QShortcut(QKeySequence.StandardKey.New, window)
        self.new_shortcut.activated.connect(self.new_conversation)
        recorder.conversation_started.connect(self._started)
        recorder.conversation_continued.connect(self._continued)

    def open(self) -> HistoryDialog:
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        self.dialog = HistoryDialog(self.recorder, self.window.controller.spawn, self.window)
        self.dialog.finished.connect(self._closed)
        self.window.controller.spawn(self.dialog.refresh())
        self.dialog.show()
        return self.dialog

    def new_conversation(self) -> None:
        self.window.controller.spawn(self.recorder.new_conversation())

    def _closed(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = None

    def _started(self) -> None:
        self.window.transcript.clear()
        self.window.show_cost("", "A new conversation.")

    def _continued(self, record: ConversationRecord) -> None:
        show_record(self.window.transcript, record)
        self.window.transcript.add_notice("Continued from the history: the model has heard the text above.")
        self.window.show_cost("", f"A new session; this conversation cost ${record.summary.cost:.3f} before.")
