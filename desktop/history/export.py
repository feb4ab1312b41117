"""One conversation as Markdown (to read) or JSON (to process): pure functions over the stored record."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from desktop.history.models import ConversationRecord, StoredItem


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def to_json(record: ConversationRecord) -> str:
    s = record.summary
    data: dict[str, Any] = {
        "id": s.id,
        "title": s.title,
        "started": _when(s.started),
        "updated": _when(s.updated),
        "backend": s.backend,
        "model": s.model,
        "cost_usd": round(s.cost, 6),
        "usage": record.usage,
        "items": [{**asdict(item), "created": _when(item.created)} for item in record.items],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_markdown(record: ConversationRecord) -> str:
    s = record.summary
    lines = [f"# {s.title or 'Conversation'}", "",
             f"{_when(s.started)} · {s.backend or 'unknown'} · {s.model or '-'} · ${s.cost:.3f}", ""]
    for item in record.items:
        lines += [_item_markdown(item), ""]
    return "\n".join(lines).rstrip() + "\n"


def _item_markdown(item: StoredItem) -> str:
    if item.kind == "function_call":
        return f"**Tool** `{item.text}` ({_quote_inline(item.arguments)})"
    if item.kind == "function_output":
        return f"**Tool result** {_quote_inline(item.output or '')}"
    if item.kind == "approval":
        return f"**Approval** {item.text}"
    who = "You" if item.role == "user" else "Assistant"
    if item.heard is not None:
        unheard = f" ~~{item.unheard.strip()}~~ *(not heard)*" if item.unheard.strip() else ""
        return f"**{who}:** {item.heard.strip()}{unheard}"
    return f"**{who}:** {item.text.strip() or '*(no transcript)*'}"


def _quote_inline(text: str) -> str:
    flat = " ".join(text.split())
    return f"`{flat.replace('`', chr(39))}`" if flat else "``"
