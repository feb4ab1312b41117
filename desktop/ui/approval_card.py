"""The question "may Parley run this tool?", asked in the conversation column, under the transcript.

One card at a time (several waiting calls queue behind it, "1 more waiting"), so the keyboard always has one
obvious target: the card takes the focus when it appears, Enter allows, Esc denies, Alt+A / Alt+D / Alt+W press
Allow / Deny / Always allow, and the focus goes back where it was once the card is answered. A question that ends
on its own (no answer in time, the user talked over it) leaves without an answer from the card.

The arguments are shown as indented JSON in plain text (never rich text: the model wrote them).
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.tools.approvals import Answer, ApprovalRequest

MAX_ARGUMENT_LINES = 14
MAX_ARGUMENT_CHARS = 1500
KEY_GUARD_MS = 400  # Enter or Esc this soon after the card appeared was meant for what had the focus before

STYLE = """
QFrame#approval_card { background: #2b2618; border: 1px solid #d8b26a; border-radius: 8px; }
QFrame#approval_card QLabel { color: #e6e9ef; background: transparent; border: none; }
QLabel#approval_title { font-size: 14px; font-weight: 600; }
QLabel#approval_source, QLabel#approval_queue, QLabel#approval_hint { color: #a3abbd; }
QFrame#approval_card QLabel#approval_arguments { background: #1f1c14; border: 1px solid #3d3522;
    border-radius: 6px; padding: 6px; color: #f0dfb4; }
QPushButton { background: #2a3040; color: #e6e9ef; border: 1px solid #3a4256; border-radius: 6px; padding: 6px 14px; }
QPushButton:focus { border: 2px solid #d8b26a; }
QPushButton#approval_allow { background: #2e7d5b; border-color: #2e7d5b; }
QPushButton#approval_allow:focus { border: 2px solid #f0dfb4; }
QPushButton#approval_deny { background: #8a3b3b; border-color: #8a3b3b; }
QPushButton#approval_deny:focus { border: 2px solid #f0dfb4; }
"""


def source_label(source: str) -> str:
    return "Built-in tool" if source == "builtin" else f"MCP server “{source}”"


def shown_arguments(request: ApprovalRequest) -> str:
    """The pretty-printed arguments, cut to a size a card can show (the model gets them whole)."""
    text = request.pretty_arguments()
    lines = text.splitlines()
    if len(lines) > MAX_ARGUMENT_LINES:
        text = "\n".join([*lines[:MAX_ARGUMENT_LINES], f"… ({len(lines) - MAX_ARGUMENT_LINES} more lines)"])
    if len(text) > MAX_ARGUMENT_CHARS:
        text = text[:MAX_ARGUMENT_CHARS] + "…"
    return text


class ApprovalCard(QFrame):
    answered = Signal(str, object)  # call_id, Answer

    def __init__(self, request: ApprovalRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self.setObjectName("approval_card")
        self.setStyleSheet(STYLE)
        self.setAccessibleName(f"Approval needed for {request.title}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        title = QLabel(f"Allow Parley to use “{request.title}”?", self)
        title.setObjectName("approval_title")
        title.setTextFormat(Qt.TextFormat.PlainText)
        source = QLabel(source_label(request.source) + (f" · {request.description}" if request.description else ""),
                        self)
        source.setObjectName("approval_source")
        source.setTextFormat(Qt.TextFormat.PlainText)
        source.setWordWrap(True)
        self.arguments = QLabel(shown_arguments(request), self)
        self.arguments.setObjectName("approval_arguments")
        self.arguments.setTextFormat(Qt.TextFormat.PlainText)
        self.arguments.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.arguments.setFont(mono)
        self.arguments.setWordWrap(True)
        self.queue = QLabel("", self)
        self.queue.setObjectName("approval_queue")
        self.hint = QLabel(self)
        self.hint.setObjectName("approval_hint")
        self.allow = self._button("&Allow", "approval_allow", Answer.ALLOW)
        self.deny = self._button("&Deny", "approval_deny", Answer.DENY)
        self.always = self._button("Al&ways allow this tool", "approval_always", Answer.ALWAYS)
        buttons = QHBoxLayout()
        buttons.addWidget(self.allow)
        buttons.addWidget(self.deny)
        buttons.addWidget(self.always)
        buttons.addStretch(1)
        buttons.addWidget(self.queue)
        buttons.addWidget(self.hint)
        layout.addWidget(title)
        layout.addWidget(source)
        layout.addWidget(self.arguments)
        layout.addLayout(buttons)
        self.setFocusProxy(self.allow)
        self._shown = QElapsedTimer()
        self._shown.start()
        self._clock = QTimer(self)  # the time left, once a second: no answer is a Deny, the user should see when
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._clock.start()
        self._tick()

    def _tick(self) -> None:
        self.hint.setText(f"Enter allows · Esc denies · {self.request.seconds_left():.0f} s left")

    def accepts_keys(self) -> bool:
        """False just after the card appeared: an Enter typed to send a message must not allow a tool."""
        return self._shown.elapsed() >= KEY_GUARD_MS

    def _button(self, text: str, name: str, answer: Answer) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.clicked.connect(lambda: self.answer(answer))
        return button

    def answer(self, answer: Answer) -> None:
        self.answered.emit(self.request.call_id, answer)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter presses the focused button (Allow unless the user tabbed to another); Esc denies."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape) and not self.accepts_keys():
            event.accept()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            focused = self.focusWidget()
            (focused if isinstance(focused, QPushButton) and focused.parent() is self else self.allow).click()
        elif event.key() == Qt.Key.Key_Escape:
            self.deny.click()
        else:
            super().keyPressEvent(event)


class ApprovalTray(QWidget):
    """Holds the card being asked and the queue behind it; hidden while nothing is asked."""

    answered = Signal(str, object)  # call_id, Answer

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("approval_tray")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._waiting: list[ApprovalRequest] = []
        self.card: ApprovalCard | None = None
        self._focus_before: QWidget | None = None
        self.hide()

    def show_request(self, request: ApprovalRequest) -> None:
        self._waiting.append(request)
        if self.card is None:
            self._next()
        else:
            self._update_queue()

    def close_request(self, call_id: str, _outcome: str = "") -> None:
        """The question is settled (answered, timed out or cancelled): its card or queue entry goes."""
        self._waiting = [r for r in self._waiting if r.call_id != call_id]
        if self.card is not None and self.card.request.call_id == call_id:
            self._drop_card()
            self._next()
        else:
            self._update_queue()

    def pending(self) -> list[str]:
        return [r.call_id for r in self._waiting]

    def _next(self) -> None:
        if not self._waiting:
            self.hide()
            if self._focus_before is not None:
                self._focus_before.setFocus(Qt.FocusReason.OtherFocusReason)
            self._focus_before = None
            return
        card = ApprovalCard(self._waiting[0], self)
        card.answered.connect(self.answered)
        self.card = card
        self._layout.addWidget(card)
        self._update_queue()
        self.show()
        if self._focus_before is None:
            focus = self.window().focusWidget()
            self._focus_before = focus if focus is not None and not self.isAncestorOf(focus) else None
        card.allow.setFocus(Qt.FocusReason.OtherFocusReason)
        QApplication.alert(self.window())  # the taskbar entry asks for attention when the window is not in front

    def _drop_card(self) -> None:
        if self.card is not None:
            self.card.hide()
            self._layout.removeWidget(self.card)
            self.card.deleteLater()
            self.card = None

    def _update_queue(self) -> None:
        if self.card is not None:
            more = len(self._waiting) - 1
            self.card.queue.setText(f"{more} more waiting" if more > 0 else "")
