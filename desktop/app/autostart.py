"""Start at login: an XDG autostart entry on Linux, a LaunchAgent on macOS, the Run key on Windows, each pointing
at the install that is running now (a bundle's executable, or this Python with `-m desktop` from its checkout).

Qt-free. The file contents are plain functions so every platform's text is tested anywhere; writing happens only
for the platform the app runs on.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

APP_ID = "parley"  # matches the .desktop file name the portal and the notifications use
LABEL = "org.parley.Parley"  # the LaunchAgent's label
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


@dataclass(frozen=True)
class Launch:
    """How to start this install: the command and, from a source checkout, the folder to start it in."""

    argv: tuple[str, ...]
    workdir: str | None


def current_launch() -> Launch:
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: its executable is the app
        return Launch((sys.executable,), None)
    checkout = Path(__file__).resolve().parents[2]
    python = sys.executable
    if sys.platform == "win32":  # no console window at login
        windowed = Path(python).with_name("pythonw.exe")
        python = str(windowed) if windowed.exists() else python
    # From a checkout `-m desktop` needs its folder; an installed package is found from anywhere.
    return Launch((python, "-m", "desktop"), str(checkout) if (checkout / "pyproject.toml").exists() else None)


def _exec_arg(arg: str) -> str:
    """One argument of a desktop entry's Exec key (quoted per the Desktop Entry spec when it needs it), then
    escaped as a string value."""
    if arg and not (set(arg) & _EXEC_RESERVED) and "=" not in arg and "%" not in arg:
        return arg
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
    return ('"' + quoted + '"').replace("\\", "\\\\")


def desktop_entry(launch: Launch, icon: str = APP_ID) -> str:
    lines = ["[Desktop Entry]", "Type=Application", "Name=Parley",
             "Comment=Push-to-talk voice assistant: hold a key and talk",
             "Exec=" + " ".join(_exec_arg(a) for a in launch.argv)]
    if launch.workdir:
        lines.append(f"Path={launch.workdir}")
    lines += [f"Icon={icon}", "Terminal=false", "Categories=Utility;", "X-GNOME-Autostart-enabled=true", ""]
    return "\n".join(lines)


def launcher_entry_path() -> Path:
    """Where the user's own launcher entry goes: $XDG_DATA_HOME/applications/parley.desktop."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "applications" / f"{APP_ID}.desktop"


def find_launcher_entry() -> Path | None:
    """An installed parley.desktop in the XDG data folders (the user's first, then the system's), if any."""
    dirs = [str(launcher_entry_path().parent.parent)]
    dirs += (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    for folder in dirs:
        candidate = Path(folder) / "applications" / f"{APP_ID}.desktop"
        if folder and candidate.is_file():
            return candidate
    return None


def ensure_launcher_entry(icon: str = APP_ID) -> Path:
    """Makes sure a parley.desktop is installed, writing the user's own when none is: the desktop portal only
    accepts an unsandboxed app's id when a desktop entry of that name exists (and menus then list Parley)."""
    found = find_launcher_entry()
    if found is not None:
        return found
    path = launcher_entry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = desktop_entry(current_launch(), icon).replace("X-GNOME-Autostart-enabled=true\n", "")
    path.write_text(entry, encoding="utf-8")
    return path


def launch_agent(launch: Launch) -> bytes:
    plist: dict[str, object] = {"Label": LABEL, "ProgramArguments": list(launch.argv), "RunAtLoad": True,
                                "ProcessType": "Interactive"}
    if launch.workdir:
        plist["WorkingDirectory"] = launch.workdir
    return plistlib.dumps(plist)


def run_value(launch: Launch) -> str:
    """The Run key's command line; a checkout starts from its folder through cmd's `cd /d`."""
    command = subprocess.list2cmdline(list(launch.argv))
    if launch.workdir:
        return f'cmd /c cd /d "{launch.workdir}" && start "" {command}'
    return command


class Autostart:
    """Turns start-at-login on or off for the running platform."""

    def __init__(self, platform: str = sys.platform, home: Path | None = None) -> None:
        self.platform = platform
        self.home = home if home is not None else Path.home()

    def location(self) -> str:
        if self.platform.startswith("linux") or self.platform.startswith("freebsd"):
            config = os.environ.get("XDG_CONFIG_HOME") or str(self.home / ".config")
            return str(Path(config) / "autostart" / f"{APP_ID}.desktop")
        if self.platform == "darwin":
            return str(self.home / "Library" / "LaunchAgents" / f"{LABEL}.plist")
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\Parley"

    def is_enabled(self) -> bool:
        if self.platform == "win32":
            return _read_run_key() is not None
        return Path(self.location()).exists()

    def set_enabled(self, enabled: bool, launch: Launch | None = None, icon: str = APP_ID) -> None:
        """Writes (or removes) the entry. Raises OSError with the location when the system refuses."""
        launch = launch or current_launch()
        if self.platform == "win32":
            _write_run_key(run_value(launch) if enabled else None)
            return
        path = Path(self.location())
        if not enabled:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.platform == "darwin":
            path.write_bytes(launch_agent(launch))
        else:
            path.write_text(desktop_entry(launch, icon), encoding="utf-8")


def _read_run_key() -> str | None:
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            return str(winreg.QueryValueEx(key, "Parley")[0])
    except FileNotFoundError:
        return None


def _write_run_key(value: str | None) -> None:
    if sys.platform != "win32":
        raise OSError("the Run key exists only on Windows")
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if value is None:
            try:
                winreg.DeleteValue(key, "Parley")
            except FileNotFoundError:
                pass
        else:
            winreg.SetValueEx(key, "Parley", 0, winreg.REG_SZ, value)
