"""The time tool names the user's zone (IANA name and UTC offset); the registry offers each built-in by a stable
name, with the clipboard and links only when the app gives the desktop callables."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import zoneinfo
from pathlib import Path

from desktop.tools.builtin import current_time, default_registry, zone_name


def test_zone_name_from_tz_then_the_localtime_link_then_etc_timezone(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    os.symlink("/usr/share/zoneinfo/America/New_York", link)
    named = tmp_path / "timezone"
    named.write_text("Asia/Tokyo\n")
    missing = tmp_path / "none"
    assert zone_name({"TZ": ":Europe/Paris"}, link, named) == "Europe/Paris"
    assert zone_name({"TZ": "Not/AZone"}, link, named) == "America/New_York"
    assert zone_name({}, missing, named) == "Asia/Tokyo"
    assert zone_name({}, missing, missing) is None


def test_current_time_reports_zone_abbreviation_and_offset() -> None:
    paris = dt.datetime(2026, 12, 3, 17, 4, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    out = current_time(lambda: paris, lambda: "Europe/Paris")
    assert out == {"time": "17:04", "date": "Thursday 03 December 2026", "timezone": "Europe/Paris",
                   "abbreviation": "CET", "utc_offset": "+01:00", "iso": "2026-12-03T17:04:00+01:00"}
    st_johns = dt.datetime(2026, 12, 3, 9, 0, tzinfo=zoneinfo.ZoneInfo("America/St_Johns"))
    out = current_time(lambda: st_johns, lambda: None)
    assert (out["timezone"], out["utc_offset"]) == ("NST", "-03:30")  # no IANA name found: the abbreviation


def test_this_machines_zone_through_the_registry() -> None:
    out = json.loads(asyncio.run(default_registry().call("get_current_time", "{}")))
    expected = dt.datetime.now().astimezone().utcoffset()
    assert out["utc_offset"] == current_time()["utc_offset"] and expected is not None
    assert out["timezone"] == (zone_name() or out["abbreviation"])


def test_stable_names_and_read_only_flags(tmp_path: Path) -> None:
    from desktop.tools.timers import TimerBook

    registry = default_registry(TimerBook(tmp_path / "t.json"), clipboard=lambda: "x", open_url=lambda url: True)
    flags = {tool.name: tool.read_only for tool in registry.tools()}
    assert flags == {"get_current_time": True, "calculate": True, "set_timer": False, "list_timers": True,
                     "cancel_timer": False, "read_clipboard": False, "open_url": False}
    assert {tool.source for tool in registry.tools()} == {"builtin"}
    assert default_registry().names() == ["get_current_time", "calculate"]


def test_every_builtin_schema_is_a_valid_realtime_tool_and_json_schema(tmp_path: Path) -> None:
    import jsonschema
    from openai.types.realtime.realtime_function_tool import RealtimeFunctionTool

    from desktop.tools.timers import TimerBook

    registry = default_registry(TimerBook(tmp_path / "t.json"), clipboard=lambda: "x", open_url=lambda url: True)
    for schema in registry.schemas():
        tool = RealtimeFunctionTool.model_validate(schema)
        assert tool.name and len(tool.name) <= 64 and not tool.model_extra
        jsonschema.Draft202012Validator.check_schema(schema["parameters"])
    set_timer = jsonschema.Draft202012Validator(registry.get("set_timer").parameters)  # type: ignore[union-attr]
    assert set_timer.is_valid({"at": "5", "label": "call the dentist"})
    assert not set_timer.is_valid({"seconds": "five"})
    assert not set_timer.is_valid({"minutes": 5})  # unknown properties are refused
