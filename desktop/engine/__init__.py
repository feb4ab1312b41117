"""Parley's offline voice engine: a local process that speaks the OpenAI Realtime protocol (GA events) on
127.0.0.1, so the app talks to it exactly as it talks to the cloud. Speech in (silero VAD + faster-whisper
tiny.en), a deterministic brain, speech out (hibari), all on the CPU with weights from installed packages.

Start it with `python -m desktop.engine --port 0` (or `parley-engine`) or from the app with
`desktop.engine.launcher.start_engine()`. Importing this package needs no optional dependency; the speech
modules import theirs when the models load.
"""

READY_PREFIX = "PARLEY_ENGINE_READY"
REALTIME_PATH = "/v1/realtime"
