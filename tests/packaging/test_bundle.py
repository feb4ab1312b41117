"""Builds the Linux bundle and runs its `--self-test` against a real Secret Service and a real PulseAudio.

This is the only test that sees the app as a user gets it: the frozen keyring, the system PortAudio and the Qt
plugins left after packaging/parley.spec dropped the rest. The build (~20 s) is cached in pytest's cache
folder under a hash of everything that goes into it, so an unchanged tree reuses the bundle and any change
rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import keyring
import pytest

from desktop.app import frozen

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ("desktop", "resources", "packaging")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle is built and run here"),
]


def source_hash() -> str:
    """Hashes what the bundle is built from: the sources, the spec and build script, and the installed
    packages (name and version, which is what PyInstaller copies)."""
    digest = hashlib.sha256(sys.version.encode())
    for folder in INPUTS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    for dist in sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()):
        digest.update(dist.encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def bundle(request: pytest.FixtureRequest) -> Path:
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from build_bundle import build
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    cache = Path(request.config.cache.mkdir("parley-bundle"))
    key = source_hash()
    target = cache / key
    executable = target / "Parley" / "parley"
    if (target / "complete").exists() and executable.exists():
        return executable
    for stale in cache.iterdir():  # one bundle at a time: each is ~150 MB
        shutil.rmtree(stale, ignore_errors=True)
    try:
        build(target, quiet=True)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"packaging/build failed ({exc.returncode}):\n{(exc.stderr or b'').decode()[-3000:]}")
    shutil.rmtree(target / ".work", ignore_errors=True)
    (target / "complete").write_text(key)
    return executable


def test_bundle_leaves_out_the_dead_weight(bundle: Path) -> None:
    internal = bundle.parent / "_internal"
    names = {p.relative_to(internal).as_posix() for p in internal.rglob("*")}
    for unwanted in ("libgtk-3", "libQt6Quick", "libQt6Qml", "libQt6Network", "libQt6Svg", "libQt6Pdf",
                     "platformthemes", "translations", "faster_whisper", "ctranslate2", "onnxruntime",
                     "hibari_tts", "openai", "pytest", "tkinter", "libportaudio"):
        assert not [n for n in names if unwanted in n], f"{unwanted} is in the bundle"
    assert "resources/icons/parley-256.png" in names
    size = sum(p.stat().st_size for p in internal.rglob("*") if p.is_file() and not p.is_symlink())
    assert size < 200e6, f"bundle grew to {size / 1e6:.0f} MB"  # the goal is 120; this catches a regression


def test_bundle_self_test_passes_with_real_keyring_and_audio(bundle: Path, secret_service: object,
                                                             pulse: object) -> None:
    # Both fixtures put their variables (bus address, PULSE_SERVER...) into os.environ for child processes.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", frozen.SELFTEST_KEYRING_ENV: "1"}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    result = subprocess.run([str(bundle), "--self-test"], capture_output=True, text=True, env=env, timeout=90,
                            check=False, cwd=bundle.parent)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = {line.split(":", 1)[0]: line for line in result.stdout.splitlines()
             if line.startswith(("PASS", "FAIL"))}
    assert set(lines) >= {"PASS window", "PASS audio", "PASS keyring"}, output
    devices = re.search(r"(\d+) device\(s\)", lines["PASS audio"])
    assert devices is not None and int(devices.group(1)) > 0, lines["PASS audio"]
    assert "keyring.backends.SecretService" in lines["PASS keyring"], lines["PASS keyring"]
    assert "stored, read back and deleted" in lines["PASS keyring"], (
        "the self-test did not run frozen.keyring_roundtrip(): see packaging/README.md, 'Self-test hook'")
    assert "PortAudio" not in result.stderr or "not installed" not in result.stderr
    assert keyring.get_password(frozen.SELFTEST_SERVICE, frozen.SELFTEST_USERNAME) is None


def test_bundle_prints_version_without_a_display(bundle: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([str(bundle), "--version"], capture_output=True, text=True, env=env, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    from desktop import __version__

    assert result.stdout.strip() == f"parley {__version__}"
