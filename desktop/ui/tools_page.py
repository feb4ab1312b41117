"""Settings → Tools: every source of tools (Built-in, each MCP server) with its state, and every tool with its
on/off switch and approval policy. "Reload" re-reads mcp.json.

The page is a view over ToolsService.catalogue(): it redraws when the service says something changed (a server
came up, failed, or changed its tools). Switch and policy changes are kept as edits and applied when the dialog's
OK is pressed, like every other page; a redraw keeps them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop.app.settings import SettingsStore
from desktop.app.tools_service import SourceRow, ToolRow, ToolsService
from desktop.tools.approvals import Policy
from desktop.ui.options_page import OptionsPage

POLICY_LABELS: tuple[tuple[Policy, str], ...] = (("ask", "Ask first"), ("allow", "Always allow"), ("deny", "Never"))
STATE_COLOURS = {"ready": "#66bb6a", "starting": "#ffca28", "restarting": "#ffca28", "failed": "#ef5350"}
STDERR_LINES = 6

STYLE = """
QScrollArea, QWidget#tools_list { background: transparent; border: none; }
QFrame#tool_source { background: #1f2430; border: 1px solid #3a4256; border-radius: 6px; }
QLabel#source_title { font-weight: 600; }
QLabel#source_stderr { background: #161a22; color: #c9a0a0; border-radius: 4px; padding: 4px; }
QLabel#tool_tag { color: #a3abbd; }
QLabel#tool_description { color: #8a93a6; }
QLabel#tools_problem { color: #e57373; }
"""


class ToolsPage(OptionsPage):
    title = "Tools"

    def __init__(self, service: ToolsService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.edits: dict[str, tuple[bool, Policy]] = {}
        self.setStyleSheet(STYLE)
        intro = QLabel("Tools the assistant may use. Read-only tools run at once unless you choose otherwise; "
                       "others ask first. Servers are declared in mcp.json.", self)
        intro.setWordWrap(True)
        self.reload_button = QPushButton("&Reload", self)
        self.reload_button.setObjectName("tools_reload")
        self.reload_button.setToolTip(f"Re-read {service.mcp_config} and restart the servers that changed.")
        self.reload_button.clicked.connect(service.reload)
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        top.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignTop)
        self.form.addRow(top)
        self.problems = QLabel(self)
        self.problems.setObjectName("tools_problem")
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.PlainText)
        self.form.addRow(self.problems)
        self.list_area = QScrollArea(self)
        self.list_area.setWidgetResizable(True)
        self.list_area.setFrameShape(QFrame.Shape.NoFrame)
        self.form.addRow(self.list_area)
        self.switches: dict[str, QCheckBox] = {}
        self.policies: dict[str, QComboBox] = {}
        service.catalogue_changed.connect(self.redraw)
        self.redraw()

    def load(self, store: SettingsStore) -> None:
        self.edits.clear()
        self.redraw()

    def save(self, store: SettingsStore) -> str | None:
        current = {tool.key: tool for source in self.service.catalogue() for tool in source.tools}
        for key, (enabled, policy) in self.edits.items():
            tool = current.get(key)
            if tool is None:  # its server went away meanwhile; the choice cannot be kept without the tool
                continue
            if enabled != tool.enabled:
                self.service.set_enabled(key, enabled)
            if policy != tool.policy:
                self.service.set_policy(key, policy)
        self.edits.clear()
        return None

    # --- drawing

    def redraw(self) -> None:
        problems = self.service.problems()
        self.problems.setText("\n".join(problems))
        self.problems.setVisible(bool(problems))
        content = QWidget()
        content.setObjectName("tools_list")
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 4, 0)
        self.switches.clear()
        self.policies.clear()
        for source in self.service.catalogue():
            column.addWidget(self._source(source, content))
        column.addStretch(1)
        self.list_area.setWidget(content)  # the previous content is deleted by the scroll area

    def _source(self, source: SourceRow, parent: QWidget) -> QFrame:
        box = QFrame(parent)
        box.setObjectName("tool_source")
        layout = QVBoxLayout(box)
        colour = STATE_COLOURS.get(source.state, "#90a4ae")
        state = source.state + (f": {source.detail}" if source.state == "failed" and source.detail else "")
        detail = f" · {source.detail}" if source.state != "failed" and source.detail else ""
        title = QLabel(f"<span style='color:{colour}'>●</span> {_escape(source.label)} "
                       f"<span style='color:#a3abbd'>— {_escape(state)}{_escape(detail)}</span>", box)
        title.setObjectName("source_title")
        title.setWordWrap(True)
        layout.addWidget(title)
        if source.stderr_tail.strip():
            tail = "\n".join(source.stderr_tail.strip().splitlines()[-STDERR_LINES:])
            stderr = QLabel(tail, box)
            stderr.setObjectName("source_stderr")
            stderr.setTextFormat(Qt.TextFormat.PlainText)
            stderr.setFont(_mono())
            stderr.setWordWrap(True)
            stderr.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(stderr)
        for tool in source.tools:
            layout.addLayout(self._tool(tool, box))
        return box

    def _tool(self, tool: ToolRow, parent: QWidget) -> QHBoxLayout:
        enabled, policy = self.edits.get(tool.key, (tool.enabled, tool.policy))
        switch = QCheckBox(tool.title, parent)
        switch.setObjectName(f"tool_enabled:{tool.key}")
        switch.setChecked(enabled)
        switch.setToolTip(f"{tool.description}\n(offered to the model as {tool.name})".strip())
        combo = QComboBox(parent)
        combo.setObjectName(f"tool_policy:{tool.key}")
        for value, label in POLICY_LABELS:
            combo.addItem(label, value)
        combo.setCurrentIndex(combo.findData(policy))
        combo.setEnabled(enabled)
        combo.setToolTip("Whether this tool runs at once, asks you each time, or never runs.")
        switch.toggled.connect(lambda on: self._edit(tool, enabled=on))
        combo.currentIndexChanged.connect(lambda i: self._edit(tool, policy=combo.itemData(i)))
        self.switches[tool.key], self.policies[tool.key] = switch, combo
        about = QLabel(tool.description, parent)
        about.setObjectName("tool_description")
        about.setTextFormat(Qt.TextFormat.PlainText)
        about.setMinimumWidth(40)
        about.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # cut, never widening
        row = QHBoxLayout()
        row.addWidget(switch)
        row.addWidget(about, 1)
        if tool.read_only:
            tag = QLabel("read-only", parent)
            tag.setObjectName("tool_tag")
            row.addWidget(tag)
        row.addWidget(combo)
        return row

    def _edit(self, tool: ToolRow, *, enabled: bool | None = None, policy: Policy | None = None) -> None:
        old_enabled, old_policy = self.edits.get(tool.key, (tool.enabled, tool.policy))
        new = (old_enabled if enabled is None else enabled, old_policy if policy is None else policy)
        self.edits[tool.key] = new
        self.policies[tool.key].setEnabled(new[0])


def _mono() -> QFont:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
