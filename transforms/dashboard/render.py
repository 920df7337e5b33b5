"""Render the dashboard data into one HTML file (inline CSS, JS and JSON); the older months it
loads on demand are period files beside it (periods.py)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("template.html")
DATA_TOKEN = "__CLEARCAP_DATA__"
TITLE_TOKEN = "__CLEARCAP_TITLE__"


def embed_json(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no '</script', '<!--' or U+2028/9."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render_html(data: dict) -> str:
    """The complete HTML page for ``data`` (as returned by ``load_dashboard_data``)."""
    template = TEMPLATE.read_text(encoding="utf-8")
    if DATA_TOKEN not in template:
        raise ValueError(f"{TEMPLATE} lacks the {DATA_TOKEN} placeholder")
    title = html.escape(str((data.get("meta") or {}).get("latest_date") or "no data"))
    # Replace the data last, so that nothing inside the JSON is ever taken for a token.
    return template.replace(TITLE_TOKEN, title).replace(DATA_TOKEN, embed_json(data))
