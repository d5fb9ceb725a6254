"""What a clone of the repository carries: no reference to a file it does not have (the team's
design notes or the data folder beside the checkout) outside the data catalog and the tests, so
every citation of the method points into docs/METHOD.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"BDGF\.md|\.\./shared\b")
ALLOWED = ("data_catalog.yaml", "tests/")  # the catalog names the data; tests use it as a fixture


def project_files() -> list[str]:
    """The tracked files (a run's outputs, wherever the user puts them, are not sources)."""
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [f for f in listed if not f.startswith(ALLOWED) and (REPO / f).is_file()]


def outside_references(files: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for name in files:
        try:
            lines = (REPO / name).read_text().splitlines()
        except UnicodeDecodeError:  # images and other binaries
            continue
        hits = [i + 1 for i, line in enumerate(lines) if OUTSIDE.search(line)]
        if hits:
            found[name] = hits
    return found


def test_no_file_cites_the_design_notes_or_the_shared_folder() -> None:
    assert (REPO / "docs" / "METHOD.md").is_file()
    assert outside_references(project_files()) == {}, "cite docs/METHOD.md (sections), and data through the catalog"


def test_the_check_finds_a_planted_reference(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    (tmp_path / "a.py").write_text('"""See BDGF.md step 2."""\n')
    (tmp_path / "b.md").write_text("ok\ndata in ../shared/data/x\n")
    assert outside_references(["a.py", "b.md"]) == {"a.py": [1], "b.md": [2]}
