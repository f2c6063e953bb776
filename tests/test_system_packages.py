"""System packages are installed by the test command before pytest, never by a test or a fixture.

Two pytest-xdist workers that each ran ``apt-get install`` from a fixture raced for the dpkg lock
on a fresh machine, and one of them errored 376 tests (issue 12, item 0).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APT = re.compile(r"\bapt(-get)?\s+(install|update)\b")
# how a test runs a script (ROOT / "scripts" / "x.sh", or "scripts/x.sh" in an argument list)
RUN_IN_TEST = re.compile(r'(?:"scripts"\s*/\s*"|\[\s*"bash",\s*"scripts/)([a-z_]+\.sh)"')
RUN_IN_SCRIPT = re.compile(r"(?:bash|source|\.)\s+\S*scripts/([a-z_]+\.sh)")


def _scripts_run_by_tests() -> set[Path]:
    """Every script of scripts/ that a test or a fixture names, and the scripts those run."""
    named: set[Path] = set()
    for test in ROOT.joinpath("tests").rglob("*.py"):
        text = test.read_text(encoding="utf-8")
        named |= {ROOT / "scripts" / m for m in RUN_IN_TEST.findall(text)}
    todo = [p for p in named if p.is_file()]
    while todo:
        script = todo.pop()
        for name in RUN_IN_SCRIPT.findall(script.read_text(encoding="utf-8")):
            found = ROOT / "scripts" / name
            if found.is_file() and found not in named:
                named.add(found)
                todo.append(found)
    # the installer itself (run below only as a non-root user, where it installs nothing) and the
    # Python set-up (installs Python only where there is none: never under a running pytest)
    allowed = {ROOT / "scripts" / "system_packages.sh", ROOT / "scripts" / "setup.sh"}
    return {p for p in named if p.is_file()} - allowed


def _unquoted(line: str) -> str:
    """The line without its quoted strings (messages may tell the user to run apt-get)."""
    return re.sub(r"\"[^\"]*\"|'[^']*'", "", line)


def test_no_test_fixture_or_script_they_run_calls_apt() -> None:
    scripts = _scripts_run_by_tests()
    assert ROOT / "scripts" / "postgres.sh" in scripts  # the scan does find what fixtures run
    offenders = [
        str(path.relative_to(ROOT))
        for path in [*ROOT.joinpath("tests").rglob("*.py"), *scripts]
        if path.name != Path(__file__).name
        for line in path.read_text(encoding="utf-8").splitlines()
        if APT.search(_unquoted(line)) and not line.lstrip().startswith("#")
    ]
    assert not offenders, offenders


def test_the_test_command_installs_every_package_before_pytest() -> None:
    test_sh = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert test_sh.index("bash scripts/system_packages.sh") < test_sh.index("-m pytest")
    packages = (ROOT / "scripts" / "system_packages.sh").read_text(encoding="utf-8")
    assert [line.strip() for line in packages.splitlines()].count("apt-get update -qq") == 1
    for package in ("postgresql", "postgresql-postgis", "chromium", "nodejs", "npm", "nginx"):
        assert package in packages
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("bash scripts/test.sh")


def test_missing_packages_are_named_not_installed_without_root(tmp_path: Path) -> None:
    """Without chromium, node or nginx on the PATH and without root, the script names the fix."""
    bash = shutil.which("bash")
    assert bash is not None
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # nothing found on this PATH
    for tool in ("id", "basename", "dirname"):
        found = shutil.which(tool)
        assert found is not None
        (tmp_path / tool).symlink_to(found)
    fake_id = tmp_path / "id"
    fake_id.unlink()
    fake_id.write_text("#!/bin/sh\necho 1000\n")  # not root
    fake_id.chmod(0o755)
    done = subprocess.run(
        [bash, str(ROOT / "scripts" / "system_packages.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "chromium" in done.stderr and "nodejs" in done.stderr
    assert "apt-get update && apt-get install" in done.stderr
    if not os.path.exists("/usr/sbin/nginx"):
        assert "nginx" in done.stderr
