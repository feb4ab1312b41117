"""A two-lane live waveform: what the microphone hears ("You") and what the assistant says ("Parley").

Samples are reduced to min/max columns as they arrive (numpy, once per chunk), and a frame turns those columns
into pixels with numpy: no per-sample Python and no vector stroking in paintEvent. Repaints run at up to 30 fps
while audio flows and the timer stops itself shortly after the last chunk: an idle window costs no CPU.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPaintEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

SAMPLE_RATE = 24_000
WINDOW_SECONDS = 5.0
COLUMN_SAMPLES = 240  # 10 ms per column: 500 columns for 5 s, about one per pixel at usual widths
FRAME_MS = 33  # 30 fps: smooth for a scrolling envelope, half the painting cost of 60
IDLE_STOP_SECONDS = 0.3
FULL_SCALE = 32768.0

BACKGROUND = QColor("#1b202b")
SURROUND = QColor("#161a22")  # the window behind the rounded corners (set_surround changes it)
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
        self.pushed = 0  # whole columns ever pushed: how far the picture has scrolled
        self.cleared = 0
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
        self.pushed += whole

    def clear(self) -> None:
        self.mins[:] = 0.0
        self.maxs[:] = 0.0
        self.filled = 0
        self._rest = np.zeros(0, dtype=np.int16)
        self.version += 1
        self.cleared += 1


def _compress(values: np.ndarray) -> np.ndarray:
    """Square-root scale: normal speech peaks near a third of full scale and looks timid on a linear axis."""
    scaled = values.astype(np.float32) / FULL_SCALE
    compressed: np.ndarray = np.sign(scaled) * np.sqrt(np.abs(scaled))
    return compressed


def _argb(colour: QColor) -> int:
    return (0xFF << 24) | (colour.red() << 16) | (colour.green() << 8) | colour.blue()


def _blend(base: QColor, over: QColor) -> QColor:
    """`over` (with its alpha) painted on an opaque `base`, as one opaque colour."""
    a = over.alphaF()
    return QColor(
        round(base.red() * (1 - a) + over.red() * a),
        round(base.green() * (1 - a) + over.green() * a),
        round(base.blue() * (1 - a) + over.blue() * a),
    )


def lane_pixels(mins: np.ndarray, maxs: np.ndarray, filled: int, width: int, height: int,
                colour: QColor) -> np.ndarray:
    """One lane as a (height, width) array of 0xAARRGGBB pixels: a vertical span per pixel column from the
    lowest to the highest value of the audio columns it covers, new audio at the right edge.

    numpy fills the pixels in one pass (two broadcast comparisons over a few ten thousand pixels); QPainter
    stroking a thousand anti-aliased lines took most of the GUI thread's time at 30 fps."""
    capacity = len(mins)
    starts = (np.arange(width, dtype=np.int64) * capacity) // width
    top = np.maximum.reduceat(maxs, starts)  # a repeated start (wider than the data) takes that column
    bottom = np.minimum.reduceat(mins, starts)
    half = height / 2.0
    floor = 0.5 / max(half, 1.0)  # silence stays visible as a thin line rather than nothing
    y_top = half - np.maximum(top, floor) * half
    y_bottom = half - np.minimum(bottom, -floor) * half
    rows = np.arange(height, dtype=np.float32)[:, None] + 0.5
    mask = (rows >= y_top[None, :]) & (rows <= y_bottom[None, :])
    first = -(-(capacity - filled) * width // capacity)  # pixels left of the oldest audio stay empty
    mask[:, :first] = False
    pixels = np.full((height, width), _argb(BACKGROUND), dtype=np.uint32)
    pixels[height // 2, :] = _argb(_blend(BACKGROUND, CENTRE_LINE))
    pixels[mask] = _argb(colour)
    return pixels


class WaveformView(QWidget):
    """Fed from the GUI thread with int16 mono chunks at 24 kHz; draws the last ~5 s of each side."""

    def __init__(self, parent: QWidget | None = None, sample_rate: int = SAMPLE_RATE,
                 window_seconds: float = WINDOW_SECONDS) -> None:
        super().__init__(parent)
        columns = max(1, int(window_seconds * sample_rate / COLUMN_SAMPLES))
        self._lanes = {"mic": _Lane(columns, COLUMN_SAMPLES), "assistant": _Lane(columns, COLUMN_SAMPLES)}
        self._labels = {"mic": "You", "assistant": "Parley"}
        self._colours = {"mic": MIC_COLOUR, "assistant": ASSISTANT_COLOUR}
        self._surround = QColor(SURROUND)
        self._chrome: QPixmap | None = None  # background and corners: redrawn only on resize
        self._labels_drawn: dict[str, QPixmap] = {}
        # Per lane: the key it was drawn for, the pixels and the QImage over them (which borrows the array).
        self._images: dict[str, tuple[tuple[int, int, int], int, np.ndarray, QImage]] = {}
        self._last_samples = 0.0
        self._dirty = False
        self.frames_painted = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # Every pixel is painted here (corners in the surround colour), so Qt need not repaint the window
        # under the widget on each frame.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    # --- input

    def push_mic(self, samples: np.ndarray) -> None:
        self._push("mic", samples)

    def push_assistant(self, samples: np.ndarray) -> None:
        self._push("assistant", samples)

    def clear(self) -> None:
        for lane in self._lanes.values():
            lane.clear()
        self._images.clear()
        self._timer.stop()
        self._dirty = False
        self.update()

    def set_surround(self, colour: QColor) -> None:
        """The colour of what lies behind the widget, for its rounded corners."""
        self._surround = QColor(colour)
        self._chrome = None
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

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._chrome = None
        super().resizeEvent(event)

    def _chrome_pixmap(self) -> QPixmap:
        ratio = self.devicePixelRatioF()
        if self._chrome is not None and self._chrome.devicePixelRatio() == ratio:
            return self._chrome
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(self._surround)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BACKGROUND)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 10, 10)
        painter.end()
        self._chrome = pixmap
        return pixmap

    def _lane_image(self, name: str, height: int) -> QImage:
        """The lane at one pixel per column (scaled to the widget when drawn). Between frames the picture
        scrolls: the pixels shift left and only the columns pushed since are drawn."""
        lane = self._lanes[name]
        width = len(lane.mins)
        cached = self._images.get(name)
        if cached is not None and cached[0] == (lane.version, lane.cleared, height):
            return cached[3]
        colour = self._colours[name]
        if cached is not None and cached[0][1:] == (lane.cleared, height) and 0 < lane.pushed - cached[1] < width:
            pixels = cached[2]
            new = lane.pushed - cached[1]
            pixels[:, :-new] = pixels[:, new:]
            pixels[:, -new:] = lane_pixels(lane.mins[-new:], lane.maxs[-new:], new, new, height, colour)
            image = cached[3]
        else:
            pixels = lane_pixels(lane.mins, lane.maxs, lane.filled, width, height, colour)
            image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGB32)
        self._images[name] = ((lane.version, lane.cleared, height), lane.pushed, pixels, image)
        return image

    def _label_pixmap(self, name: str) -> QPixmap:
        """Each label rendered once: text layout on every frame cost more than the lanes."""
        ratio = self.devicePixelRatioF()
        cached = self._labels_drawn.get(name)
        if cached is not None and cached.devicePixelRatio() == ratio:
            return cached
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        size = QFontMetrics(font).size(0, self._labels[name])
        pixmap = QPixmap(size * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setFont(font)
        painter.setPen(LABEL)
        painter.drawText(QRectF(0, 0, size.width(), size.height()), int(Qt.AlignmentFlag.AlignLeft), self._labels[name])
        painter.end()
        self._labels_drawn[name] = pixmap
        return pixmap

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._chrome_pixmap())
        ratio = self.devicePixelRatioF()
        for name, rect in self._lane_rects():
            painter.drawImage(rect, self._lane_image(name, max(1, round(rect.height() * ratio))))
            painter.drawPixmap(rect.topLeft() + QPointF(2, 0), self._label_pixmap(name))
        painter.end()
        self.frames_painted += 1
