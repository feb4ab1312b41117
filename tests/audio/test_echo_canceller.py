"""The echo canceller without a sound card: a far end "played" with DAC stamps and a microphone holding its echo
(attenuated, coloured, delayed, with the two streams' stamps disagreeing as they do through PulseAudio's ALSA
plugin), fed chunk by chunk exactly as the capture and playback drains do. The real-device tests are in
tests/app/test_echo_cancellation.py."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from desktop.audio.aec_align import RATE, Anchor, FarEnd, LagEstimate, estimate_lag
from desktop.audio.capture import AudioChunk
from desktop.audio.echo_canceller import EchoCanceller, WebRtcBackend
from desktop.audio.echo_guard import EchoGuard
from tests.support.sounds import read_wav, speech_wav

FAR_TEXT = ("Here is a longer answer so that there is plenty of time to listen. The weather tomorrow will be mild "
            "with some sunshine in the afternoon.")
NEAR_TEXT = "Wait, stop please, I have a different question."


def energy_db(x: np.ndarray) -> float:
    return 10 * float(np.log10(np.mean(x.astype(np.float64) ** 2) + 1.0))


def echo_of(far: np.ndarray, gain_db: float, delay_s: float) -> np.ndarray:
    """A room-ish echo path: delay, a short decaying tail, gain."""
    taps = np.zeros(round(0.02 * RATE))
    taps[0], taps[40], taps[200], taps[-1] = 1.0, 0.4, -0.2, 0.1
    wet = np.convolve(far.astype(np.float64), taps)[: len(far)] * 10 ** (gain_db / 20)
    delay = round(delay_s * RATE)
    return np.concatenate([np.zeros(delay), wet])[: len(far)]


def best_correlation(signal: np.ndarray, part: np.ndarray, at: int) -> float:
    return max(abs(float(np.corrcoef(signal[at + k: at + k + len(part)].astype(np.float64), part)[0, 1]))
               for k in range(0, round(0.02 * RATE), 8))


def run(canceller: EchoCanceller, far: np.ndarray, mic: np.ndarray, stamp_offset_s: float,
        chunk: int = 960, on_chunk: Callable[[], None] | None = None) -> np.ndarray:
    """Feeds 10 ms played blocks and `chunk`-sized mic chunks in time order; returns the cleaned microphone.
    The output stream's stamps run `stamp_offset_s` ahead of the input's (as through PulseAudio's plugin)."""
    out: list[np.ndarray] = []
    t0 = 1000.0
    played = 0
    for start in range(0, len(mic) - chunk + 1, chunk):
        while played <= start + chunk + 2 * chunk:  # the speaker is fed ahead of what the mic captures
            canceller.note_playback(far[played:played + 240], t0 + played / RATE + stamp_offset_s, RATE, played)
            played += 240
        pcm = np.clip(np.round(mic[start:start + chunk]), -32768, 32767).astype(np.int16)
        result = canceller.process(AudioChunk(pcm, start, t0 + start / RATE, 0.0, 0.0, 0.0))
        assert len(result.pcm) == chunk and result.index == start
        out.append(result.pcm)
        if on_chunk is not None:
            on_chunk()
    return np.concatenate(out)


@pytest.fixture(scope="module")
def far() -> np.ndarray:
    samples, rate = read_wav(speech_wav(FAR_TEXT))
    assert rate == RATE
    return np.concatenate([samples, samples]).astype(np.int16)


@pytest.fixture(scope="module")
def near() -> np.ndarray:
    samples, _ = read_wav(speech_wav(NEAR_TEXT))
    return samples


@pytest.mark.parametrize(("gain_db", "delay_s", "stamp_offset_s"), [(0, 0.03, 0.0), (-13, 0.12, 0.47),
                                                                   (0, 0.03, -0.3)])
def test_echo_is_removed_after_alignment(far: np.ndarray, gain_db: float, delay_s: float,
                                         stamp_offset_s: float) -> None:
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    mic = echo_of(far, gain_db, delay_s)
    cleaned = run(canceller, far, mic, stamp_offset_s)
    assert canceller.active
    true_lag = (delay_s - stamp_offset_s) * RATE
    assert abs(canceller.lag - true_lag) < 0.005 * RATE, (canceller.lag, true_lag, canceller.estimates)
    settled = slice(3 * RATE, len(cleaned))
    erle = energy_db(mic[settled]) - energy_db(cleaned[settled])
    assert erle >= 25, erle


def test_user_speech_survives_double_talk(far: np.ndarray, near: np.ndarray) -> None:
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    echo = echo_of(far, 0, 0.03)  # the echo as loud as the assistant: a laptop at high volume
    at = 5 * RATE
    mic = echo.copy()
    mic[at:at + len(near)] += near
    cleaned = run(canceller, far, mic, 0.47)
    span = slice(at, at + len(near))
    # What is sent during double talk: mostly the user. Energy of the cleaned signal vs the user's own speech
    # and vs the echo that was in the microphone there.
    assert energy_db(echo[span]) - energy_db(near) > -3, "the echo must be as loud as the user for this test"
    kept = energy_db(cleaned[span]) - energy_db(near)
    assert kept > -10, f"the user's words were suppressed: {kept:.1f} dB"
    # The canceller's band filters delay its output a little: compare at the best lag within 20 ms.
    corr = best_correlation(cleaned, near.astype(np.float64), at)
    echo_corr = best_correlation(cleaned, echo[span], at)
    assert corr > 0.5 and corr > 2 * echo_corr, (corr, echo_corr)


def test_disabled_or_idle_canceller_passes_audio_through(far: np.ndarray) -> None:
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    canceller.enabled = False
    mic = echo_of(far, 0, 0.03)[: 2 * RATE]
    assert np.array_equal(run(canceller, far, mic, 0.0), np.round(mic).astype(np.int16)[: len(mic) // 960 * 960])
    assert canceller.frames == 0
    idle = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    quiet = np.zeros(3 * RATE, dtype=np.int16)
    talk = (far[: 3 * RATE] // 4).astype(np.float64)
    assert np.array_equal(run(idle, quiet, talk, 0.0), talk.astype(np.int16)), "no far end: nothing to cancel"


def test_odd_chunk_sizes_keep_length_and_still_cancel(far: np.ndarray) -> None:
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    mic = echo_of(far, -6, 0.05)
    cleaned = run(canceller, far, mic, 0.1, chunk=1001)  # a 44.1 kHz device resampled: lengths vary
    settled = slice(3 * RATE, len(cleaned))
    assert energy_db(mic[settled]) - energy_db(cleaned[settled]) >= 25


def test_guard_hands_over_to_an_active_canceller(far: np.ndarray) -> None:
    guard = EchoGuard()
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    guard.canceller = canceller
    assert guard.gating, "not aligned yet: the level guard still gates the server"
    run(canceller, far, echo_of(far, 0, 0.03), 0.0)
    assert canceller.active and not guard.gating
    guard.note_playback(10.0, 5000.0)
    # The cleaned microphone's echo gain is tiny: a user far quieter than the speaker is still heard, a
    # leftover of the echo is not.
    assert guard.is_user(10.05, 2000.0, speech=True, seconds=0.02), "with the echo removed, speech is the user's"
    assert not guard.is_user(10.1, 200.0, speech=True, seconds=0.02)
    guard.set_enabled(False)  # "I use headphones"
    assert not canceller.enabled and not canceller.active and not guard.gating


def test_far_end_timeline_reanchors_after_a_gap() -> None:
    far = FarEnd(keep_s=2.0)
    block = np.full(240, 1000, dtype=np.int16)
    far.write(block, 1.0)
    far.write(block, 1.0 + 240 / RATE + 0.001)  # stamp jitter: appended back to back
    assert far.anchors == 1 and far.end == RATE + 480
    far.write(block, 1.5)  # after an underrun or a rest: re-anchored, the gap is silence
    assert far.anchors == 2
    gap = far.read(RATE + 480, round(0.5 * RATE) - 480)
    assert not gap.any() and far.read(round(1.5 * RATE), 240).tolist() == block.tolist()


def test_lag_estimate_finds_a_known_offset(far: np.ndarray) -> None:
    lag = round(-0.4 * RATE)
    mic_start = 3 * RATE
    mic = far[mic_start - lag: mic_start - lag + 2 * RATE].astype(np.float64) * 0.3
    lo, hi = round(-0.8 * RATE), round(0.5 * RATE)
    segment = far[mic_start - hi: mic_start + 2 * RATE - lo]
    estimate = estimate_lag(mic, segment, lo, hi)
    assert abs(estimate.lag - lag) <= 3 and estimate.confidence > 0.5, estimate


def run_with_mic_gap(canceller: EchoCanceller, far: np.ndarray, mic: np.ndarray, gap_at_s: float, gap_s: float,
                     late_stamp_at_s: float, chunk: int = 960) -> tuple[np.ndarray, list[bool]]:
    """Like `run`, but `gap_s` of microphone audio is lost at `gap_at_s` (blocks dropped: the sample count goes on,
    the stamps and the audio jump ahead) and one stamp at `late_stamp_at_s` comes 80 ms late (a loaded machine).
    Returns the cleaned microphone and, chunk by chunk, whether the canceller said it was active."""
    out: list[np.ndarray] = []
    active: list[bool] = []
    t0, played = 1000.0, 0
    gap, gap_at, late_at = round(gap_s * RATE), round(gap_at_s * RATE), round(late_stamp_at_s * RATE)
    for start in range(0, len(mic) - chunk - gap + 1, chunk):
        real = start + gap if start >= gap_at else start  # where in time this chunk really was captured
        while played <= real + 3 * chunk:
            canceller.note_playback(far[played:played + 240], t0 + played / RATE, RATE, played)
            played += 240
        pcm = np.clip(np.round(mic[real:real + chunk]), -32768, 32767).astype(np.int16)
        stamp = t0 + real / RATE + (0.08 if start == late_at // chunk * chunk else 0.0)
        out.append(canceller.process(AudioChunk(pcm, start, stamp, 0.0, 0.0, 0.0)).pcm)
        active.append(canceller.active)
    return np.concatenate(out), active


def test_a_late_stamp_only_pauses_and_a_real_gap_realigns(far: np.ndarray) -> None:
    """A single late ADC stamp moves nothing (the canceller only stops vouching for that chunk); lost microphone
    blocks shift the echo by their length: the canceller stops counting as active at once, so the level guard
    gates while it finds the new lag, and it is active and cancelling again within the same reply."""
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    mic = echo_of(far, 0, 0.03)
    per_s = RATE / 960
    cleaned, active = run_with_mic_gap(canceller, far, mic, gap_at_s=6.0, gap_s=0.1, late_stamp_at_s=4.0)
    late, gap = round(4.0 * per_s), round(6.0 * per_s)
    assert all(active[late - 5: late]) and not active[late] and all(active[late + 1: late + 6]), \
        "one late stamp: not vouched for, then active again without starting over"
    assert not any(active[gap: gap + 3]), "after the gap the canceller must not vouch for a misaligned microphone"
    assert active[-1] and canceller.lag is not None
    assert abs(canceller.lag - 0.03 * RATE) < 0.005 * RATE, "the gap is absorbed by re-anchoring, not by the lag"
    back = gap + active[gap:].index(True)
    assert back - gap < 2.0 * per_s, f"re-converged in {(back - gap) / per_s:.2f} s"
    settled = slice((back + round(0.5 * per_s)) * 960, len(cleaned))
    raw = mic[round(0.1 * RATE):][: len(cleaned)]
    assert energy_db(raw[settled]) - energy_db(cleaned[settled]) >= 25


def test_a_chunk_ahead_of_its_reference_is_not_vouched_for(far: np.ndarray) -> None:
    """On a busy loop the microphone chunk holding an echo can be handled before the played block behind it:
    the canceller first pulls the far end (the playback's collect), and a chunk whose reference is still
    missing while the speaker was just playing is not vouched for (the level guard gates it)."""
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    mic = echo_of(far, 0, 0.03)
    run(canceller, far, mic[: 5 * RATE], 0.0)  # the far end is fed 3 chunks ahead of the microphone
    assert canceller.active
    at, t0 = 5 * RATE, 1000.0
    late = np.clip(np.round(mic[at + 8 * 960: at + 9 * 960]), -32768, 32767).astype(np.int16)
    canceller.process(AudioChunk(late, at + 8 * 960, t0 + (at + 8 * 960) / RATE, 0.0, 0.0, 0.0))
    assert not canceller.active, "its reference had not arrived: the echo in it was not cancelled"
    fed = canceller.far.end - round(t0 * RATE)
    canceller.pull_far_end = lambda: canceller.note_playback(far[fed: at + 12 * 960], t0 + fed / RATE, RATE, fed)
    nxt = np.clip(np.round(mic[at + 9 * 960: at + 10 * 960]), -32768, 32767).astype(np.int16)
    canceller.process(AudioChunk(nxt, at + 9 * 960, t0 + (at + 9 * 960) / RATE, 0.0, 0.0, 0.0))
    assert canceller.active, "pulled before the chunk: the reference is there and the chunk is vouched for"


def test_anchor_follows_drift_and_moves_only_by_a_real_step() -> None:
    """Two clocks drifting apart by 5 samples a second for ten minutes never move the anchor (the lag absorbs the
    drift); a 20 ms step that persists moves it by that step only, not by the drift gathered so far."""
    anchor, block = Anchor(), 480
    rng = np.random.default_rng(7)
    assert anchor.check(10**7, 0)
    moved = 0
    for n in range(1, 12500):  # 20 ms blocks: ten minutes
        count = n * block
        drift = 5 * count / RATE
        moved += anchor.check(round(10**7 + count + drift + rng.normal(0, 24)), count)
    assert moved == 0 and not anchor.doubtful
    before = anchor.offset
    for n in range(12500, 12504):
        count = n * block
        anchor.check(round(10**7 + count + 5 * count / RATE + 480), count)  # 20 ms later from now on
    assert abs(anchor.offset - before - 480) < 60, anchor.offset - before


def test_the_lag_follows_drift_in_small_steps_and_ignores_one_odd_estimate(far: np.ndarray) -> None:
    """After alignment, estimates keep coming: the lag creeps toward their median a few samples at a time (the
    clocks' drift), and one estimate off by 21 samples (seen on a busy machine, where the step made AEC3 leak a
    burst the server took for speech) moves it by no more than that."""
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    run(canceller, far, echo_of(far, 0, 0.03), 0.0)
    lag = canceller.lag
    assert lag is not None and canceller.active
    seen = [lag]
    for offset in (0, 21, 0, 0, 3, 6, 9, 12, 15, 18):
        canceller._accept(LagEstimate(lag + offset, 1.0))
        seen.append(canceller.lag)
    steps = np.diff(seen)
    assert np.all(np.abs(steps) <= canceller.config.follow_step), seen
    assert seen[3] == lag, "one odd estimate among steady ones moved nothing"
    assert seen[-1] > lag + 6, "a steady drift is followed"
    assert canceller.active, "following never restarts the filter"


def test_a_moved_echo_path_stops_the_vouching_at_once_and_is_taken_on_confirmation(far: np.ndarray) -> None:
    """The echo arrives 40 ms later from mid-reply on (another stream opened on the device moved a buffer): the
    first confident estimate that disagrees stops the canceller vouching for the microphone (the level guard gates
    again), the next one that agrees moves the lag, and the canceller cancels and vouches again."""
    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    half = len(far) // 2
    mic = np.concatenate([echo_of(far, 0, 0.03)[:half], echo_of(far, 0, 0.07)[half:]])
    run(canceller, far[:half], mic[:half], 0.0)
    lag = canceller.lag
    assert lag is not None and canceller.active
    canceller._accept(LagEstimate(lag - round(0.04 * RATE), 1.0))
    assert not canceller.active and canceller.lag == lag, "one estimate stops the vouching, moves nothing"
    canceller._accept(LagEstimate(lag - round(0.04 * RATE) + 3, 1.0))
    assert canceller.lag == lag - round(0.04 * RATE) + 3, "a second one agreeing moves the lag"

    canceller = EchoCanceller(WebRtcBackend(), estimate_off_loop=False)
    vouched: list[bool] = []
    out = run(canceller, far, mic, 0.0, on_chunk=lambda: vouched.append(canceller.active))
    moved = half // 960
    assert not all(vouched[moved:moved + 40]), "the move was noticed"
    assert canceller.active and abs(canceller.lag - (lag + round(0.04 * RATE))) < 24, (lag, canceller.lag)
    tail = slice(len(out) - 3 * RATE, len(out))
    assert energy_db(mic[tail]) - energy_db(out[tail]) > 20, "cancelling again after the move"

