"""User-facing text: French first (the source language), English from a gettext catalogue.

Every message, label and page is written once, in French, as a template with named fields::

    raise ValidationError(msg("Mode {mode!r} inconnu : utilisez walk ou bike.", mode=mode))

The English translation lives in the catalogue ``qet_geo/locale/en/LC_MESSAGES/qet_geo.po``
(Babel/gettext, ``python-brace-format``), the same catalogue the web portal's templates read.
A :class:`Msg` keeps its template and fields and is rendered in the reader's language when it is
shown (``qet --lang en``, ``Accept-Language: en``), so one error object serves the CLI in French
and an API caller in English. French needs no catalogue; the English one is read on first use.

``tests/test_i18n.py`` extracts every ``msg(...)`` and ``_t(...)`` template (and the web pages'
``_("...")``: :func:`_template_texts`) and checks
that the catalogue translates each of them, with the same fields, and holds nothing stale; the help
texts of the ``qet`` command (``help=`` and the commands' docstrings in ``qet_geo/cli/``) are in
the same catalogue. After
adding or changing a text, run ``.venv/bin/python -m qet_geo.i18n`` to update the catalogue, then
write the English of each new entry.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["AND", "CATALOGUE", "LANGS", "Lang", "Msg", "day", "join", "msg", "number", "translate"]

#: A language of user-facing text.
Lang = Literal["fr", "en"]
#: The languages, the default (and source) first.
LANGS: tuple[Lang, ...] = ("fr", "en")
#: The English catalogue (French is the source language: its msgids).
CATALOGUE = Path(__file__).resolve().parent / "locale" / "en" / "LC_MESSAGES" / "qet_geo.po"


class Msg:
    """A user-facing text: a French template and its fields, rendered per language.

    Parameters
    ----------
    template
        The French text, with ``{field}`` placeholders (``str.format`` syntax).
    **fields
        The values of the placeholders.
    """

    __slots__ = ("fields", "template")

    def __init__(self, template: str, /, **fields: Any) -> None:
        self.template = template
        self.fields = fields

    def render(self, lang: str = "fr") -> str:
        """Return the text in ``lang`` ("fr" or "en"; anything else gives French).

        A field that is itself a :class:`Msg` is rendered in the same language.
        """
        fields = {k: v.render(lang) if isinstance(v, Msg) else v for k, v in self.fields.items()}
        text = translate(self.template, lang)
        try:
            return text.format(**fields)
        except (KeyError, IndexError, ValueError):
            # a translation naming a field the code does not give (tests/test_i18n.py catches
            # it): the French, rather than an error in place of a message
            return self.template.format(**fields)

    def __str__(self) -> str:
        return self.render("fr")

    def __repr__(self) -> str:
        return f"msg({self.template!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and (self.template, self.fields) == (
            other.template,
            other.fields,
        )

    def __hash__(self) -> int:
        return hash(self.template)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.template, self.fields))


def _rebuild(template: str, fields: dict[str, Any]) -> Msg:
    return Msg(template, **fields)


def msg(template: str, /, **fields: Any) -> Msg:
    """Mark a French template for the catalogue and bind its fields (see :class:`Msg`)."""
    return Msg(template, **fields)


class _Joined(Msg):
    """Texts joined by a separator, each part and the separator rendered in the same language."""

    __slots__ = ("parts", "sep")

    def __init__(self, parts: Sequence[Msg | str], sep: Msg | str) -> None:
        super().__init__("")
        self.parts = tuple(parts)
        self.sep = sep

    def render(self, lang: str = "fr") -> str:
        sep = self.sep.render(lang) if isinstance(self.sep, Msg) else self.sep
        return sep.join(p.render(lang) if isinstance(p, Msg) else str(p) for p in self.parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Joined) and (self.parts, self.sep) == (other.parts, other.sep)

    def __hash__(self) -> int:
        return hash(self.parts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Joined, (self.parts, self.sep))


#: Numbers this large are written in scientific notation (their digits mean nothing).
_SCIENTIFIC_FROM = 1e15


class _Number(Msg):
    """A number written the reader's way: ``12\u202f345,5`` in French, ``12,345.5`` in English."""

    __slots__ = ("decimals", "value")

    def __init__(self, value: float, decimals: int | None) -> None:
        super().__init__("")
        self.value = value
        self.decimals = decimals

    def render(self, lang: str = "fr") -> str:
        import math

        from babel.numbers import format_decimal, format_scientific

        locale = "en" if lang == "en" else "fr_FR"
        value = float(self.value)
        if not math.isfinite(value):
            return "–"
        if abs(value) >= _SCIENTIFIC_FROM:
            # e.g. the odds ratio of a separated fit (1e46): Babel cannot write its digits
            return format_scientific(value, format="0.##E0", locale=locale)
        pattern = None if self.decimals is None else "#,##0." + "0" * self.decimals
        if self.decimals == 0:
            pattern = "#,##0"
        return format_decimal(self.value, format=pattern, locale=locale)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Number) and (self.value, self.decimals) == (
            other.value,
            other.decimals,
        )

    def __hash__(self) -> int:
        return hash(self.value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Number, (self.value, self.decimals))


def number(value: float, *, decimals: int | None = None) -> Msg:
    """A number for a text field, with the reader's separators (Babel's CLDR data).

    Parameters
    ----------
    value
        The number.
    decimals
        Fixed decimals; as many as needed (up to three) when None.
    """
    return _Number(value, decimals)


class _Day(Msg):
    """A date in words: ``7 décembre 2026`` in French, ``7 December 2026`` in English."""

    __slots__ = ("value",)

    def __init__(self, value: datetime.date) -> None:
        super().__init__("")
        self.value = value

    def render(self, lang: str = "fr") -> str:
        from babel.dates import format_date

        return format_date(self.value, format="long", locale="en_GB" if lang == "en" else "fr_FR")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Day) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Day, (self.value,))


def day(value: datetime.date | str) -> Msg:
    """A date for a text field, in words and the reader's language (Babel's CLDR data).

    Parameters
    ----------
    value
        A date (a datetime gives its day) or an ISO ``YYYY-MM-DD`` string.

    Examples
    --------
    >>> day("2026-12-07").render("fr"), day("2026-12-07").render("en")
    ('7 décembre 2026', '7 December 2026')
    """
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    elif isinstance(value, datetime.datetime):
        value = value.date()
    return _Day(value)


#: " et " / " and ": the last separator of an enumeration.
AND = msg(" et ")


def join(parts: Sequence[Msg | str], sep: Msg | str = ", ") -> Msg:
    """Join texts (e.g. the problems found in a file) into one, rendered part by part.

    Parameters
    ----------
    parts
        The texts, :class:`Msg` or plain strings (file names, codes).
    sep
        The separator: a plain string (", ", "; ") or a text such as :data:`AND`.
    """
    return _Joined(parts, sep)


def translate(template: str, lang: str = "fr") -> str:
    """Return the template in ``lang``: the French source itself, else the catalogue's text."""
    if lang != "en":
        return template
    return _english().get(template) or template


@functools.cache
def _english() -> dict[str, str]:
    from babel.messages.pofile import read_po

    with CATALOGUE.open("rb") as f:
        catalog = read_po(f, locale="en")
    english = {
        m.id: m.string for m in catalog if isinstance(m.id, str) and isinstance(m.string, str)
    }
    return english


@dataclass(frozen=True)
class _Call:
    """A ``msg(...)``/``_t(...)`` call found in the code."""

    path: str
    line: int
    template: str | None  # None: the first argument is not a plain string literal
    fields: frozenset[str]
    comments: tuple[str, ...]
    #: "msg": a template rendered with its fields; "help": a help text of the ``qet`` command
    #: (an option's ``help=``, a command's docstring), shown as it is, braces included
    kind: Literal["msg", "help"] = "msg"


def _notes(lines: list[str], lineno: int) -> tuple[str, ...]:
    """The ``# i18n:`` comments written just above line ``lineno`` (1-based), for translators."""
    notes: list[str] = []
    above = lineno - 2
    while above >= 0 and lines[above].strip().startswith("#"):
        comment = lines[above].strip().lstrip("#").strip()
        if comment.startswith("i18n:"):
            notes.insert(0, comment[len("i18n:") :].strip())
        above -= 1
    return tuple(notes)


def _calls(root: Path | None = None) -> list[_Call]:
    """Every ``msg("...")`` and ``_t("...")`` of the library, the service and the maps.

    Read from the syntax tree (nested calls and calls inside f-strings included), with the
    ``# i18n:`` comments written just above a call for translators; then the help texts of
    the ``qet`` command (:func:`_help_texts`).
    """
    import ast

    root = root or Path(__file__).resolve().parents[1]
    found: list[_Call] = []
    for folder in ("qet_geo", "api", "maps"):
        for path in sorted((root / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            for node in ast.walk(ast.parse(text)):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("msg", "_t")
                    and node.args
                ):
                    continue
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id == "template":
                    continue  # the renderers themselves pass a template through
                template = (
                    first.value
                    if isinstance(first, ast.Constant) and isinstance(first.value, str)
                    else None
                )
                found.append(
                    _Call(
                        path=str(path.relative_to(root)),
                        line=node.lineno,
                        template=template,
                        fields=frozenset(k.arg for k in node.keywords if k.arg),
                        comments=_notes(lines, node.lineno),
                    )
                )
    return found + _template_texts(root) + _help_texts(root)


def _template_texts(root: Path) -> list[_Call]:
    """Every ``_("...")`` of the web pages' Jinja2 templates (``api/**/templates/*.html``).

    A template's ``_("Étape : {phase}", phase=...)`` is a template with its fields, like
    ``msg(...)`` (:mod:`api.web._kit` binds ``_`` to the catalogue).
    """
    from jinja2 import Environment, nodes

    env = Environment(autoescape=True)
    found: list[_Call] = []
    for path in sorted((root / "api").rglob("templates/*.html")):
        tree = env.parse(path.read_text(encoding="utf-8"))
        for node in tree.find_all(nodes.Call):
            if not (isinstance(node.node, nodes.Name) and node.node.name == "_" and node.args):
                continue
            first = node.args[0]
            template = (
                first.value
                if isinstance(first, nodes.Const) and isinstance(first.value, str)
                else None
            )
            found.append(
                _Call(
                    path=str(path.relative_to(root)),
                    line=node.lineno,
                    template=template,
                    fields=frozenset(k.key for k in node.kwargs),
                    comments=(),
                )
            )
    return found


#: The keywords of typer's and click's calls whose value is a text shown in ``--help``.
_HELP_KEYWORDS = ("help", "short_help", "epilog", "rich_help_panel")


def _help_texts(root: Path) -> list[_Call]:
    """The help texts of the ``qet`` command, in French, for the catalogue.

    In ``qet_geo/cli/``: every string literal given as ``help=`` (or ``short_help=``,
    ``epilog=``, ``rich_help_panel=``) to a call (``typer.Option``, ``typer.Argument``,
    ``typer.Typer``...), and the docstring of every function registered as a command, by a
    decorator (``@app.command(...)``, ``@app.callback()``) or a call
    (``app.command("route")(route)``). ``qet`` shows them in the chosen language
    (:mod:`qet_geo.cli.main`); ``tests/test_i18n.py`` checks that every text of its help is here.
    """
    import ast
    import inspect

    def registers(call: ast.expr) -> bool:
        return (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("command", "callback")
        )

    trees = {
        path: (text, ast.parse(text))
        for path in sorted((root / "qet_geo" / "cli").glob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
    }
    commands = {  # the functions registered by a call, by name
        node.args[0].id
        for _, tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and registers(node.func)
        and node.args
        and isinstance(node.args[0], ast.Name)
    }
    found: list[_Call] = []
    for path, (text, tree) in trees.items():
        lines = text.splitlines()
        rel = str(path.relative_to(root))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    value = keyword.value
                    if (
                        keyword.arg in _HELP_KEYWORDS
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                        and value.value.strip()
                    ):
                        found.append(
                            _Call(
                                path=rel,
                                line=value.lineno,
                                template=inspect.cleandoc(value.value),
                                fields=frozenset(),
                                comments=_notes(lines, value.lineno),
                                kind="help",
                            )
                        )
            elif isinstance(node, ast.FunctionDef) and (
                node.name in commands or any(registers(d) for d in node.decorator_list)
            ):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    found.append(
                        _Call(
                            path=rel,
                            line=node.lineno,
                            template=doc,
                            fields=frozenset(),
                            comments=_notes(lines, node.lineno),
                            kind="help",
                        )
                    )
    return found


def _update_catalogue() -> None:
    """Write every template of the code into the English catalogue.

    Entries already translated keep their English; new ones are added empty, stale ones dropped.
    """
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    old: dict[str, str] = {}
    created = None
    if CATALOGUE.exists():
        with CATALOGUE.open("rb") as f:
            previous = read_po(f, locale="en")
        old = {m.id: str(m.string) for m in previous if isinstance(m.id, str)}
        created = previous.creation_date  # kept, so that an unchanged catalogue stays unchanged
    catalog = Catalog(
        locale="en", project="qet-geo", domain="qet_geo", fuzzy=False, creation_date=created
    )
    for call in _calls():
        if call.template is None:
            continue
        catalog.add(
            call.template,
            old.get(call.template, ""),
            locations=[(call.path, call.line)],
            flags=("python-brace-format",) if call.kind == "msg" else (),
            auto_comments=call.comments,
        )
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    with CATALOGUE.open("wb") as f:
        write_po(f, catalog, width=100, sort_output=True, include_lineno=False)


if __name__ == "__main__":
    _update_catalogue()
