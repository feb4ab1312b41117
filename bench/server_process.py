"""The loopback Realtime server in a process of its own, for benches that measure the app's CPU: inside the
app's process it would share the GIL and add its thread switches to the app's figures.

    .venv/bin/python bench/server_process.py [--reply-seconds 30]

Prints the server's URL on the first line, then serves until its stdin closes. Every response streams
`--reply-seconds` of speech-like audio at real-time pace, as the API does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.realtime_server import RealtimeTestServer, ResponseScript, spoken_tone


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reply-seconds", type=float, default=30.0)
    args = parser.parse_args()
    server = RealtimeTestServer()
    server.default_script = ResponseScript(audio=spoken_tone(args.reply_seconds), speed=1.0)
    server.start()
    print(server.url, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
    return 0 if not server.violations else 1


if __name__ == "__main__":
    sys.exit(main())
