"""The files installers and app stores read: a mistake in them shows up only on a user's machine (a missing
microphone prompt on macOS, an icon-less launcher on Linux), so they are checked here."""

from __future__ import annotations

import ast
import configparser
import plistlib
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from desktop import __version__

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
APP_ID = "io.github.parley.Parley"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("size", PNG_SIZES)
def test_png_icon_has_the_size_its_name_says(size: int) -> None:
    assert _png_size((RESOURCES / "icons" / f"parley-{size}.png").read_bytes()) == (size, size)


def test_ico_holds_every_windows_size_as_png() -> None:
    data = (RESOURCES / "icons" / "parley.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for index in range(count):
        entry = data[6 + 16 * index:22 + 16 * index]
        width, _h, _c, _r, _planes, _bpp, length, offset = struct.unpack("<BBBBHHII", entry)
        png = data[offset:offset + length]
        assert _png_size(png)[0] == (width or 256)
        sizes.append(width or 256)
    assert sorted(sizes) == [16, 24, 32, 48, 64, 128, 256]


def test_icns_entries_are_pngs_of_the_declared_sizes() -> None:
    data = (RESOURCES / "icons" / "parley.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    expected = {b"icp4": 16, b"icp5": 32, b"icp6": 64, b"ic07": 128, b"ic08": 256, b"ic09": 512}
    position, seen = 8, {}
    while position < len(data):
        kind, length = data[position:position + 4], struct.unpack(">I", data[position + 4:position + 8])[0]
        seen[kind] = _png_size(data[position + 8:position + length])[0]
        position += length
    assert seen == expected


def test_desktop_entry_launches_parley_with_its_icon() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(RESOURCES / "linux" / f"{APP_ID}.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "parley"
    assert entry["Icon"] == APP_ID
    assert entry["StartupWMClass"] == "parley"  # matches QApplication.setDesktopFileName / the binary name
    assert entry["Categories"].endswith(";")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_passes_desktop_file_validate() -> None:
    result = subprocess.run(["desktop-file-validate", str(RESOURCES / "linux" / f"{APP_ID}.desktop")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_metainfo_names_the_desktop_file_and_current_release() -> None:
    tree = ET.parse(RESOURCES / "linux" / f"{APP_ID}.metainfo.xml")
    assert tree.findtext("id") == APP_ID
    assert tree.findtext("launchable") == f"{APP_ID}.desktop"
    assert tree.find("releases/release").get("version") == __version__  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_metainfo_passes_appstreamcli_validate() -> None:
    metainfo = RESOURCES / "linux" / f"{APP_ID}.metainfo.xml"
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)], capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_macos_info_plist_asks_for_the_microphone() -> None:
    info = plistlib.loads((RESOURCES / "macos" / "Info.plist").read_bytes())
    assert len(info["NSMicrophoneUsageDescription"]) > 20
    assert info["CFBundleIdentifier"] == APP_ID


def test_macos_entitlements_allow_audio_input() -> None:
    entitlements = plistlib.loads((RESOURCES / "macos" / "entitlements.plist").read_bytes())
    assert entitlements["com.apple.security.device.audio-input"] is True
    assert entitlements["com.apple.security.network.client"] is True


def test_windows_version_info_is_a_valid_expression_once_filled() -> None:
    text = (RESOURCES / "windows" / "version_info.txt").read_text(encoding="utf-8")
    numbers = tuple(int(part) for part in re.findall(r"\d+", __version__)[:4])
    numbers += (0,) * (4 - len(numbers))
    filled = text.replace("{version_tuple}", repr(numbers)).replace("{version}", __version__)
    tree = ast.parse(filled, mode="eval")
    assert isinstance(tree.body, ast.Call) and getattr(tree.body.func, "id", "") == "VSVersionInfo"
    assert f"'{__version__}'" in filled and "{version" not in filled
