"""The waveform: columns from the samples, each lane drawn in its colour, and no timer when idle."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from desktop.ui.waveform import ASSISTANT_COLOUR, BACKGROUND, MIC_COLOUR, WaveformView, lane_pixels

RATE = 24_000


def tone(seconds: float, amplitude: int = 16_000, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def make_view(qtbot: QtBot) -> WaveformView:
    view = WaveformView()
    view.resize(600, 120)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def colour_pixels(image: QImage, colour: QColor, top: int, bottom: int) -> int:
    """Pixels in rows [top, bottom) whose dominant channel is the colour's: fills blend with the background,
    so an exact match would be too strict, while the background is grey (no dominant channel)."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(height, image.bytesPerLine())
    bgr = raw[:, : width * 4].reshape(height, width, 4)[top:bottom, :, :3].astype(np.int32)
    rgb = bgr[..., ::-1]
    target = np.array([colour.red(), colour.green(), colour.blue()])
    channel = int(np.argmax(target))
    others = [c for c in range(3) if c != channel]
    dominant = (rgb[..., channel] > rgb[..., others[0]] + 30) & (rgb[..., channel] > rgb[..., others[1]] + 30)
    return int(dominant.sum())


def test_columns_hold_min_and_max_per_10_ms_whatever_the_chunking(qtbot: QtBot) -> None:
    whole, chunked = WaveformView(), WaveformView()
    qtbot.addWidget(whole)
    qtbot.addWidget(chunked)
    signal = tone(1.0)
    whole.push_mic(signal)
    for start in range(0, len(signal), 333):  # chunks that do not line up with columns
        chunked.push_mic(signal[start:start + 333])
    mins, maxs = whole.lane_columns("mic")
    assert len(mins) == 100
    expected = np.sqrt(16_000 / 32768)
    assert np.allclose(maxs, expected, atol=0.02) and np.allclose(mins, -expected, atol=0.02)
    c_mins, c_maxs = chunked.lane_columns("mic")
    assert np.array_equal(mins, c_mins) and np.array_equal(maxs, c_maxs)
    assert len(whole.lane_columns("assistant")[0]) == 0


def test_lane_keeps_only_the_last_five_seconds(qtbot: QtBot) -> None:
    view = WaveformView()
    qtbot.addWidget(view)
    view.push_assistant(np.zeros(6 * RATE, dtype=np.int16))
    view.push_assistant(tone(1.0, amplitude=30_000))
    _, maxs = view.lane_columns("assistant")
    assert len(maxs) == 500
    assert np.all(maxs[-100:] > 0.9) and np.all(maxs[:-100] == 0.0)


def test_animates_while_audio_flows_then_stops_its_timer(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    assert not view.is_animating()
    frames_before = view.frames_painted
    view.push_mic(tone(0.1))
    assert view.is_animating()
    qtbot.waitUntil(lambda: view.frames_painted > frames_before, timeout=2000)
    qtbot.waitUntil(lambda: not view.is_animating(), timeout=3000)
    settled = view.frames_painted
    qtbot.wait(150)  # idle: nothing may repaint on its own
    assert view.frames_painted == settled
    assert not view.is_animating()


def test_draws_each_lane_in_its_own_colour(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    middle = view.height() // 2
    silent = view.grab().toImage()
    assert colour_pixels(silent, MIC_COLOUR, 0, middle) < 30

    view.push_mic(tone(2.0, amplitude=20_000))
    image = view.grab().toImage()
    assert colour_pixels(image, MIC_COLOUR, 0, middle) > 500
    assert colour_pixels(image, ASSISTANT_COLOUR, middle, view.height()) < 30

    view.push_assistant(tone(2.0, amplitude=20_000, freq=330.0))
    image = view.grab().toImage()
    assert colour_pixels(image, ASSISTANT_COLOUR, middle, view.height()) > 500
    assert colour_pixels(image, ASSISTANT_COLOUR, 0, middle) < 30


def test_clear_empties_both_lanes_and_stops(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.push_mic(tone(0.5))
    view.push_assistant(tone(0.5))
    view.clear()
    assert not view.is_animating()
    assert len(view.lane_columns("mic")[0]) == 0 and len(view.lane_columns("assistant")[0]) == 0
    image = view.grab().toImage()
    assert colour_pixels(image, MIC_COLOUR, 0, view.height()) < 30


def test_lane_pixels_span_each_columns_range_with_new_audio_at_the_right() -> None:
    capacity, width, height = 500, 250, 40  # two audio columns per pixel column
    mins = np.zeros(capacity, dtype=np.float32)
    maxs = np.zeros(capacity, dtype=np.float32)
    maxs[-1], mins[-1] = 1.0, -1.0  # the newest column: full scale both ways
    maxs[-102], mins[-102] = 0.5, 0.0  # half scale upwards only, fifty pixel columns back
    colour = QColor("#00ff00")
    pixels = lane_pixels(mins, maxs, capacity // 2, width, height, colour)
    drawn = pixels == (0xFF000000 | 0x00FF00)
    heights = drawn.sum(axis=0)
    assert heights[-1] == height  # full scale fills the column
    assert heights[width - 51] == height // 4 + 1 and drawn[: height // 2 - 10, width - 51].sum() == 0
    assert 1 <= heights[width - 10] <= 2  # silence: a thin line, still visible
    assert heights[: width // 2].sum() == 0  # only half the lane has audio yet: the older half is empty
    assert (pixels[0, : width // 2] == (0xFF000000 | BACKGROUND.rgb() & 0xFFFFFF)).all()


def test_scrolled_picture_equals_a_fresh_drawing(qtbot: QtBot) -> None:
    """Between frames only new columns are drawn; after many frames the picture must be what a full redraw
    gives."""
    view = make_view(qtbot)
    speech = (np.random.default_rng(3).normal(0, 6000, RATE * 8)).clip(-32768, 32767).astype(np.int16)
    for start in range(0, len(speech), 960 * 3):  # 120 ms per frame, past the 5 s window
        view.push_mic(speech[start : start + 960 * 3])
        view.grab()  # paints now
    lane = view._lanes["mic"]
    _key, _pushed, scrolled, _image = view._images["mic"]
    fresh = lane_pixels(lane.mins, lane.maxs, lane.filled, len(lane.mins), scrolled.shape[0], MIC_COLOUR)
    assert view.frames_painted > 50
    assert lane.pushed > len(lane.mins)  # it did scroll past a whole window
    assert np.array_equal(scrolled, fresh)
