"""The languages of user-facing text: French first (the source), English second.

Messages, labels and pages are French by default with an English option (``qet --lang en``,
``Accept-Language: en``). :data:`Lang` is the one type of a language argument.
"""

from __future__ import annotations

from typing import Literal

#: A language of user-facing text.
Lang = Literal["fr", "en"]
#: The languages, the default first.
LANGS: tuple[Lang, ...] = ("fr", "en")
