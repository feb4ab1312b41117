"""Waveform cost, offscreen: paint time per frame with both lanes full, CPU while audio flows, CPU when idle.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_bench.py
The idle figure should be about zero: the repaint timer stops itself when audio stops.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from desktop.ui.waveform import SAMPLE_RATE, WaveformView

CHUNK = 480  # 20 ms, what the audio layer delivers
SECONDS = 3.0


def speech_like(seconds: float, seed: int) -> np.ndarray:
    """Noise shaped by a syllable-rate envelope: busy enough that every column differs."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    envelope = np.abs(np.sin(2 * np.pi * 2.5 * t)) * 12000
    return (rng.standard_normal(n) * envelope / 3).clip(-32768, 32767).astype(np.int16)


def run_loop(app: QApplication, seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def paint_times(view: WaveformView, mic: np.ndarray, assistant: np.ndarray, frames: int) -> np.ndarray:
    per_frame = SAMPLE_RATE // 60
    view.push_mic(mic[: 5 * SAMPLE_RATE])
    view.push_assistant(assistant[: 5 * SAMPLE_RATE])
    times = []
    for i in range(frames):
        start = (i * per_frame) % (len(mic) - per_frame)
        view.push_mic(mic[start:start + per_frame])
        view.push_assistant(assistant[start:start + per_frame])
        begin = time.perf_counter()
        view.repaint()  # synchronous paintEvent, including the polygon rebuild
        times.append(time.perf_counter() - begin)
    return np.array(times) * 1000.0


def cpu_while(app: QApplication, seconds: float, feed: QTimer | None) -> float:
    if feed is not None:
        feed.start()
    wall, cpu = time.perf_counter(), time.process_time()
    run_loop(app, seconds)
    used = (time.process_time() - cpu) / (time.perf_counter() - wall) * 100.0
    if feed is not None:
        feed.stop()
    return used


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    view = WaveformView()
    view.resize(760, 110)
    view.show()
    app.processEvents()
    mic, assistant = speech_like(10.0, 1), speech_like(10.0, 2)

    times = paint_times(view, mic, assistant, 600)
    rows = [("paint per frame, both lanes (ms)", f"p50 {np.percentile(times, 50):.3f}  "
             f"p95 {np.percentile(times, 95):.3f}  max {times.max():.3f}")]

    position = [0]

    def feed() -> None:
        start = position[0] % (len(mic) - CHUNK)
        view.push_mic(mic[start:start + CHUNK])
        view.push_assistant(assistant[start:start + CHUNK])
        position[0] += CHUNK

    feeder = QTimer()
    feeder.setInterval(CHUNK * 1000 // SAMPLE_RATE)
    feeder.timeout.connect(feed)
    frames_before = view.frames_painted
    animating = cpu_while(app, SECONDS, feeder)
    fps = (view.frames_painted - frames_before) / SECONDS
    rows.append((f"CPU while animating {SECONDS:.0f} s (% of one core)",
                 f"{animating:.1f}  ({fps:.0f} frames/s, audio fed every 20 ms; includes the feeder)"))

    deadline = time.monotonic() + 2.0
    while view.is_animating() and time.monotonic() < deadline:
        run_loop(app, 0.05)
    frames_before = view.frames_painted
    idle = cpu_while(app, SECONDS, None)
    rows.append((f"CPU idle {SECONDS:.0f} s (% of one core)",
                 f"{idle:.2f}  (timer running: {view.is_animating()}, frames painted: "
                 f"{view.frames_painted - frames_before})"))

    width = max(len(name) for name, _ in rows)
    print(f"WaveformView {view.width()}x{view.height()}, offscreen, Qt platform "
          f"{QApplication.platformName()}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
