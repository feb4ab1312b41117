"""A scripted offline conversation: espeak-ng speaks each line, the offline engine hears and answers it over
the Realtime protocol, and the transcript is printed (what was said, what the engine recognised, its answer).

    .venv/bin/python bench/offline_conversation.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop.engine.launcher import start_engine
from tests.engine.helpers import EngineClient, speech

TURNS = ["Hello there.", "What time is it?", "What is twelve times seven?", "Set a timer for two minutes.",
         "What's the date today?", "Who won the football world cup?", "What can you do?", "Thank you, goodbye."]


async def main() -> None:
    engine = await start_engine(sys.executable, timeout=120)
    client = await EngineClient.open(engine.url)
    try:
        await client.configure(audio={"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}})
        for text in TURNS:
            await client.push_to_talk(speech(text))
            heard = await client.next("conversation.item.input_audio_transcription.completed")
            said = await client.next("response.output_audio_transcript.done")
            await client.next("response.done")
            print(f"(espeak-ng says: {text!r})\n  you (as recognised): {heard['transcript']}\n"
                  f"  Parley offline: {said['transcript']}")
    finally:
        await client.close()
        await engine.stop()


if __name__ == "__main__":
    asyncio.run(main())
