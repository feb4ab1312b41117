"""The offline engine takes the app's replayed history (desktop.core.replay) as a fresh session's context: the
items keep the ids the app gave them, so the app recognises their echo."""

from __future__ import annotations

import pytest

from desktop.core.conversation import TranscriptEntry
from desktop.core.replay import replay_events
from tests.engine.conftest import RunningEngine
from tests.engine.helpers import EngineClient

pytestmark = pytest.mark.slow


def test_the_apps_replayed_history_is_accepted_with_its_ids(engine: RunningEngine) -> None:
    entries = [TranscriptEntry("item_u1", "user", "What is seven times eight?", done=True),
               TranscriptEntry("item_a1", "assistant", "Seven times eight is fifty-six.", done=True)]

    async def scenario() -> None:
        client = await EngineClient.open(engine.url)
        for event in replay_events(entries):
            await client.send(event)
        first = (await client.next("conversation.item.added"))["item"]
        second = (await client.next("conversation.item.added"))["item"]
        assert [first["id"], second["id"]] == ["item_u1", "item_a1"]
        assert [first["role"], second["role"]] == ["user", "assistant"]
        assert client.of("error") == []
        await client.close()
        assert client.problems == []

    engine.run(scenario())
