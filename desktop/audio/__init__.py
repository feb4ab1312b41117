"""The audio engine: microphone capture and assistant playback at 24 kHz PCM16, devices, levels.

Imports neither Qt nor desktop.core: the app layer bridges this to Qt and joins it with the session.
"""
