"""Everything about tools the app needs, behind one QObject: the registry, the user's per-tool choices, the
approval gate, and (when present) the MCP host.

Every call goes the same way: the tool must exist and be switched on, its arguments must match its JSON schema,
its policy decides whether it runs, asks the user (through `approval_requested`, answered by `answer()`), or is
refused; only then does the registry run it. Whatever happens, `run()` returns a JSON string for the model.

Calls the user abandons (talking again, Stop) are cancelled through `cancel()` and answered as cancelled; a
cancelled MCP call is cancelled at its server by the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop.tools.approvals import (
    APPROVAL_TIMEOUT_S,
    Answer,
    ApprovalGate,
    ApprovalRequest,
    JsonPolicyStore,
    Policy,
    ToolPolicies,
    tool_key,
)
from desktop.tools.builtin import default_registry
from desktop.tools.mcp.config import config_path
from desktop.tools.registry import Tool, ToolRegistry
from desktop.tools.validation import InvalidArguments

if TYPE_CHECKING:
    from desktop.core.effects import FunctionCallRequested
    from desktop.tools.mcp.host import McpHost

log = logging.getLogger(__name__)

BUILTIN = "builtin"


@dataclass(frozen=True)
class ToolRow:
    """One tool as the Tools page shows it."""

    key: str
    name: str
    title: str
    description: str
    read_only: bool
    enabled: bool
    policy: Policy


@dataclass(frozen=True)
class SourceRow:
    """Built-in tools or one MCP server: its state ("starting", "ready", "failed", ...) and its tools."""

    name: str
    label: str
    state: str
    detail: str
    stderr_tail: str
    tools: tuple[ToolRow, ...]


class ToolsService(QObject):
    tools_changed = Signal()  # the tools offered to the model changed: the session needs a session.update
    catalogue_changed = Signal()  # anything the Tools page shows changed (tools, switches, policies, servers)
    approval_requested = Signal(object)  # ApprovalRequest: the window shows a card and calls answer()
    approval_finished = Signal(str, str)  # call_id, outcome ("allowed", "always", "denied", "timed out", ...)
    call_finished = Signal(str, str, str, object)  # call_id, name, arguments, output (for the transcript)

    def __init__(self, config_dir: Path, *, registry: ToolRegistry | None = None,
                 approval_timeout_s: float = APPROVAL_TIMEOUT_S, mcp_config: str | Path | None = None,
                 secret_lookup: Callable[[str], str | None] | None = None, call_timeout_s: float = 30.0,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry if registry is not None else default_registry()
        self.store = JsonPolicyStore(config_dir / "tools.json")
        self.policies = ToolPolicies()
        self.gate = ApprovalGate(self.policies, self._ask, timeout_s=approval_timeout_s, on_change=self._persist)
        self.mcp_config = config_path(config_dir, mcp_config)  # --mcp-config replaces mcp.json in config_dir
        self.host: McpHost | None = None
        self._secret_lookup = secret_lookup
        self._call_timeout_s = call_timeout_s
        self._offered = self.schemas()
        self._pending: dict[str, asyncio.Future[Answer]] = {}
        self._running: dict[str, asyncio.Task[str]] = {}
        self._cancelled: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._saves: set[asyncio.Task[Any]] = set()
        self._save_lock = asyncio.Lock()
        self._mcp_lock = asyncio.Lock()
        self._unlisten = [self.registry.add_listener(self._registry_changed)]

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Reads the saved choices (off the GUI thread), then starts the MCP servers in the background."""
        self.policies.load(await asyncio.to_thread(self.store.load))
        self._changed()
        self._spawn(asyncio.to_thread(importlib.import_module, "jsonschema"))  # else the first call pays ~80 ms
        self._spawn(self._start_mcp())

    async def aclose(self) -> None:
        for unlisten in self._unlisten:
            with contextlib.suppress(ValueError):
                unlisten()
        self._unlisten.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._saves, return_exceptions=True)  # saves finish: no choice lost
        if self.host is not None:
            await self.host.aclose()

    def _spawn(self, coro: Awaitable[Any], *, save: bool = False) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        (self._saves if save else self._tasks).add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._saves.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("tools task failed: %s", task.exception(), exc_info=task.exception())

    # ------------------------------------------------------------------------------------------ MCP (the join)

    async def _start_mcp(self) -> None:
        """Reads mcp.json and imports the SDK in worker threads (the GUI thread never waits for either), then
        starts every server in the background. Under the lock: a Reload pressed meanwhile waits, never makes a
        second host."""
        async with self._mcp_lock:
            if self.host is None:
                await self._open_host()

    async def _open_host(self) -> None:
        from desktop.tools.mcp.keyring_secrets import keyring_lookup
        from desktop.tools.mcp.launch import open_host

        lookup = self._secret_lookup if self._secret_lookup is not None else keyring_lookup
        host = await open_host(self.registry, self.mcp_config, lookup, call_timeout_s=self._call_timeout_s)
        self.attach_host(host)

    def attach_host(self, host: McpHost) -> None:
        self.host = host
        self._unlisten.append(host.add_listener(self.catalogue_changed.emit))
        self.catalogue_changed.emit()

    def reload(self) -> None:
        """Settings → Tools → Reload: re-reads mcp.json; servers that changed restart."""
        self._spawn(self._reload())

    async def _reload(self) -> None:
        from desktop.tools.mcp.launch import read_config

        async with self._mcp_lock:  # one start or reload at a time, in the order asked
            if self.host is None:
                await self._open_host()
                return
            await self.host.reload(await read_config(self.mcp_config))
        self.catalogue_changed.emit()

    # ------------------------------------------------------------------------------------------ for the session

    def schemas(self) -> list[dict[str, Any]]:
        """The `tools` of session.update: tools switched off or never allowed are not offered at all."""
        return [tool.schema() for tool in self.registry.tools() if self.gate.decide(tool) != "refuse"]

    async def run(self, call: FunctionCallRequested) -> str:
        """Validate, apply the policy (maybe asking the user), run; always a JSON string for the model."""
        task = asyncio.ensure_future(self._run(call))
        self._running[call.call_id] = task
        try:
            output = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if call.call_id not in self._cancelled or (current is not None and current.cancelling()):
                raise
            output = json.dumps({"error": f"cancelled: the user interrupted before {call.name} finished"})
        finally:
            self._running.pop(call.call_id, None)
            self._cancelled.discard(call.call_id)
        self.call_finished.emit(call.call_id, call.name, call.arguments, output)
        return output

    async def _run(self, call: FunctionCallRequested) -> str:
        tool = self.registry.get(call.name)
        if tool is None:  # a server went away, or the model made a name up
            return json.dumps({"error": f"unknown tool {call.name!r}", "available": [t["name"] for t in self._offered]})
        try:
            arguments = self.registry.parse_arguments(tool, call.arguments)
        except InvalidArguments as exc:
            return json.dumps({"error": str(exc), "parameters": dict(tool.parameters)})
        outcome = "cancelled"
        try:
            verdict = await self.gate.check(tool, call.call_id, arguments)
            outcome = verdict.outcome
        finally:
            if call.call_id in self._pending:
                self._pending.pop(call.call_id)
                self.approval_finished.emit(call.call_id, outcome)
        if not verdict.run:
            log.info("tool %s not run: %s", call.name, verdict.outcome)
            return verdict.output()
        return await self.registry.call(call.name, call.arguments)

    def cancel(self, call_ids: Iterable[str]) -> None:
        """The user moved on: calls still running (or waiting for approval) end now, answered as cancelled."""
        for call_id in call_ids:
            task = self._running.get(call_id)
            if task is not None and not task.done():
                self._cancelled.add(call_id)
                task.cancel()

    # ------------------------------------------------------------------------------------------ approvals

    async def _ask(self, request: ApprovalRequest) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[request.call_id] = future
        self.approval_requested.emit(request)
        return await future

    def answer(self, call_id: str, answer: Answer) -> bool:
        """The user's answer to an approval card; False when the question is no longer open."""
        future = self._pending.get(call_id)
        if future is None or future.done():
            return False
        future.set_result(answer)
        return True

    # ------------------------------------------------------------------------------------------ the Tools page

    def catalogue(self) -> list[SourceRow]:
        by_source: dict[str, list[Tool]] = {}
        for tool in self.registry.tools():
            by_source.setdefault(tool.source, []).append(tool)
        builtins = by_source.pop(BUILTIN, [])
        rows = [SourceRow(BUILTIN, "Built-in", "ready", _count(len(builtins)), "", self._rows(builtins))]
        for status in self.host.statuses() if self.host is not None else []:
            tools = by_source.pop(status.name, [])
            ready = status.state == "ready"  # a working server's stderr chatter is noise; a failing one's, the why
            rows.append(SourceRow(status.name, status.name, status.state, _count(status.tool_count) if ready
                                  else status.reason, "" if ready else "\n".join(status.stderr_tail),
                                  self._rows(tools)))
        rows += [SourceRow(name, name, "ready", _count(len(tools)), "", self._rows(tools))
                 for name, tools in by_source.items()]
        return rows

    def problems(self) -> list[str]:
        """Configuration problems to show on the Tools page (a broken tools.json or mcp.json)."""
        found = [self.store.problem] if self.store.problem else []
        return found + list(self.host.config_errors if self.host is not None else [])

    def _rows(self, tools: list[Tool]) -> tuple[ToolRow, ...]:
        return tuple(ToolRow(tool_key(t), t.name, t.title or t.name, t.description, t.read_only,
                             self.policies.enabled(t), self.policies.policy(t)) for t in tools)

    def set_enabled(self, key: str, enabled: bool) -> None:
        tool = self._by_key(key)
        if tool is not None and self.policies.set_enabled(tool, enabled):
            self._persist()

    def set_policy(self, key: str, policy: Policy) -> None:
        tool = self._by_key(key)
        if tool is not None and self.policies.set_policy(tool, policy):
            self._persist()

    def _by_key(self, key: str) -> Tool | None:
        return next((tool for tool in self.registry.tools() if tool_key(tool) == key), None)

    # ------------------------------------------------------------------------------------------ changes

    def _persist(self) -> None:
        """A choice changed: save it off the GUI thread (saves run one at a time, the latest state last)."""
        self._spawn(self._save(), save=True)
        self._changed()

    async def _save(self) -> None:
        async with self._save_lock:
            await asyncio.to_thread(self.store.save, self.policies.snapshot())

    def _registry_changed(self) -> None:
        self._changed()

    def _changed(self) -> None:
        offered = self.schemas()
        if offered != self._offered:
            self._offered = offered
            self.tools_changed.emit()
        self.catalogue_changed.emit()


def _count(n: int) -> str:
    return f"{n} tool{'s' if n != 1 else ''}"
