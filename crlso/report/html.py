"""HTML building blocks of `crlso.report`: one self-contained page, images as base64 data URIs.

Every function returns an HTML fragment; text arguments are escaped here, so callers pass plain text.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

__all__ = ["page", "section", "figure", "table", "note", "paragraph"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1250px;
       color: #222; line-height: 1.45; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 19px; border-bottom: 1px solid #ddd; padding-bottom: 3px; margin-top: 30px; }
.meta { color: #555; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 9px; text-align: right; } th { background: #f3f3f3; }
td:first-child, th:first-child, td.text { text-align: left; }
figure { margin: 10px 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #555; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 6px 10px; font-size: 13px; }
code { background: #f5f5f5; padding: 0 3px; }
"""


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """A complete HTML document (no external resources)."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(subtitle)}</p>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def section(title: str, *parts: str) -> str:
    """A titled section holding already-built fragments."""
    return f"<section><h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def figure(png: str | Path, caption: str = "") -> str:
    """An embedded PNG (base64 data URI) with a caption naming the file written beside the page."""
    png = Path(png)
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    text = f"{caption} ({png.name})" if caption else png.name
    return (f"<figure><img alt=\"{html.escape(png.stem)}\" src=\"data:image/png;base64,{data}\">"
            f"<figcaption>{html.escape(text)}</figcaption></figure>")


def table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain table; cells are converted with ``str``."""
    head_html = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    def cell(value: object) -> str:
        text = str(value)
        align = ' class="text"' if text[:1].isalpha() or text[:1] in "|{" else ""  # words and genotypes left, numbers right
        return f"<td{align}>{html.escape(text)}</td>"

    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head_html}</tr></thead><tbody>{body}</tbody></table>"


def note(text: str) -> str:
    """A highlighted remark (e.g. why a section was skipped)."""
    return f"<p class=\"note\">{html.escape(text)}</p>"


def paragraph(text: str) -> str:
    """A paragraph of plain text."""
    return f"<p>{html.escape(text)}</p>"
