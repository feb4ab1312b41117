"""The command line: documented flags, a version, and a self-test that proves the packaged parts load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from desktop import __version__
from desktop.cli import build_parser, main
from tests.support.secret_service import SecretServiceEnv

FLAGS = ("--version", "--self-test", "--url", "--hands-free", "--list-devices", "--input-device",
         "--output-device", "--mcp-config", "--global-hotkey")


def test_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in FLAGS:
        assert flag in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"parley {__version__}"


def test_url_flag_parsed() -> None:
    args = build_parser().parse_args(["--url", "ws://127.0.0.1:9/v1/realtime", "--hands-free"])
    assert args.url == "ws://127.0.0.1:9/v1/realtime" and args.hands_free


def test_mcp_config_flag_parsed() -> None:
    assert build_parser().parse_args(["--mcp-config", "/tmp/servers.json"]).mcp_config == "/tmp/servers.json"
    assert build_parser().parse_args([]).mcp_config is None


def test_global_hotkey_flag_is_for_this_run_only() -> None:
    assert build_parser().parse_args(["--global-hotkey"]).global_hotkey is True
    assert build_parser().parse_args([]).global_hotkey is False


def _run_self_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "desktop", "--self-test"], capture_output=True, text=True,
                          timeout=60, env=env)


def test_self_test_passes_with_a_keyring(secret_service: SecretServiceEnv) -> None:
    done = _run_self_test({**os.environ, **secret_service.env, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("PASS window: shown") for line in lines)
    assert any(line.startswith("PASS audio: PortAudio") for line in lines)
    assert any(line.startswith("PASS keyring:") and "SecretService" in line for line in lines)
    assert "Traceback" not in done.stderr


def test_self_test_fails_without_a_keyring() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    done = _run_self_test({**env, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 1
    assert "FAIL keyring:" in done.stdout and "session only" in done.stdout
