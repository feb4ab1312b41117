"""The transcript: entries keyed by item id keep their place, cut-off text is visibly struck out, markup in
transcripts stays text, and new text only scrolls into view while the user is at the bottom."""

from __future__ import annotations

from PySide6.QtGui import QTextCharFormat, QTextCursor, QTextDocument
from pytestqt.qtbot import QtBot

from desktop.ui.transcript_view import UNHEARD_COLOUR, TranscriptView


def make_view(qtbot: QtBot) -> TranscriptView:
    view = TranscriptView()
    view.resize(500, 300)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def format_of(document: QTextDocument, needle: str) -> QTextCharFormat:
    """The character format in the middle of the first occurrence of `needle`."""
    found = document.find(needle)
    assert not found.isNull(), f"{needle!r} not in document"
    cursor = QTextCursor(document)
    cursor.setPosition(found.selectionStart() + len(needle) // 2 + 1)
    return cursor.charFormat()


def lines(view: TranscriptView) -> list[str]:
    return [line for line in view.plain_text().splitlines() if line.strip()]


def test_streamed_deltas_update_their_own_entry_in_place(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.add_or_update("item_user", "user", "", False)
    view.add_or_update("item_asst", "assistant", "Sure,", False)
    view.add_or_update("item_asst", "assistant", "Sure, here is", False)
    view.add_or_update("item_user", "user", "Tell me a joke", True)  # arrives late, keeps its place
    view.add_or_update("item_asst", "assistant", "Sure, here is one.", True)
    assert lines(view) == ["You", "Tell me a joke", "Parley", "Sure, here is one."]
    assert view.has_item("item_user") and not view.has_item("item_other")


def test_unheard_part_is_grey_and_struck_through(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.add_or_update("a1", "assistant", "The capital of France is Paris, a city of", False)
    view.mark_truncated("a1", "The capital of France is ", "Paris, a city of")
    text = view.plain_text()
    assert "The capital of France is Paris, a city of" in text and "(interrupted)" in text
    heard = format_of(view.document(), "capital")
    unheard = format_of(view.document(), "a city of")
    assert not heard.fontStrikeOut()
    assert unheard.fontStrikeOut()
    assert unheard.foreground().color() == UNHEARD_COLOUR
    assert heard.foreground().color() != UNHEARD_COLOUR

    # The final transcript arriving after the cut keeps the split: heard stays heard.
    view.add_or_update("a1", "assistant", "The capital of France is Paris, a city of lights.", True)
    assert format_of(view.document(), "of lights").fontStrikeOut()
    assert not format_of(view.document(), "capital").fontStrikeOut()


def test_markup_in_transcripts_is_shown_as_text(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.add_or_update("u1", "user", "<b>bold</b> <img src=x onerror=alert(1)> &amp;", True)
    assert "<b>bold</b> <img src=x onerror=alert(1)> &amp;" in view.plain_text()
    assert "<b>" not in view.toHtml().replace("&lt;b&gt;", "")
    assert not format_of(view.document(), "bold").font().bold()


def test_tool_call_row_is_updated_when_its_output_arrives(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.add_or_update("a1", "assistant", "Let me check.", True)
    view.add_tool_call("call_1", "get_weather", '{"city": "Paris"}')
    assert lines(view)[-1] == '⚙ get_weather({"city": "Paris"})  … running'
    view.add_notice("Reconnected")
    view.add_tool_call("call_1", "get_weather", '{"city": "Paris"}', '{"temp_c": 12}')
    assert lines(view)[-2:] == ['⚙ get_weather({"city": "Paris"})  → {"temp_c": 12}', "Reconnected"]
    view.add_tool_call("call_2", "dump", "x" * 1000, "y" * 1000)
    assert all(len(line) < 400 for line in lines(view))


def test_clear_removes_everything(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.add_or_update("u1", "user", "hello", True)
    view.add_notice("notice")
    view.clear()
    assert view.plain_text().strip() == ""
    assert not view.has_item("u1")
    view.add_or_update("u1", "user", "again", True)
    assert lines(view) == ["You", "again"]


def test_follows_new_text_unless_scrolled_up(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    bar = view.verticalScrollBar()
    for n in range(40):
        view.add_or_update(f"i{n}", "assistant", f"line {n}", True)
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=2000)
    assert view.is_following()

    bar.setValue(0)  # the user scrolls up to read
    assert not view.is_following()
    for n in range(40, 60):
        view.add_or_update(f"i{n}", "assistant", f"line {n}", True)
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)
    assert bar.value() == 0

    bar.setValue(bar.maximum())  # back at the bottom: follow again
    view.add_or_update("last", "assistant", "newest line\n" * 5, True)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum(), timeout=2000)
    assert view.is_following()
