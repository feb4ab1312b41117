"""The conversation history: a crash-safe SQLite store with full-text search, written on its own thread.

Everything below the view (desktop/ui/history_view.py) is Qt-free: the app layer feeds the store from the
controller's signals (desktop/app/history_recorder.py) and the window reads it through the async API.
"""
