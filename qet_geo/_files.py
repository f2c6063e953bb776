"""Output folders built beside their destination, with the permissions of an ordinary folder;
workbooks whose bytes depend on their content only."""

from __future__ import annotations

import datetime
import io
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def staging_folder(parent: Path, name: str) -> Path:
    """Create an empty hidden folder in ``parent`` to build ``name`` in, then rename it.

    ``tempfile.mkdtemp`` makes it private (0700); it is opened to what ``mkdir`` would have
    made (0755 under the usual umask), so that a web server can serve the renamed result.
    """
    folder = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=parent))
    folder.chmod(0o777 & ~_umask())
    return folder


def stable_xlsx(book: Any, when: datetime.datetime) -> bytes:
    """An openpyxl workbook as ``.xlsx`` bytes that depend on its content only.

    openpyxl stamps the save time in the document's properties and in every zip entry; here
    both say ``when`` instead (a file generated from a versioned template then has one checksum).
    """
    book.properties.created = when
    raw = io.BytesIO()
    book.save(raw)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    data,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    return out.getvalue()
