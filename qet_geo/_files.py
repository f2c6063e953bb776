"""Output folders built beside their destination, with the permissions of an ordinary folder."""

from __future__ import annotations

import tempfile
from pathlib import Path


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
