"""Vendored Leaflet assets, inlined into offline pages, and the check that nothing is fetched.

folium links Leaflet and its plugins from CDNs (``default_js`` / ``default_css`` of each element,
turned into ``<script src>`` / ``<link href>`` in the page header when the page is rendered). An
offline map instead carries :class:`OfflineAssets` as the last child of its figure: it renders
after every map element, so it sees the complete header, and it replaces each CDN link by the
content of the matching file of ``maps/static`` (Leaflet's CSS with its images as data URIs).
It then scans the whole page with :func:`find_remote_resources` and refuses to render one that
would still load anything from another host (a tile layer, an unknown plugin).
"""

from __future__ import annotations

import base64
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from branca.element import CssLink, Element, Figure, JavascriptLink

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg

__all__ = [
    "ASSETS",
    "LINK_HOSTS",
    "Asset",
    "OfflineAssets",
    "asset_text",
    "find_links",
    "find_remote_resources",
]

STATIC = Path(__file__).resolve().parent / "static"

#: Hosts that offline pages may *link* to (``<a href>``, followed only on a click, never loaded):
#: the OSM copyright and ODbL pages that the attribution must point to, and Leaflet's site.
LINK_HOSTS: frozenset[str] = frozenset(
    {"www.openstreetmap.org", "openstreetmap.org", "opendatacommons.org", "leafletjs.com"}
)


@dataclass(frozen=True)
class Asset:
    """One vendored file: the folium resource name it replaces and where it comes from."""

    name: str
    kind: Literal["js", "css"]
    path: str
    package: str
    licence: str
    aliases: tuple[str, ...] = ()

    @property
    def banner(self) -> str:
        """Return the comment put before the inlined content (package, version, licence)."""
        return (
            f"/* {self.package}, {self.licence} licence: see maps/static/"
            f"{self.path.split('/')[0]}/LICENSE */"
        )


#: The vendored files, by the resource name folium gives them.
ASSETS: tuple[Asset, ...] = (
    Asset("leaflet", "js", "leaflet/leaflet.js", "leaflet 1.9.4", "BSD-2-Clause", ("leaflet.js",)),
    Asset(
        "leaflet_css",
        "css",
        "leaflet/leaflet.css",
        "leaflet 1.9.4",
        "BSD-2-Clause",
        ("leaflet.css",),
    ),
    Asset(
        "markerclusterjs",
        "js",
        "leaflet.markercluster/leaflet.markercluster.js",
        "leaflet.markercluster 1.5.3",
        "MIT",
        ("leaflet.markercluster.js",),
    ),
    Asset(
        "markerclustercss",
        "css",
        "leaflet.markercluster/MarkerCluster.css",
        "leaflet.markercluster 1.5.3",
        "MIT",
        ("MarkerCluster.css",),
    ),
    Asset(
        "markerclusterdefaultcss",
        "css",
        "leaflet.markercluster/MarkerCluster.Default.css",
        "leaflet.markercluster 1.5.3",
        "MIT",
        ("MarkerCluster.Default.css",),
    ),
    Asset(
        "Leaflet.Sync",
        "js",
        "leaflet.sync/L.Map.Sync.js",
        "leaflet.sync 0.2.4",
        "BSD-3-Clause",
        ("L.Map.Sync.js", "L.Map.Sync.min.js"),
    ),
    Asset(
        "leaflet_draw_js",
        "js",
        "leaflet.draw/leaflet.draw.js",
        "leaflet-draw 1.0.4",
        "MIT",
        ("leaflet.draw.js",),
    ),
    Asset(
        "leaflet_draw_css",
        "css",
        "leaflet.draw/leaflet.draw.css",
        "leaflet-draw 1.0.4",
        "MIT",
        ("leaflet.draw.css",),
    ),
)

_BY_NAME = {asset.name: asset for asset in ASSETS}
_BY_FILE = {alias: asset for asset in ASSETS for alias in asset.aliases}
_LEAFLET_IMAGE = re.compile(r"url\((?:images/)?([\w-]+\.png)\)")
#: The images of Leaflet.draw's CSS (its toolbar's sprites), quoted: ``url('images/x.svg')``.
_DRAW_IMAGE = re.compile(r"url\(['\"]?images/([\w-]+\.(?:png|svg))['\"]?\)")
_IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}


@cache
def asset_text(name: str) -> str:
    """Return the content of a vendored asset, ready to inline.

    Parameters
    ----------
    name
        The folium resource name (``"leaflet"``, ``"leaflet_css"``, ``"markerclusterjs"``...), see
        :data:`ASSETS`.

    Returns
    -------
    str
        The file's text after a licence banner; in Leaflet's CSS, the image URLs are data URIs.
    """
    asset = _BY_NAME[name]
    text = (STATIC / asset.path).read_text(encoding="utf-8")
    if asset.name == "leaflet_css":
        text = _LEAFLET_IMAGE.sub(lambda match: f"url({_image_uri(match.group(1))})", text)
    elif asset.name == "leaflet_draw_css":
        text = _DRAW_IMAGE.sub(
            lambda match: f"url({_image_uri(match.group(1), 'leaflet.draw')})", text
        )
    # "</" would end the inline element early; "<\/" is the same text to the JS and CSS parsers.
    text = text.replace("</", "<\\/")
    return f"{asset.banner}\n{text}"


@cache
def _image_uri(filename: str, folder: str = "leaflet") -> str:
    data = (STATIC / folder / "images" / filename).read_bytes()
    kind = _IMAGE_TYPES[Path(filename).suffix]
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def default_icon_script() -> str:
    """Return the JS that points Leaflet's default marker icon at data URIs.

    Leaflet finds its marker images from the URL in its CSS; with a data URI there, it cannot,
    so the options are set directly.
    """
    return (
        "L.Icon.Default.imagePath = '';\n"
        "L.Icon.Default.mergeOptions({"
        f"iconUrl: '{_image_uri('marker-icon.png')}', "
        f"iconRetinaUrl: '{_image_uri('marker-icon-2x.png')}', "
        f"shadowUrl: '{_image_uri('marker-shadow.png')}'"
        "});"
    )


class _Raw(Element):
    """An element rendered as the given text, untouched (not a Jinja template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


def _match(name: str, url: str) -> Asset | None:
    asset = _BY_NAME.get(name)
    if asset is not None:
        return asset
    filename = urlsplit(url).path.rsplit("/", 1)[-1]
    return _BY_FILE.get(filename)


class OfflineAssets(Element):
    """Inline the vendored assets and check that the page loads nothing from another host.

    Add it as the *last* child of the map's figure (:func:`maps._base.new_map` does): it then
    renders after every map element, when the page header is complete.
    """

    def __init__(self) -> None:
        super().__init__()
        self._name = "OfflineAssets"

    def render(self, **kwargs: Any) -> str:
        figure = self._parent
        if not isinstance(figure, Figure):
            raise ValidationError(
                msg("OfflineAssets doit être un enfant de la figure de la carte.")
            )
        header: OrderedDict[str, Element] = OrderedDict()
        for name, child in figure.header._children.items():
            if isinstance(child, JavascriptLink | CssLink):
                asset = _match(name, child.url)
                if asset is None:
                    raise ValidationError(
                        msg(
                            "Un élément de cette carte hors ligne demande {url}, qui n'est pas embarqué dans "
                            "maps/static : utilisez offline=False, ou embarquez le fichier et ajoutez-le à "
                            "maps._assets.ASSETS.",
                            url=child.url,
                        )
                    )
                tag = "script" if asset.kind == "js" else "style"
                child = _Raw(f"<{tag}>{asset_text(asset.name)}</{tag}>")
                if asset.name == "leaflet":
                    header[name] = child
                    header["qet_default_icon"] = _Raw(f"<script>{default_icon_script()}</script>")
                    continue
            header[name] = child
        figure.header._children = header
        remote: list[str] = []
        for part in (figure.header, figure.html, figure.script):
            for child in part._children.values():
                remote += find_remote_resources(child.render())
        if remote:
            shown = ", ".join(sorted(set(remote))[:5])
            raise ValidationError(
                msg(
                    "Cette carte hors ligne chargerait {shown} depuis un autre hôte (une couche de "
                    "tuiles ou une extension ajoutée ?) : retirez-la, ou construisez la carte avec "
                    "offline=False.",
                    shown=shown,
                )
            )
        return ""


# --------------------------------------------------------------------------------------------------
# finding what a page would fetch

_URL = r"(?:(?:https?|wss?|ftp):)?//[^\s\"'`<>()]+"
_ATTR = re.compile(
    r"<(?P<tag>[a-zA-Z][\w:-]*)\b[^<>]*?\s(?P<attr>src|href|srcset|poster|data|action|background|"
    r"xlink:href|formaction|manifest|ping)\s*=\s*[\"']?\s*(?P<url>" + _URL + ")",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\(\s*[\"']?\s*(?P<url>" + _URL + ")", re.IGNORECASE)
_IMPORT = re.compile(r"@import\s+[\"'](?P<url>" + _URL + ")", re.IGNORECASE)
_TEMPLATE = re.compile(r"(?P<url>(?:https?:)?//[^\s\"'`<>]*\{[sxyz]\}[^\s\"'`<>]*)")
_CALL = re.compile(
    r"\b(?:fetch|importScripts|open|Worker|SharedWorker|EventSource|WebSocket|sendBeacon|"
    r"tileLayer|TileLayer|imageOverlay|videoOverlay)\s*\(\s*(?:[\"'][A-Z]+[\"']\s*,\s*)?"
    r"[\"'`](?P<url>" + _URL + ")",
)
_PROPERTY = re.compile(r"\.(?:src|href|srcset|data)\s*=\s*[\"'`](?P<url>" + _URL + ")")
_LINK_TAGS = frozenset({"a", "area"})


def find_remote_resources(html: str) -> list[str]:
    """Return the URLs on other hosts that a browser would load when opening ``html``.

    Looked for: ``src``, ``srcset``, ``data``, ``poster`` and ``href`` attributes of any tag but
    ``<a>`` and ``<area>`` (``<link>``, ``<script>``, ``<img>``, SVG ``<image>``...), CSS
    ``url(...)`` and ``@import``, tile URL templates (``{z}/{x}/{y}``), and URLs given to JS
    loaders (``fetch``, ``XMLHttpRequest.open``, ``Worker``, ``L.tileLayer``, ``.src = ...``).
    Plain text (an SVG namespace, a licence comment) and ``<a href>`` links, followed only when
    clicked, are not loads; :func:`find_links` lists the latter. Markup hidden in JS strings by
    escapes (``\\u003cimg src=...``) is unescaped first.

    Parameters
    ----------
    html
        A page, or part of one (a script, a style sheet).

    Returns
    -------
    list of str
        The URLs found, in page order (empty for a self-contained page).
    """
    html = _unescape_js(html)
    found: list[tuple[int, str]] = []
    for match in _ATTR.finditer(html):
        if match["attr"].lower() == "href" and match["tag"].lower() in _LINK_TAGS:
            continue
        found.append((match.start("url"), match["url"]))
    for pattern in (_CSS_URL, _IMPORT, _TEMPLATE, _CALL, _PROPERTY):
        found += [(match.start("url"), match["url"]) for match in pattern.finditer(html)]
    seen: set[int] = set()
    urls: list[str] = []
    for position, url in sorted(found):
        if position not in seen:
            seen.add(position)
            urls.append(url)
    return urls


_LINK = re.compile(
    r"<(?:a|area)\b[^<>]*?\shref\s*=\s*[\\]?[\"']?\s*(?P<url>(?:https?:)?//[^\s\"'`<>\\]+)",
    re.IGNORECASE,
)


def find_links(html: str) -> list[str]:
    """Return the outside URLs of ``<a href>`` and ``<area href>`` links in ``html``.

    Parameters
    ----------
    html
        A page.

    Returns
    -------
    list of str
        The link targets, in page order.
    """
    return [match["url"] for match in _LINK.finditer(_unescape_js(html))]


_JS_ESCAPE = re.compile(r"\\u00([0-9a-fA-F]{2})|\\x([0-9a-fA-F]{2})")


def _unescape_js(text: str) -> str:
    """Undo the escapes that hide markup in JS strings (``\\u003cimg``, ``\\x3c``, ``<\\/``)."""
    text = _JS_ESCAPE.sub(lambda m: chr(int(m[1] or m[2], 16)), text)
    return text.replace("\\/", "/")


def link_host(url: str) -> str:
    """Return the host of a URL (``""`` when it has none)."""
    return urlsplit(url if "//" in url else "//" + url).hostname or ""
