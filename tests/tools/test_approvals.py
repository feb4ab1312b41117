"""Per-tool policies (ask / allow / deny, on / off), their file, and the gate that asks the user."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from desktop.tools.approvals import (
    Answer,
    ApprovalGate,
    ApprovalRequest,
    JsonPolicyStore,
    ToolPolicies,
    ToolPrefs,
    tool_key,
)
from desktop.tools.registry import Tool

PARAMS = {"type": "object", "properties": {"path": {"type": "string"}}}
READER = Tool("files_read", "Read a file", PARAMS, lambda **_: "", source="files", title="read", read_only=True)
WRITER = Tool("files_write", "Write a file", PARAMS, lambda **_: "", source="files", title="write")


class Asker:
    """Stands in for the user: answers each request with the next scripted answer (or never, for None)."""

    def __init__(self, *answers: Answer | None) -> None:
        self.answers = list(answers)
        self.requests: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Answer:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if answer is None:
            await asyncio.Event().wait()  # the user looks away
        assert answer is not None
        return answer


def check(gate: ApprovalGate, tool: Tool, arguments: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return asyncio.run(gate.check(tool, "call_1", arguments or {"path": "/tmp/x"}))


def test_read_only_runs_at_once_and_others_ask() -> None:
    asker = Asker(Answer.ALLOW)
    gate = ApprovalGate(ToolPolicies(), asker)
    assert gate.decide(READER) == "run" and gate.decide(WRITER) == "ask"
    assert check(gate, READER).run and asker.requests == []
    verdict = check(gate, WRITER, {"path": "/tmp/ü", "mode": 1})
    assert verdict.run and verdict.outcome == "allowed"
    request = asker.requests[0]
    assert (request.tool_name, request.title, request.source, request.call_id) == ("files_write", "write", "files",
                                                                                   "call_1")
    assert json.loads(request.pretty_arguments()) == {"path": "/tmp/ü", "mode": 1}
    assert "\n" in request.pretty_arguments() and "ü" in request.pretty_arguments()


def test_deny_is_told_to_the_model() -> None:
    verdict = check(ApprovalGate(ToolPolicies(), Asker(Answer.DENY)), WRITER)
    assert not verdict.run and verdict.outcome == "denied"
    assert "denied" in json.loads(verdict.output())["error"]


def test_always_allow_changes_the_policy_and_says_so() -> None:
    changes: list[dict[str, ToolPrefs]] = []
    policies = ToolPolicies()
    gate = ApprovalGate(policies, Asker(Answer.ALWAYS), on_change=lambda: changes.append(policies.snapshot()))
    assert check(gate, WRITER).outcome == "always"
    assert policies.policy(WRITER) == "allow" and gate.decide(WRITER) == "run"
    assert changes == [{"files/write": ToolPrefs("allow", True)}]
    assert check(gate, WRITER).outcome == "policy"  # no second question: the Asker has no answers left


def test_no_answer_in_time_is_a_deny() -> None:
    asker = Asker(None)
    verdict = check(ApprovalGate(ToolPolicies(), asker, timeout_s=0.05), WRITER)
    assert not verdict.run and verdict.outcome == "timed out"
    assert "did not answer within 0.05 s" in json.loads(verdict.output())["error"]
    assert len(asker.requests) == 1


def test_deny_policy_and_switched_off_refuse_without_asking() -> None:
    policies = ToolPolicies()
    policies.set_policy(READER, "deny")
    policies.set_enabled(WRITER, False)
    gate = ApprovalGate(policies, Asker())
    assert gate.decide(READER) == "refuse" and gate.decide(WRITER) == "refuse"
    assert check(gate, READER).outcome == "refused"
    off = check(gate, WRITER)
    assert off.outcome == "off" and "switched off" in off.message
    with pytest.raises(ValueError):
        policies.set_policy(READER, "sometimes")  # type: ignore[arg-type]


def test_nobody_to_ask_means_not_run() -> None:
    verdict = check(ApprovalGate(ToolPolicies(), None), WRITER)
    assert not verdict.run and "nobody can be asked" in verdict.message


def test_preferences_survive_in_the_file(tmp_path: Path) -> None:
    store = JsonPolicyStore(tmp_path / "Parley" / "tools.json")
    assert store.load() == {}
    policies = ToolPolicies(store.load())
    policies.set_policy(WRITER, "allow")
    policies.set_enabled(READER, False)
    store.save(policies.snapshot())
    again = ToolPolicies(JsonPolicyStore(store.path).load())
    assert again.policy(WRITER) == "allow" and not again.enabled(READER) and again.policy(READER) == "allow"
    assert json.loads(store.path.read_text())["tools"] == {
        "files/read": {"enabled": False}, "files/write": {"enabled": True, "policy": "allow"}}
    assert [p.name for p in store.path.parent.iterdir()] == ["tools.json"]  # no temporary file left


def test_a_broken_file_is_reported_kept_aside_and_defaults_apply(tmp_path: Path) -> None:
    path = tmp_path / "tools.json"
    path.write_text('{"tools": {"files/write": {"policy": "allow"},,}')
    store = JsonPolicyStore(path)
    assert store.load() == {}
    assert "could not be read" in store.problem
    assert (tmp_path / "tools.json.broken").read_text().startswith('{"tools"')
    path.write_text('{"tools": {"files/write": {"policy": "maybe", "enabled": false}, "x": 3}}')
    assert JsonPolicyStore(path).load() == {"files/write": ToolPrefs(None, False)}


def test_keys_use_the_source_and_the_tools_own_name() -> None:
    assert tool_key(WRITER) == "files/write"
    assert tool_key(Tool("calculate", "", {}, lambda: 0)) == "builtin/calculate"


def test_a_request_knows_its_timeout_and_the_time_left() -> None:
    asker = Asker(Answer.DENY)
    check(ApprovalGate(ToolPolicies(), asker, timeout_s=42.0), WRITER)
    assert asker.requests[0].timeout_s == 42.0 and 41.0 < asker.requests[0].seconds_left() <= 42.0
    late = ApprovalRequest("c", "t", "t", "builtin", "", {}, 60.0, time.monotonic() - 45.0)
    assert 14.0 < late.seconds_left() <= 15.0
    assert ApprovalRequest("c", "t", "t", "builtin", "", {}, 1.0, time.monotonic() - 5.0).seconds_left() == 0.0
