"""`json.dumps(rows, indent=2, ensure_ascii=False)` for a list of flat records, faster.

With `indent`, the standard library encodes in Python, value by value; `list --json` of a big
library spent more time there than in reading the library. Here the C encoder writes all the
records in one call, with an item separator that carries the records' indentation; JSON strings
hold no raw newline, so every newline in its output is a separator, and `},\n    {` can only
be the step from one record to the next. The lists inside records are laid out apart and put
in place of a placeholder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

_records = json.JSONEncoder(ensure_ascii=False, separators=(",\n    ", ": ")).encode
_items = json.JSONEncoder(ensure_ascii=False, separators=(",\n      ", ": ")).encode
# Stands in for a list while the records are encoded; NUL comes out escaped as \u0000, so the
# encoded placeholder is found again (rows holding its very text go the slow way).
_PLACEHOLDER = "\x00readlist list\x00"
_PLACED = json.dumps(_PLACEHOLDER)


def dumps_rows(rows: Sequence[dict[str, Any]], lists: Sequence[str] = ()) -> str:
    """Exactly `json.dumps(list(rows), indent=2, ensure_ascii=False)`.

    Each row maps strings to strings, numbers, booleans or None, except the keys named in
    `lists`, which hold lists of those.
    """
    if not rows or not all(rows):
        return json.dumps(list(rows), indent=2, ensure_ascii=False)
    laid: list[str] = []
    flat = rows
    if lists:
        flat = []
        for row in rows:
            copy = dict(row)
            for key in lists:
                value = copy[key]
                copy[key] = _PLACEHOLDER
                laid.append("[\n      " + _items(value)[1:-1] + "\n    ]" if value else "[]")
            flat.append(copy)
    text = _records(flat)
    text = "[\n  {\n    " + text[2:-2].replace("},\n    {", "\n  },\n  {\n    ") + "\n  }\n]"
    if not lists:
        return text
    pieces = text.split(_PLACED)
    if len(pieces) != len(laid) + 1:
        return json.dumps(list(rows), indent=2, ensure_ascii=False)
    out = [pieces[0]]
    for value, after in zip(laid, pieces[1:], strict=True):
        out.append(value)
        out.append(after)
    return "".join(out)
