"""Parley: a desktop push-to-talk voice agent for realtime speech-to-speech models."""

__version__ = "0.1.0"
