"""Renders resources/icons/parley.svg into the PNG sizes, the Windows .ico and the macOS .icns.

Run once after changing the SVG (the outputs are committed, so a build needs no SVG renderer):
    .venv/bin/python packaging/make_icons.py
The bundle ships PNGs rather than the SVG so that QtSvg and its image-format plugin can stay out of it.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # the .ico format tops out at 256
# icns element types holding PNG data, by pixel size.
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """ICONDIR + one ICONDIRENTRY per size + the PNG payloads; width/height 0 means 256."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, payload = b"", b""
    for size, data in sorted(pngs.items()):
        side = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset + len(payload))
        payload += data
    return header + entries + payload


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """'icns' + total length, then (type, length including its 8-byte header, PNG data) per size."""
    body = b"".join(ICNS_TYPES[size] + struct.pack(">I", len(data) + 8) + data
                    for size, data in sorted(pngs.items()))
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSize, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / "parley.svg"))
    if not renderer.isValid():
        print("parley.svg could not be read", file=sys.stderr)
        return 1

    def render(size: int) -> QImage:
        image = QImage(QSize(size, size), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        return image

    images = {size: render(size) for size in SIZES}
    for size, image in images.items():
        if not image.save(str(ICONS / f"parley-{size}.png")):
            print(f"could not write parley-{size}.png", file=sys.stderr)
            return 1
    # Qt's ico/icns writers store a single image per file, so both containers are written here from PNG data:
    # PNG entries are valid in .ico since Windows Vista and in .icns since macOS 10.7.
    pngs = {size: (ICONS / f"parley-{size}.png").read_bytes() for size in SIZES}
    (ICONS / "parley.ico").write_bytes(ico_bytes({size: pngs[size] for size in ICO_SIZES}))
    (ICONS / "parley.icns").write_bytes(icns_bytes({size: pngs[size] for size in ICNS_TYPES}))
    del app
    print(f"wrote {len(images)} PNGs, parley.ico and parley.icns in {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
