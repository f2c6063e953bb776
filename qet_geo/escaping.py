"""The one escaping chokepoint: every string written into a page, a map or a document passes here.

Strings from users and from data (neighbourhood names, OSM names and tags, survey labels, vote
themes, file names) land in four contexts, each with its own function:

* :func:`escape_html` — HTML text and attribute values (between double quotes), inline SVG and
  XML;
* :func:`js_string` — a JavaScript string literal inside a ``<script>``;
* :func:`script_json` — JSON data (GeoJSON, arrays of tooltips) inside a ``<script>``;
* :func:`url_path` — a relative link (``href``, ``src``) to a file of the same folder;
* :func:`xml_chars` — text handed to an XML writer that escapes by itself (gpxpy for GPX):
  only the characters XML cannot hold at all are dropped;
* :func:`qr_svg` — a QR code drawn as inline SVG (segno), its title escaped here;
* :func:`markdown_html` — a team's Markdown (phase notes, minutes, project sheets) as HTML:
  rendered without raw HTML (markdown-it-py), then cleaned to a short list of tags (nh3).

Besides HTML and JavaScript, each of them neutralises **template syntax**. branca (hence
folium) renders every element's header, HTML and script as a Jinja2 template a second time:
``MacroElement.render`` wraps the output of its macros in ``branca.element.Element(text)``,
whose constructor compiles ``text`` with ``jinja2.Template``. Whatever a string contains
between ``{{ }}``, ``{% %}`` or ``{# #}`` is then executed on the server (``{{ 7*7 }}`` prints
49, ``{{ cycler.__init__.__globals__.os.popen('id').read() }}`` runs a shell command) or makes
the page fail (``Quartier {{ '``). So no text escaped here keeps ``{`` or ``}``: in HTML
they become the character references ``&#123;`` ``&#125;``, in JavaScript strings the escapes
``\\u007b`` ``\\u007d``, which the browser turns back into the same characters and Jinja2
never sees (the braces left in :func:`script_json` are JSON's own, never ``{{``, ``{%`` or
``{#``). folium's own ``tojson`` filter escapes ``<``, ``>``, ``&`` and ``'`` but not
braces, which is why text must be escaped here before any folium element holds it.

The HTML escape also covers the places where folium pastes HTML into JavaScript template
literals (``folium.Tooltip`` writes its text between backquotes, ``folium.Popup`` too): the
backquote and the backslash become ``&#96;`` and ``&#92;``, so the text can neither close the
literal nor hide ``\\u003c`` escapes that JavaScript would decode into markup.

The maps' own elements also render once, never compiled again (:class:`maps._base.RenderedOnce`):
a second line of defence, not a reason to skip escaping.

Escaping happens once, where a string enters markup: give the functions plain text, never
text already escaped (it would show ``&amp;lt;``).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

__all__ = [
    "TEMPLATE_OPENERS",
    "escape_html",
    "js_string",
    "markdown_html",
    "qr_svg",
    "script_json",
    "url_path",
    "xml_chars",
]

#: The character sequences that open a Jinja2 tag, expression or comment.
TEMPLATE_OPENERS = ("{{", "{%", "{#")

_HTML = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    ord("`"): "&#96;",
    ord("\\"): "&#92;",
    ord("{"): "&#123;",
    ord("}"): "&#125;",
    ord("\r"): "&#13;",  # Jinja2 and HTML parsers turn CR LF into LF: kept as a reference
}

# Characters that XML 1.0 (GPX, SVG) does not allow at all, even escaped; HTML shows nothing
# sensible for them either. Tab, newline and carriage return are kept.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Inside a <script>: what could close the element or open an HTML comment (``</script``,
# ``<!--``), end a JS line (U+2028, U+2029 in older engines), or end a template literal. These
# characters occur in JSON strings only; braces are also JSON syntax (handled string by
# string below). ``&`` and ``'`` mean nothing in a script element and stay readable.
_SCRIPT = {
    "<": "\\u003c",
    ">": "\\u003e",
    "`": "\\u0060",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_SCRIPT_TABLE = str.maketrans(_SCRIPT)
_BRACES = str.maketrans({"{": "\\u007b", "}": "\\u007d"})
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def escape_html(text: object) -> str:
    """Return ``text`` safe as HTML, SVG or XML text or as a double-quoted attribute value.

    The apostrophe is kept (French text stays readable in the page source): write attributes
    between double quotes, always.

    Parameters
    ----------
    text
        Plain text (anything else is passed through ``str``). None gives "".

    Returns
    -------
    str
        ``&``, ``<``, ``>``, ``"``, the backquote, the backslash, both braces and the carriage
        return as character references; characters XML forbids (controls other than tab and newlines)
        dropped. Browsers and XML readers show exactly ``text``; a Jinja2 re-rendering of the
        result leaves it unchanged.
    """
    return xml_chars(text).translate(_HTML)


def xml_chars(text: object) -> str:
    """Return ``text`` without the characters XML 1.0 forbids even escaped (most controls).

    For writers that escape markup themselves (gpxpy): their output stays well-formed.

    Parameters
    ----------
    text
        Plain text (anything else is passed through ``str``). None gives "".

    Returns
    -------
    str
        ``text`` without U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+FFFE and U+FFFF.
    """
    if text is None:
        return ""
    return _NOT_XML.sub("", str(text))


def js_string(text: object) -> str:
    """Return a JavaScript string literal (quotes included) of ``text``, safe in a ``<script>``.

    Parameters
    ----------
    text
        Plain text (anything else is passed through ``str``).

    Returns
    -------
    str
        A double-quoted literal whose value is exactly ``text``; ``<``, ``>``, backquotes,
        line separators and braces are written as ``\\uXXXX`` escapes, quotes and backslashes
        as JSON writes them.
    """
    return script_json(str(text))


def script_json(data: Any) -> str:
    """Return ``data`` as JSON text that can be pasted into a ``<script>`` (or a folium template).

    Parameters
    ----------
    data
        JSON-serialisable data (dicts, lists, strings, numbers, booleans, None).

    Returns
    -------
    str
        Valid JSON equal to ``json.dumps(data)`` once parsed; in strings, ``<``, ``>``, the
        backquote, U+2028, U+2029 and the braces are ``\\uXXXX`` escapes, so the text
        can neither close the script element nor hold template syntax. Non-ASCII text is kept
        as is (UTF-8 pages).

    Raises
    ------
    ValueError
        ``data`` holds NaN or infinity (not JSON).
    TypeError
        ``data`` holds something JSON cannot represent.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.translate(_SCRIPT_TABLE)
    if "{" in text or "}" in text:
        # braces are also JSON syntax: escape them in strings only
        text = _JSON_STRING.sub(lambda m: m.group(0).translate(_BRACES), text)
    return text


def url_path(path: object) -> str:
    """Return a relative file path as a link target for ``href`` or ``src`` (quotes excluded).

    Parameters
    ----------
    path
        A path relative to the page, ``/``-separated (``maps/profiles.html``).

    Returns
    -------
    str
        The path percent-encoded (``/`` kept), then escaped for HTML: a name holding ``:``
        (``javascript:...``), ``#``, ``?``, quotes or braces stays one relative file name.
    """
    return escape_html(quote(str(path), safe="/"))


#: The tags a team's Markdown may produce, and their attributes (everything else is dropped).
_MARKDOWN_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_MARKDOWN_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
#: Longest Markdown text rendered (characters): a phase note, minutes, a project sheet.
MARKDOWN_MAX_CHARS = 50_000


def markdown_html(text: object, *, top: int = 2) -> str:
    """Return a team's Markdown as HTML safe to write in a page as it is.

    CommonMark (markdown-it-py) with raw HTML off, so ``<script>`` in the text stays text; its
    headings move down to ``top`` (``#`` gives ``<h{top}>``, ``##`` the next level, at most
    ``<h6>``: the text sits under the page's own headings); then
    nh3 (the Rust ``ammonia`` cleaner) keeps only paragraphs, emphasis, lists, quotes, code,
    tables and links (``http``, ``https``, ``mailto``; ``rel="noopener noreferrer nofollow"``),
    and the braces become character references, as :func:`escape_html` writes them, so that a
    second rendering as a Jinja2 template finds no tag.

    Parameters
    ----------
    text
        Markdown (anything else is passed through ``str``); None gives "". Beyond
        :data:`MARKDOWN_MAX_CHARS` characters the rest is cut off.
    top
        The level of the text's first headings (2 to 6): one below the heading it sits under.

    Returns
    -------
    str
        HTML: paragraphs and the tags above only.
    """
    import nh3
    from markdown_it import MarkdownIt

    source = xml_chars(text)[:MARKDOWN_MAX_CHARS]
    renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    rendered = renderer.render(source)
    top = min(max(int(top), 2), 6)
    rendered = re.sub(
        r"<(/?)h([1-6])>",
        lambda m: f"<{m[1]}h{min(int(m[2]) + top - 1, 6)}>",
        rendered,
    )
    cleaned = nh3.clean(
        rendered,
        tags=_MARKDOWN_TAGS,
        attributes=_MARKDOWN_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return cleaned.replace("{", "&#123;").replace("}", "&#125;")


def qr_svg(data: str, *, title: object, scale: int = 3) -> str:
    """Return the QR code of ``data`` as inline SVG markup, safe to write in a page as it is.

    segno draws the code (paths only: ``data`` is encoded into modules, never written as text),
    without its own title; the accessible ``<title>`` is written here from ``title`` through
    :func:`escape_html`, and the element gets ``role="img"`` with the same name.

    Parameters
    ----------
    data
        What the code holds (a URL, a participant code).
    title
        Plain text naming the code for screen readers and in print.
    scale
        Pixels per module.
    """
    import segno

    svg = segno.make(data, error="m").svg_inline(scale=scale, svgclass="qr")
    name = escape_html(title)
    opened = svg.index(">") + 1
    head = svg[: opened - 1] + f' role="img" aria-label="{name}">'
    return head + f"<title>{name}</title>" + svg[opened:]
