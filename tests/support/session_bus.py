"""A private D-Bus session bus for one test: its own dbus-daemon, its own address, no service activation (so
nothing installed on the machine can answer in place of the fakes the test starts on it)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def start_session_bus(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """A dbus-daemon on a socket in `folder`: the process and its address (stop it with terminate())."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise RuntimeError("dbus-daemon is not installed: run packaging/setup-dev.sh (apt package dbus)")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "session.conf"
    config.write_text(CONFIG.format(socket=folder / "socket"))
    process = subprocess.Popen([daemon, f"--config-file={config}", "--nofork", "--print-address=1", "--nosyslog"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    address = process.stdout.readline().strip()
    if not address:
        process.kill()
        raise RuntimeError("dbus-daemon printed no address")
    return process, address


def stop_session_bus(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def session_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The bus address; DBUS_SESSION_BUS_ADDRESS points at it for the test."""
    try:
        process, address = start_session_bus(tmp_path / "bus")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    try:
        yield address
    finally:
        stop_session_bus(process)
