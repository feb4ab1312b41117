"""The engine against what the app really sends: the session.update built by desktop.core.config for each turn
mode, and the app's own built-in tools answering the engine's function calls."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from desktop.core.config import SessionConfig, TurnMode
from desktop.tools.builtin import default_registry
from desktop.tools.registry import ToolRegistry
from tests.engine.conftest import RunningEngine
from tests.engine.helpers import EngineClient, speech

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", list(TurnMode))
def test_the_apps_session_update_is_accepted(engine: RunningEngine, mode: TurnMode) -> None:
    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        payload = SessionConfig(turn_mode=mode, tools=default_registry().schemas()).session_payload()
        await client.send({"type": "session.update", "session": payload})
        updated = (await client.next("session.updated"))["session"]
        assert updated["audio"]["input"]["turn_detection"] == payload["audio"]["input"]["turn_detection"]
        assert [tool["name"] for tool in updated["tools"]] == ["get_current_time", "calculate"]
        assert client.of("error") == []
        await client.close()
        assert client.problems == []

    engine.run(scenario())


def test_the_apps_builtin_tools_answer_the_engines_calls(engine: RunningEngine) -> None:
    async def scenario() -> None:
        registry = default_registry()
        client = await EngineClient.open(engine.url)
        await client.send({"type": "session.update", "session": SessionConfig(
            tools=registry.schemas()).session_payload()})
        await client.next("session.updated")
        await client.push_to_talk(speech("what time is it"))
        call = await client.next("response.function_call_arguments.done")
        assert call["name"] == "get_current_time"
        await client.next("response.done")
        output = await registry.call(call["name"], call["arguments"])
        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"], "output": output}})
        await client.send({"type": "response.create"})
        said = (await client.next("response.output_audio_transcript.done"))["transcript"]
        now = dt.datetime.now()
        assert re.fullmatch(r"It's \d{1,2}:\d{2} [AP]M\.", said), said
        assert said in {f"It's {m.hour % 12 or 12}:{m.minute:02d} {'AM' if m.hour < 12 else 'PM'}."
                        for m in (now, now - dt.timedelta(minutes=1))}
        await client.next("response.done")
        await client.close()
        assert client.problems == []

    engine.run(scenario())


def test_offline_timers_are_the_apps_timers(engine: RunningEngine, tmp_path: Path) -> None:
    """With the app's timer tools declared, the engine keeps no timers of its own: setting, asking and cancelling
    by voice go through the app's book (saved, alerting with the window hidden), and the answers are spoken."""
    from desktop.tools.timers import TimerBook

    async def turn(client: EngineClient, registry: ToolRegistry, text: str) -> str:
        await client.say_text(text)
        call = await client.next("response.function_call_arguments.done")
        await client.next("response.done")
        output = await registry.call(call["name"], call["arguments"])
        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"], "output": output}})
        await client.send({"type": "response.create"})
        said = (await client.next("response.output_audio_transcript.done"))["transcript"]
        await client.next("response.done")
        return str(said)

    async def scenario() -> None:
        book = TimerBook(tmp_path / "timers.json")
        await book.start()
        registry = default_registry(book)
        client = await EngineClient.open(engine.url)
        await client.send({"type": "session.update", "session": SessionConfig(
            tools=registry.schemas()).session_payload()})
        await client.next("session.updated")
        assert await turn(client, registry, "set a timer for ten minutes") == "Okay, a 10-minute timer starts now."
        assert [t.label for t in book.timers()] == ["10-minute"]
        said = await turn(client, registry, "how much time is left on my timer")
        assert re.fullmatch(r"Your 10-minute timer has (?:9 minutes 5\d seconds|10 minutes) left\.", said), said
        assert await turn(client, registry, "cancel the timer") == "Okay, I cancelled the 10-minute timer."
        assert book.timers() == []
        await book.aclose()
        await client.close()
        assert client.problems == []

    engine.run(scenario())
