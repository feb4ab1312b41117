"""Who decides whether a tool call runs: the user's per-tool policy, and the user when the policy says ask.

Each tool has a policy, "ask", "allow" (always run) or "deny" (never run), and an on/off switch (a tool switched
off is not offered to the model at all). Unless the user chose otherwise, tools that declare themselves read-only
run at once and all others ask first. A read-only flag is the tool's own claim (MCP's readOnlyHint is a hint), so
it only sets the default: the user's choice always wins.

Preferences are kept by a stable key, the tool's source and its name there ("builtin/calculate",
"files/read_file"), not by the model-facing name, which may gain a prefix when two servers share a tool name.

They persist in `tools.json` in Parley's config folder (beside its QSettings file and mcp.json): a per-tool map
does not fit the declared-settings store (which refuses undeclared keys, on purpose), a plain JSON file is easy to
read and to reset by hand, and this module stays free of Qt. The file is written whole to a temporary file and
renamed, so a crash never leaves half of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Protocol

from desktop.tools.registry import Tool

log = logging.getLogger(__name__)

Policy = Literal["ask", "allow", "deny"]
POLICIES: tuple[Policy, ...] = ("ask", "allow", "deny")
APPROVAL_TIMEOUT_S = 60.0


def tool_key(tool: Tool) -> str:
    """The key a tool's preferences are kept under: its source and its own name there."""
    return f"{tool.source}/{tool.title or tool.name}"


def default_policy(tool: Tool) -> Policy:
    return "allow" if tool.read_only else "ask"


@dataclass(frozen=True)
class ToolPrefs:
    policy: Policy | None = None  # None: the tool's default (see default_policy)
    enabled: bool = True


class PolicyStore(Protocol):
    def load(self) -> dict[str, ToolPrefs]: ...

    def save(self, prefs: Mapping[str, ToolPrefs]) -> None: ...


class JsonPolicyStore:
    """`{"version": 1, "tools": {"builtin/calculate": {"policy": "allow", "enabled": true}}}` in one file.

    A missing file is no preferences; a broken one is reported in `problem` and ignored (it is replaced by the
    next save, after a copy is kept as tools.json.broken so nothing the user wrote is lost)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem = ""

    def load(self) -> dict[str, ToolPrefs]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self._broken(f"{self.path} could not be read ({exc}); tool preferences start from the defaults")
            return {}
        tools = data.get("tools") if isinstance(data, dict) else None
        if not isinstance(tools, dict):
            self._broken(f"{self.path} has no \"tools\" object; tool preferences start from the defaults")
            return {}
        prefs: dict[str, ToolPrefs] = {}
        for key, raw in tools.items():
            if not isinstance(raw, dict):
                continue
            policy = raw.get("policy")
            prefs[str(key)] = ToolPrefs(policy if policy in POLICIES else None, raw.get("enabled", True) is not False)
        return prefs

    def _broken(self, message: str) -> None:
        self.problem = message
        log.warning("%s", message)
        try:
            self.path.replace(self.path.with_name(self.path.name + ".broken"))
        except OSError:
            pass

    def save(self, prefs: Mapping[str, ToolPrefs]) -> None:
        tools: dict[str, dict[str, Any]] = {}
        for key, pref in sorted(prefs.items()):
            entry: dict[str, Any] = {"enabled": pref.enabled}
            if pref.policy is not None:
                entry["policy"] = pref.policy
            tools[key] = entry
        import tempfile

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".tools-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "tools": tools}, out, indent=2)
                out.write("\n")
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class ToolPolicies:
    """The user's choices per tool, in memory; whoever changes them saves them (see ToolsService)."""

    def __init__(self, prefs: Mapping[str, ToolPrefs] | None = None) -> None:
        self._prefs: dict[str, ToolPrefs] = dict(prefs or {})

    def policy(self, tool: Tool) -> Policy:
        chosen = self._prefs.get(tool_key(tool), ToolPrefs()).policy
        return chosen if chosen is not None else default_policy(tool)

    def enabled(self, tool: Tool) -> bool:
        return self._prefs.get(tool_key(tool), ToolPrefs()).enabled

    def set_policy(self, tool: Tool, policy: Policy) -> bool:
        """True when this changed anything. Choosing the default policy stores it too: it stays chosen."""
        if policy not in POLICIES:
            raise ValueError(f"unknown approval policy {policy!r}")
        return self._put(tool, policy=policy)

    def set_enabled(self, tool: Tool, enabled: bool) -> bool:
        return self._put(tool, enabled=enabled)

    def _put(self, tool: Tool, **change: Any) -> bool:
        key = tool_key(tool)
        old = self._prefs.get(key, ToolPrefs())
        new = replace(old, **change)
        self._prefs[key] = new
        return new != old

    def load(self, saved: Mapping[str, ToolPrefs]) -> None:
        """Adds choices read from the store; a choice made since (before the store was read) wins."""
        self._prefs = {**saved, **self._prefs}

    def snapshot(self) -> dict[str, ToolPrefs]:
        return dict(self._prefs)


class Answer(Enum):
    ALLOW = "allow"
    DENY = "deny"
    ALWAYS = "always"  # allow, and never ask again for this tool


@dataclass(frozen=True)
class ApprovalRequest:
    """What the user is asked about: a card shows the tool, where it comes from and the arguments."""

    call_id: str
    tool_name: str  # model-facing
    title: str  # the tool's own name at its source
    source: str  # "builtin" or the MCP server's name
    description: str
    arguments: Mapping[str, Any]
    timeout_s: float = APPROVAL_TIMEOUT_S  # no answer by then counts as Deny
    asked_at: float = field(default_factory=time.monotonic)

    def seconds_left(self) -> float:
        return max(0.0, self.timeout_s - (time.monotonic() - self.asked_at))

    def pretty_arguments(self) -> str:
        return json.dumps(dict(self.arguments), indent=2, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Verdict:
    """Whether the call runs; `outcome` is for the transcript and logs, `message` for the model when it does not."""

    run: bool
    outcome: str  # "policy", "allowed", "always", "denied", "timed out", "refused", "off"
    message: str = ""

    def output(self) -> str:
        return json.dumps({"error": self.message})


AskUser = Callable[[ApprovalRequest], Awaitable[Answer]]


class ApprovalGate:
    """Decides run / ask / refuse for each call, and asks through `ask` (supplied by the app layer) when the
    policy says so. No answer within `timeout_s` counts as Deny, and the model is told that it timed out."""

    def __init__(self, policies: ToolPolicies, ask: AskUser | None = None, *, timeout_s: float = APPROVAL_TIMEOUT_S,
                 on_change: Callable[[], None] | None = None) -> None:
        self.policies = policies
        self.ask = ask
        self.timeout_s = timeout_s
        self._on_change = on_change

    def decide(self, tool: Tool) -> Literal["run", "ask", "refuse"]:
        if not self.policies.enabled(tool):
            return "refuse"
        policy = self.policies.policy(tool)
        return "run" if policy == "allow" else "refuse" if policy == "deny" else "ask"

    async def check(self, tool: Tool, call_id: str, arguments: Mapping[str, Any]) -> Verdict:
        name = tool.name
        if not self.policies.enabled(tool):
            return Verdict(False, "off", f"{name} is switched off by the user; it was not run.")
        decision = self.decide(tool)
        if decision == "run":
            return Verdict(True, "policy")
        if decision == "refuse":
            return Verdict(False, "refused", f"The user does not allow {name}; it was not run.")
        if self.ask is None:
            return Verdict(False, "refused", f"{name} needs the user's approval and nobody can be asked; not run.")
        request = ApprovalRequest(call_id, name, tool.title or name, tool.source, tool.description, arguments,
                                  self.timeout_s)
        try:
            answer = await asyncio.wait_for(self.ask(request), self.timeout_s)
        except TimeoutError:
            return Verdict(False, "timed out", f"The user did not answer within {self.timeout_s:g} s, so {name} "
                           "was not run (no answer counts as a denial).")
        if answer is Answer.DENY:
            return Verdict(False, "denied", f"The user denied this call of {name}; it was not run. Do not retry "
                           "it unless the user asks.")
        if answer is Answer.ALWAYS and self.policies.set_policy(tool, "allow") and self._on_change is not None:
            self._on_change()
        return Verdict(True, "always" if answer is Answer.ALWAYS else "allowed")
