"""Tells the user's voice from the assistant's own voice coming back through the microphone (laptop speakers).

Without it, hands-free mode interrupts itself: the assistant hears its reply and stops talking. The guard keeps the
level of what was played, stamped with the time it reached the speaker (PortAudio's DAC time), and compares every
microphone block (stamped with its ADC time; both come from the same PortAudio clock) with the loudest playback in
the window just before it. The echo path's gain is learned while the assistant talks alone; speech counts as the
user's only when it is clearly louder than the echo that playback explains. Until enough has been learned (the
warm-up), a cautious prior gain is assumed. "I use headphones" disables the guard.

With an echo canceller attached (echo_canceller.py) and aligned, the microphone is already clean: the guard then
neither gates the server nor second-guesses the local detector; it stays the fallback while the canceller is
missing or still aligning.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.audio.echo_canceller import EchoCanceller


@dataclass
class EchoGuardConfig:
    enabled: bool = True
    window_s: float = 0.35  # acoustic + buffering delay tolerance between DAC and ADC time
    # How far a playback block's reported DAC time may lie *after* the moment its echo is captured. Through
    # ALSA's PulseAudio plugin the output and input timestamps disagree by about half a second (measured
    # 0.47 s on the test machine): without this lead the first half second of every reply looked like the
    # user talking over it.
    lead_s: float = 0.6
    margin: float = 2.5  # user speech must be this many times louder than the explained echo (~8 dB)
    prior_gain: float = 0.5  # assumed echo gain during warm-up (-6 dB: pessimistic for laptop speakers)
    warmup_s: float = 0.4  # playback needed before the learned gain is trusted
    playback_floor: float = 30.0  # int16 RMS below which playback is treated as silence
    cleaned_prior_gain: float = 0.05  # with an active canceller: what is left of the echo (-26 dB) until learnt


class EchoGuard:
    def __init__(self, config: EchoGuardConfig | None = None) -> None:
        self.config = config or EchoGuardConfig()
        self._playback: deque[tuple[float, float]] = deque()  # (dac_time, rms)
        self._gain = self.config.prior_gain
        self._learned_s = 0.0
        self._ratios: deque[float] = deque(maxlen=150)
        self.canceller: EchoCanceller | None = None
        self._cleaned = False  # which microphone the learnt gain describes: raw, or after the canceller
        self._saved = (self.config.cleaned_prior_gain, 0.0, deque[float](maxlen=150))  # the other one's

    @property
    def _canceller_active(self) -> bool:
        return self.canceller is not None and self.canceller.active

    def _follow_canceller(self) -> None:
        """The raw and the cleaned microphone have very different echo gains: each keeps its own estimate."""
        cleaned = self._canceller_active
        if cleaned != self._cleaned:
            self._cleaned = cleaned
            current = (self._gain, self._learned_s, self._ratios)
            self._gain, self._learned_s, self._ratios = self._saved
            self._saved = current

    @property
    def gating(self) -> bool:
        """True when the server must hear silence while the assistant speaks: enabled, and no active canceller
        cleans the microphone. With one, the server hears the cleaned microphone (its own voice detection can
        interrupt), and the guard still judges the local detector's speech, against the much smaller echo gain
        of the cleaned microphone."""
        return self.config.enabled and not self._canceller_active

    def set_enabled(self, enabled: bool) -> None:
        """"I use headphones" turns the guard and the canceller off together."""
        self.config.enabled = enabled
        if self.canceller is not None:
            self.canceller.enabled = enabled

    def reset(self) -> None:
        self._playback.clear()

    def note_playback(self, dac_time: float, rms: float) -> None:
        """Records a played block; cheap (append + trim), called for every output block's level."""
        self._playback.append((dac_time, rms))
        horizon = dac_time - 4 * self.config.window_s - self.config.lead_s
        while self._playback and self._playback[0][0] < horizon:
            self._playback.popleft()

    def explained_echo(self, adc_time: float) -> float:
        """The mic level that playback alone would produce at adc_time (0 when nothing was playing)."""
        start = adc_time - self.config.window_s
        end = adc_time + self.config.lead_s
        loudest = max((rms for t, rms in self._playback if start <= t <= end), default=0.0)
        return 0.0 if loudest < self.config.playback_floor else loudest * self._gain

    def is_user(self, adc_time: float, mic_rms: float, speech: bool, seconds: float) -> bool:
        """True when this mic block (`seconds` long) is the user speaking (barge-in), False for silence or
        echo."""
        self._follow_canceller()
        if not speech:
            self._learn(adc_time, mic_rms, seconds)
            return False
        if not self.config.enabled:
            return True
        echo = self.explained_echo(adc_time)
        if echo == 0.0:
            return True
        if mic_rms > echo * self.config.margin:
            return True
        self._learn(adc_time, mic_rms, seconds)  # speech-like but explained by playback: the echo, learn from it
        return False

    @property
    def warmed_up(self) -> bool:
        """Enough playback was heard (for the microphone the guard now judges) to trust the learnt gain."""
        learned = self._learned_s if self._canceller_active == self._cleaned else self._saved[1]
        return learned >= self.config.warmup_s

    def _learn(self, adc_time: float, mic_rms: float, seconds: float) -> None:
        """Estimates the echo path's gain as a high percentile of mic/playback ratios seen while only the assistant
        was talking: the median would let the loud half of the echo through; the maximum would let one
        cough deafen the guard."""
        echo = self.explained_echo(adc_time)
        if echo == 0.0:
            return
        observed = mic_rms / (echo / self._gain)
        if not math.isfinite(observed):
            return
        self._ratios.append(observed)
        self._learned_s += seconds
        ranked = sorted(self._ratios)
        high = ranked[int(0.9 * (len(ranked) - 1))]
        if self._learned_s < self.config.warmup_s:
            prior = self.config.cleaned_prior_gain if self._cleaned else self.config.prior_gain
            self._gain = max(prior, high)  # warm-up: never below the cautious prior
        else:
            self._gain = max(high, 0.01)

    @property
    def gain(self) -> float:
        return self._gain
