"""A two-lane live waveform: what the microphone hears ("You") and what the assistant says ("Parley").

Samples are reduced to min/max columns as they arrive (numpy, once per chunk), so a frame only turns two
small arrays into two polygons. Repaints run at up to 30 fps while audio flows and the timer stops itself
shortly after the last chunk: an idle window costs no CPU.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

SAMPLE_RATE = 24_000
WINDOW_SECONDS = 5.0
COLUMN_SAMPLES = 240  # 10 ms per column: 500 columns for 5 s, about one per pixel at usual widths
FRAME_MS = 33  # 30 fps: smooth for a scrolling envelope, half the painting cost of 60
IDLE_STOP_SECONDS = 0.3
FULL_SCALE = 32768.0

BACKGROUND = QColor("#1b202b")
CENTRE_LINE = QColor(255, 255, 255, 28)
LABEL = QColor("#8a93a6")
MIC_COLOUR = QColor("#4fc08d")
ASSISTANT_COLOUR = QColor("#7aa2f7")


class _Lane:
    """The last few seconds of one audio stream as min/max columns in [-1, 1], oldest first.

    Partial columns wait in `_rest` so column boundaries do not depend on how the caller chunks the stream."""

    def __init__(self, columns: int, column_samples: int) -> None:
        self.column_samples = column_samples
        self.mins = np.zeros(columns, dtype=np.float32)
        self.maxs = np.zeros(columns, dtype=np.float32)
        self.filled = 0
        self.version = 0
        self._rest = np.zeros(0, dtype=np.int16)

    def push(self, samples: np.ndarray) -> None:
        pcm = np.asarray(samples).reshape(-1)
        if pcm.dtype != np.int16:
            pcm = pcm.astype(np.int16)
        if len(self._rest):
            pcm = np.concatenate((self._rest, pcm))
        whole = len(pcm) // self.column_samples
        usable = whole * self.column_samples
        self._rest = pcm[usable:].copy()
        if whole == 0:
            return
        capacity = len(self.mins)
        if whole > capacity:  # more than the window in one go: only the newest part can be seen
            pcm = pcm[usable - capacity * self.column_samples:usable]
            whole = capacity
        else:
            pcm = pcm[:usable]
        shaped = pcm.reshape(whole, self.column_samples)
        new_mins = _compress(shaped.min(axis=1))
        new_maxs = _compress(shaped.max(axis=1))
        self.mins[:-whole] = self.mins[whole:]
        self.maxs[:-whole] = self.maxs[whole:]
        self.mins[-whole:] = new_mins
        self.maxs[-whole:] = new_maxs
        self.filled = min(capacity, self.filled + whole)
        self.version += 1

    def clear(self) -> None:
        self.mins[:] = 0.0
        self.maxs[:] = 0.0
        self.filled = 0
        self._rest = np.zeros(0, dtype=np.int16)
        self.version += 1


def _compress(values: np.ndarray) -> np.ndarray:
    """Square-root scale: normal speech peaks near a third of full scale and looks timid on a linear axis."""
    scaled = values.astype(np.float32) / FULL_SCALE
    compressed: np.ndarray = np.sign(scaled) * np.sqrt(np.abs(scaled))
    return compressed


def _polygon_by_copy(xy: np.ndarray) -> QPolygonF:
    polygon = QPolygonF()
    polygon.resize(len(xy))
    address = shiboken6.getCppPointer(polygon.data())[0]
    ctypes.memmove(address, xy.ctypes.data, xy.nbytes)
    return polygon


def _polygon_by_points(xy: np.ndarray) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in xy.tolist()])


def _pick_polygon_builder() -> Callable[[np.ndarray], QPolygonF]:
    """QPolygonF stores QPointF as two doubles on every desktop build; copying the numpy buffer in is ~100x
    faster than building QPointF objects. Checked once; the slow path stays for builds where it differs."""
    probe = np.array([[1.5, -2.25], [3.0, 4.5]], dtype=np.float64)
    try:
        polygon = _polygon_by_copy(probe)
        if [[p.x(), p.y()] for p in polygon.toList()] == probe.tolist():
            return _polygon_by_copy
    except Exception:
        pass
    return _polygon_by_points


_build_polygon: Callable[[np.ndarray], QPolygonF] | None = None


def polygon_from_xy(xy: np.ndarray) -> QPolygonF:
    """An (n, 2) float array as a QPolygonF without a Python loop over the points."""
    global _build_polygon
    if _build_polygon is None:
        _build_polygon = _pick_polygon_builder()
    return _build_polygon(np.ascontiguousarray(xy, dtype=np.float64))


def column_lines_xy(mins: np.ndarray, maxs: np.ndarray, rect: QRectF, capacity: int) -> np.ndarray:
    """Point pairs for one vertical line per column (top, bottom), right-aligned so new audio enters at the
    right edge and the lane scrolls left. Lines rather than a filled outline: a jagged outline of a thousand
    points costs the raster engine about twice as much to fill."""
    count = len(mins)
    step = rect.width() / capacity
    xs = rect.right() - (count - 1 - np.arange(count, dtype=np.float64)) * step - step / 2.0
    centre = rect.center().y()
    half = rect.height() / 2.0
    # A floor of half a pixel keeps silence visible as a thin line rather than nothing.
    floor = 0.5 / max(half, 1.0)
    xy = np.empty((2 * count, 2), dtype=np.float64)
    xy[0::2, 0] = xs
    xy[1::2, 0] = xs
    xy[0::2, 1] = centre - np.maximum(maxs, floor) * half
    xy[1::2, 1] = centre - np.minimum(mins, -floor) * half
    return xy


class WaveformView(QWidget):
    """Fed from the GUI thread with int16 mono chunks at 24 kHz; draws the last ~5 s of each side."""

    def __init__(self, parent: QWidget | None = None, sample_rate: int = SAMPLE_RATE,
                 window_seconds: float = WINDOW_SECONDS) -> None:
        super().__init__(parent)
        columns = max(1, int(window_seconds * sample_rate / COLUMN_SAMPLES))
        self._lanes = {"mic": _Lane(columns, COLUMN_SAMPLES), "assistant": _Lane(columns, COLUMN_SAMPLES)}
        self._labels = {"mic": "You", "assistant": "Parley"}
        self._colours = {"mic": MIC_COLOUR, "assistant": ASSISTANT_COLOUR}
        self._cache: dict[str, tuple[tuple[int, float, float, float, float], QPolygonF | None]] = {}
        self._last_samples = 0.0
        self._dirty = False
        self.frames_painted = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    # --- input

    def push_mic(self, samples: np.ndarray) -> None:
        self._push("mic", samples)

    def push_assistant(self, samples: np.ndarray) -> None:
        self._push("assistant", samples)

    def clear(self) -> None:
        for lane in self._lanes.values():
            lane.clear()
        self._cache.clear()
        self._timer.stop()
        self._dirty = False
        self.update()

    # --- state for tests and benchmarks

    def is_animating(self) -> bool:
        return self._timer.isActive()

    def lane_columns(self, lane: str) -> tuple[np.ndarray, np.ndarray]:
        """The filled min/max columns of "mic" or "assistant" (copies), oldest first."""
        data = self._lanes[lane]
        start = len(data.mins) - data.filled
        return data.mins[start:].copy(), data.maxs[start:].copy()

    def sizeHint(self) -> QSize:
        return QSize(600, 110)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 60)

    # --- internals

    def _push(self, lane: str, samples: np.ndarray) -> None:
        if samples is None or len(samples) == 0:
            return
        self._lanes[lane].push(samples)
        self._last_samples = time.monotonic()
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def _tick(self) -> None:
        if self._dirty:
            self._dirty = False
            self.update()
        elif time.monotonic() - self._last_samples > IDLE_STOP_SECONDS:
            self._timer.stop()

    def _lane_rects(self) -> list[tuple[str, QRectF]]:
        outer = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        pad = 8.0
        inner = outer.adjusted(pad, pad, -pad, -pad)
        gap = 6.0
        height = max(1.0, (inner.height() - gap) / 2.0)
        top = QRectF(inner.left(), inner.top(), inner.width(), height)
        bottom = QRectF(inner.left(), inner.top() + height + gap, inner.width(), height)
        return [("mic", top), ("assistant", bottom)]

    def _polygon(self, name: str, rect: QRectF) -> QPolygonF | None:
        lane = self._lanes[name]
        key = (lane.version, rect.x(), rect.y(), rect.width(), rect.height())
        cached = self._cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        polygon = None
        if lane.filled:
            start = len(lane.mins) - lane.filled
            xy = column_lines_xy(lane.mins[start:], lane.maxs[start:], rect, len(lane.mins))
            polygon = polygon_from_xy(xy)
        self._cache[name] = (key, polygon)
        return polygon

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BACKGROUND)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 10, 10)
        label_font = QFont(self.font())
        label_font.setPointSizeF(max(7.0, label_font.pointSizeF() * 0.8))
        painter.setFont(label_font)
        for name, rect in self._lane_rects():
            centre = rect.center().y()
            painter.setPen(QPen(CENTRE_LINE, 1.0))
            painter.drawLine(QPointF(rect.left(), centre), QPointF(rect.right(), centre))
            pairs = self._polygon(name, rect)
            if pairs is not None:
                step = rect.width() / len(self._lanes[name].mins)
                pen = QPen(self._colours[name], max(1.0, step * 0.9))
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)
                painter.setPen(pen)
                # A QPolygonF is a QList<QPointF>: read here as (top, bottom) pairs, one line per column.
                painter.drawLines(pairs)  # type: ignore[call-overload]
            painter.setPen(LABEL)
            painter.drawText(rect.adjusted(2, 0, 0, 0),
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), self._labels[name])
        painter.end()
        self.frames_painted += 1
