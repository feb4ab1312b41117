"""The command line: `parley` / `python -m desktop`.

Flags that only print (--version, --list-devices, --help) must work without a display, so Qt is imported only
when a window is actually needed. The command line only parses into the app's `Options`
(desktop/app/options.py); nothing below the entry point imports this module.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from desktop import __version__
from desktop.app.options import Options

URL_ENV = "PARLEY_REALTIME_URL"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: hold a key, talk to a realtime voice model, interrupt it any time.",
        epilog=f"Environment: OPENAI_API_KEY overrides the key stored in the keyring; {URL_ENV} sets the "
        "endpoint like --url. Logs go to stderr and to a rotating file in the platform log folder.",
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="start, show the window briefly, check that the audio library and a keyring backend "
                        "load, print one line per check and exit (0 when all pass)")
    parser.add_argument("--url", metavar="URL",
                        help=f"Realtime endpoint (wss://..., or ws:// on loopback); also env {URL_ENV}")
    parser.add_argument("--hands-free", action="store_true",
                        help="start in hands-free mode (voice activity detection takes turns)")
    parser.add_argument("--list-devices", action="store_true", help="list audio input and output devices and exit")
    parser.add_argument("--input-device", metavar="NAME|INDEX", help="microphone: name substring or index")
    parser.add_argument("--output-device", metavar="NAME|INDEX", help="speaker: name substring or index")
    parser.add_argument("--mcp-config", metavar="PATH",
                        help="MCP servers file to use instead of mcp.json in Parley's config folder "
                        "(see docs/mcp.md)")
    parser.add_argument("--global-hotkey", action="store_true",
                        help="turn the global hold-to-talk key on for this run (the desktop portal on Wayland, "
                        "else the X11 listener); otherwise Settings → Hotkeys decides")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    return parser


def list_devices() -> int:
    """Prints the devices PortAudio sees; a missing PortAudio or audio server is reported, not raised."""
    try:
        from desktop.audio.devices import describe_devices
    except OSError as exc:  # PortAudio library missing
        print(f"audio library unavailable: {exc} (install libportaudio2)", file=sys.stderr)
        return 1
    print(describe_devices())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["--engine"]:
        # The offline engine runs as a child process of the app; a frozen bundle has no separate Python to
        # start it with, so the app starts its own executable with --engine first.
        from desktop.engine.__main__ import main as engine_main

        return engine_main(raw[1:])
    if raw[:1] == ["--lifeline"]:  # the same for the wrapper that gives a child Linux's parent-death signal
        from desktop.engine.lifeline import main as lifeline_main

        return lifeline_main(raw[1:])
    args = build_parser().parse_args(raw)
    if args.list_devices:
        return list_devices()
    options = Options(
        url=args.url or os.environ.get(URL_ENV) or None,
        hands_free=args.hands_free,
        input_device=args.input_device,
        output_device=args.output_device,
        verbose=args.verbose,
        mcp_config=args.mcp_config,
        global_hotkey=args.global_hotkey,
    )
    from desktop.app.bootstrap import run

    return run(options, self_test=args.self_test)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
