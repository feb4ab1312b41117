"""The application layer: wires the Qt-free core and the audio engine to the window."""
