"""desktop.app.frozen against the real keyring and the real PortAudio.

The keyring fallback is tested in the situation it exists for: a Python that can import keyring but sees no
distribution metadata (as in a bundle built without it), so entry-point discovery finds nothing. The child
process gets the packages through symlinks to their folders only, never their *.dist-info.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from desktop.app import frozen
from tests.support.secret_service import SecretServiceEnv

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(keyring.__file__).resolve().parents[1]

CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
import keyring
from desktop.app import frozen

print("discovery", frozen.keyring_discovery_found_backends())
print("before", type(keyring.get_keyring()).__module__)
print("imported", ",".join(frozen.ensure_keyring_backend("linux")))
print("after", type(keyring.get_keyring()).__module__)
print("roundtrip", frozen.keyring_roundtrip())
"""


def _imported_from_site() -> set[Path]:
    """The top-level files/folders of site-packages that keyring and its Secret Service backend load."""
    import keyring.backends.SecretService  # noqa: F401  (loads secretstorage, jeepney, cryptography...)

    found: set[Path] = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not Path(file).resolve().is_relative_to(SITE):
            continue
        found.add(SITE / Path(file).resolve().relative_to(SITE).parts[0])
    return found


def _site_without_metadata(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    for path in _imported_from_site():
        if not path.name.endswith(".dist-info"):
            (site / path.name).symlink_to(path, target_is_directory=path.is_dir())
    (site / "desktop").symlink_to(ROOT / "desktop", target_is_directory=True)
    return site


def _run_child(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_KEYRING_BACKEND", "PYTHONPATH")}
    result = subprocess.run([sys.executable, "-S", "-c", CHILD, str(site)], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Secret Service fixture is Linux-only")
def test_keyring_without_metadata_finds_the_secret_service_through_frozen(
        secret_service: SecretServiceEnv, tmp_path: Path) -> None:
    out = _run_child(_site_without_metadata(tmp_path))
    assert out["discovery"] == "False"
    assert out["before"] == "keyring.backends.fail"  # the bug the fallback exists for
    assert "keyring.backends.SecretService" in out["imported"].split(",")
    assert out["after"] == "keyring.backends.SecretService"
    assert out["roundtrip"] == "stored, read back and deleted a throwaway entry"


def test_discovery_working_means_nothing_is_forced(secret_service: SecretServiceEnv) -> None:
    assert frozen.keyring_discovery_found_backends()
    assert frozen.ensure_keyring_backend() == []


def test_roundtrip_leaves_no_entry_behind(secret_service: SecretServiceEnv) -> None:
    keyring.core.init_backend()
    assert frozen.keyring_roundtrip().startswith("stored")
    assert keyring.get_password(frozen.SELFTEST_SERVICE, frozen.SELFTEST_USERNAME) is None


def test_roundtrip_reports_a_keyring_that_cannot_store() -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(keyring.errors.KeyringError):
            frozen.keyring_roundtrip()
    finally:
        keyring.set_keyring(previous)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux uses the system PortAudio")
def test_portaudio_found_on_this_machine() -> None:
    # libportaudio2 is installed here (headless-recipes.md); the advice must not be printed for nothing.
    assert frozen.portaudio_problem() is None


def test_portaudio_advice_names_the_package() -> None:
    assert "sudo apt install libportaudio2" in frozen.PORTAUDIO_HINT


def test_not_frozen_in_a_source_checkout() -> None:
    assert frozen.is_frozen() is False
