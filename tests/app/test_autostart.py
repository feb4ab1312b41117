"""Start at login: the XDG entry validated by desktop-file-validate and actually run as written, the LaunchAgent
plist and the Run key command line checked as text (they are written only on their own systems)."""

from __future__ import annotations

import asyncio
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.app.autostart import LABEL, Autostart, Launch, current_launch, desktop_entry, launch_agent, run_value

REPO = Path(__file__).resolve().parents[2]


def validate(path: Path) -> str:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.fail("desktop-file-validate is missing: run packaging/setup-dev.sh (apt desktop-file-utils)")
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def exec_argv(entry: str) -> list[str]:
    """The Exec key as a launcher reads it: unescape the string value, then split per the spec's quoting."""
    line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    value = line[len("Exec="):].replace("\\\\", "\\")  # the string-value escape first
    args: list[str] = []
    current, quoted, i, started = "", False, 0, False
    while i < len(value):  # then the Exec quoting: "..." with \ before " ` $ \ only
        c = value[i]
        if quoted and c == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
            current += value[i + 1]
            i += 1
        elif c == '"':
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if started or current:
                args.append(current)
            current, started = "", False
        else:
            current += c
        i += 1
    if started or current:
        args.append(current)
    return args


def test_linux_entry_points_at_this_checkout_validates_and_starts_parley(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    autostart = Autostart("linux")
    assert not autostart.is_enabled()
    autostart.set_enabled(True)
    path = Path(autostart.location())
    assert path == tmp_path / "config" / "autostart" / "parley.desktop" and autostart.is_enabled()
    assert validate(path).strip() == ""  # not even a hint
    entry = path.read_text()
    assert f"Path={REPO}" in entry.splitlines()
    argv = exec_argv(entry)
    assert argv == [sys.executable, "-m", "desktop"]
    # The entry starts this install: run what it says from where it says, asking only for the version.
    result = subprocess.run([*argv, "--version"], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0 and result.stdout.startswith("parley "), result.stderr
    autostart.set_enabled(False)
    assert not path.exists() and not autostart.is_enabled()


def test_awkward_paths_are_quoted_as_the_spec_says(tmp_path: Path) -> None:
    odd = tmp_path / 'my "apps" $HOME\\x' / "bin" / "parley app"
    entry = desktop_entry(Launch((str(odd), "--flag=a b"), None), icon="parley")
    file = tmp_path / "parley.desktop"
    file.write_text(entry)
    validate(file)
    assert exec_argv(entry) == [str(odd), "--flag=a b"]
    assert not any(line.startswith("Path=") for line in entry.splitlines())


def test_bundle_launches_its_own_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/Parley/parley")
    assert current_launch() == Launch(("/opt/Parley/parley",), None)


def test_macos_launch_agent(tmp_path: Path) -> None:
    launch = Launch(("/Users/me/parley/.venv/bin/python", "-m", "desktop"), "/Users/me/parley")
    plist = plistlib.loads(launch_agent(launch))
    assert plist == {"Label": LABEL, "ProgramArguments": list(launch.argv), "RunAtLoad": True,
                     "ProcessType": "Interactive", "WorkingDirectory": "/Users/me/parley"}
    autostart = Autostart("darwin", home=tmp_path)
    autostart.set_enabled(True, launch)
    written = Path(autostart.location())
    assert written == tmp_path / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    assert plistlib.loads(written.read_bytes())["ProgramArguments"] == list(launch.argv)
    if shutil.which("plutil"):
        subprocess.run(["plutil", "-lint", str(written)], check=True, timeout=30)


def test_windows_run_key_command_lines() -> None:
    bundle = Launch((r"C:\Program Files\Parley\Parley.exe",), None)
    assert run_value(bundle) == r'"C:\Program Files\Parley\Parley.exe"'
    source = Launch((r"C:\src\parley\.venv\Scripts\pythonw.exe", "-m", "desktop"), r"C:\src\my parley")
    assert run_value(source) == (r'cmd /c cd /d "C:\src\my parley" && start "" '
                                 r'C:\src\parley\.venv\Scripts\pythonw.exe -m desktop')
    assert Autostart("win32").location().endswith(r"CurrentVersion\Run\Parley")


def test_the_setting_writes_and_removes_the_entry(qloop: asyncio.Runner, tmp_path: Path, qtbot: object,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop.app.controller import Controller
    from desktop.app.secrets import KeyStore
    from desktop.cli import Options
    from desktop.ui.main_window import MainWindow
    from tests.support.app_harness import settings_in

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    controller = Controller(Options(), settings_in(tmp_path), KeyStore(), audio=False)
    window = MainWindow(controller)
    entry = Path(Autostart("linux").location())

    try:
        controller.settings.set("start_at_login", True)  # Settings → Desktop → OK
        qloop.run(window.shell.sync_autostart())
        assert entry.exists() and "Icon=" in entry.read_text()
        controller.settings.set("start_at_login", False)
        qloop.run(window.shell.sync_autostart())
        assert not entry.exists()
    finally:
        window.shell.quit()
        window.deleteLater()


def test_launcher_entry_is_installed_once_and_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop.app.autostart import ensure_launcher_entry, find_launcher_entry

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "system"))
    assert find_launcher_entry() is None
    path = ensure_launcher_entry()
    assert path == tmp_path / "data" / "applications" / "parley.desktop"
    validate(path)
    entry = path.read_text()
    assert exec_argv(entry) == [sys.executable, "-m", "desktop"] and "Autostart" not in entry
    system = tmp_path / "system" / "applications" / "parley.desktop"
    system.parent.mkdir(parents=True)
    system.write_text(entry)
    path.unlink()
    assert ensure_launcher_entry() == system and not path.exists(), "an installed entry is used, not copied"
