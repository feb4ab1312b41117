"""The echo guard on synthetic level streams: echo at realistic attenuation and delay never counts as the user;
the user speaking over it does."""

from __future__ import annotations

import random

from desktop.audio.echo_guard import EchoGuard, EchoGuardConfig

BLOCK = 0.02


def speech_envelope(seconds: float, seed: int, level: float = 3000.0) -> list[float]:
    """Syllable-like bursts: loud 150 ms, quieter 100 ms, with jitter."""
    rng = random.Random(seed)
    out = []
    for i in range(int(seconds / BLOCK)):
        phase = (i * BLOCK) % 0.25
        out.append(level * (1.0 if phase < 0.15 else 0.15) * rng.uniform(0.7, 1.3))
    return out


def run_reply(guard: EchoGuard, playback: list[float], attenuation: float, delay_s: float,
              user: dict[int, float] | None = None) -> list[int]:
    """Feeds playback blocks and the mic (= delayed, attenuated playback + optional user) and returns the indexes
    of mic blocks judged to be the user."""
    delay_blocks = round(delay_s / BLOCK)
    hits = []
    for i, rms in enumerate(playback):
        t = i * BLOCK
        guard.note_playback(t, rms)
        echo = playback[i - delay_blocks] * attenuation if i >= delay_blocks else 0.0
        voice = (user or {}).get(i, 0.0)
        mic = (echo**2 + voice**2) ** 0.5
        if guard.is_user(t, mic, speech=mic > 200, seconds=BLOCK):
            hits.append(i)
    return hits


def test_echo_alone_never_interrupts() -> None:
    for seed in range(20):
        for attenuation, delay in ((0.1, 0.03), (0.3, 0.08), (0.45, 0.2)):
            guard = EchoGuard()
            assert run_reply(guard, speech_envelope(6.0, seed), attenuation, delay) == []


def test_user_over_echo_interrupts_quickly() -> None:
    guard = EchoGuard()
    playback = speech_envelope(6.0, 1)
    user = {i: 3000.0 for i in range(150, 200)}  # starts at 3.0 s, as loud as the assistant is played
    hits = run_reply(guard, playback, 0.1, 0.05, user)
    assert hits and hits[0] - 150 <= 3


def test_learned_gain_follows_the_real_echo_path() -> None:
    guard = EchoGuard()
    run_reply(guard, speech_envelope(6.0, 2), 0.1, 0.05)
    assert 0.08 < guard.gain < 0.3


def test_the_warm_up_lasts_the_playback_heard_not_a_number_of_blocks() -> None:
    """The capture hands on 40 ms blocks: counting each as 20 ms doubled the warm-up, and a user who spoke in
    that stretch had to be louder than the reply itself (and taught the guard their voice as the echo)."""
    guard = EchoGuard()
    for i in range(11):  # 0.44 s of a reply the microphone does not hear (a headset nobody told the app about)
        guard.note_playback(i * 0.04, 3000.0)
        assert not guard.is_user(i * 0.04, 20.0, speech=False, seconds=0.04)
    assert guard.warmed_up
    assert guard.is_user(0.48, 1000.0, speech=True, seconds=0.04), "a third of the reply's level is the user"


def test_no_playback_means_speech_is_the_user() -> None:
    assert EchoGuard().is_user(10.0, 500.0, speech=True, seconds=BLOCK)
    assert not EchoGuard().is_user(10.0, 500.0, speech=False, seconds=BLOCK)


def test_headphones_turn_the_guard_off() -> None:
    guard = EchoGuard(EchoGuardConfig(enabled=False))
    guard.note_playback(0.0, 3000.0)
    assert guard.is_user(0.05, 300.0, speech=True, seconds=BLOCK)
