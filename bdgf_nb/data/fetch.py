"""Checksums and downloads of the standard benchmarks' files (benchmarks.py).

`check_members` hashes every member of a layout against its sha256 pin (text members with CRLF
line endings are normalised to CRLF first: copies that went through git carry LF and would hash
differently). `fetch` downloads a layout from its published location with a progress bar, checks
the download's pin where the download is stable and every pinned member before it is placed, and
moves the members into the data folder together (storage.atomic_files): a failed or interrupted
fetch leaves no file behind, half-written or unverified. Without a network it fails at once with
the manual instructions.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm.auto import tqdm

from bdgf_nb.data.benchmarks import Benchmark, Layout, Member, find_member
from bdgf_nb.errors import DataError
from bdgf_nb.storage import atomic_files

CHUNK = 1 << 20


def normalise_crlf(data: bytes) -> bytes:
    """Every line ending as CRLF (LF and CRLF endings alike)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def sha256_file(path: str | Path, crlf: bool = False) -> str:
    """The file's sha256; `crlf`: of its text with line endings normalised to CRLF."""
    if crlf:
        return hashlib.sha256(normalise_crlf(Path(path).read_bytes())).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class MemberCheck:
    """One member's state: "ok", "mismatch", "missing" or "unpinned" (present, no pin to check)."""

    member: Member
    path: Path | None
    status: str
    found: str | None = None

    def line(self) -> str:
        where = self.path or self.member.path
        if self.status == "mismatch":
            return f"MISMATCH {where}: expected sha256 {self.member.sha256}, found {self.found}"
        return f"{self.status:>8} {where}" + (f" (sha256 {self.found})" if self.status == "unpinned" else "")


def check_members(layout: Layout, folder: Path) -> list[MemberCheck]:
    """Hash every present member of `layout` under `folder` against its pin."""
    out = []
    for member in layout.members:
        path = find_member(folder, member)
        if path is None:
            out.append(MemberCheck(member, None, "missing"))
            continue
        found = sha256_file(path, member.crlf)
        status = "unpinned" if member.sha256 is None else "ok" if found == member.sha256 else "mismatch"
        out.append(MemberCheck(member, path, status, found))
    return out


def manual_instructions(spec: Benchmark, folder: Path) -> str:
    """Where to get each layout's files by hand and where to put them."""
    lines = [f"Get {spec.name} ({spec.title}) by hand and put its files under {folder}:"]
    for layout in spec.layouts:
        lines.append(f"  layout {layout.name!r}: files {[m.path for m in layout.members]}")
        lines += [f"    from {d.what}: {d.url or d.note}" for d in layout.downloads]
    lines.append(f"  homepage: {spec.homepage}; licence: {spec.licence}")
    lines.append(f"  then `bdgf-data check {spec.name}` verifies them")
    return "\n".join(lines)


Opener = Callable[..., Any]  # urllib.request.urlopen's signature (tests pass a stub)


def _download(url: str, target: IO[bytes], opener: Opener, progress: bool, timeout: float) -> str:
    """Stream `url` into `target` with a progress bar; -> the sha256 of what was written."""
    digest = hashlib.sha256()
    with opener(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
        with tqdm(
            total=int(total) if total else None,
            unit="B",
            unit_scale=True,
            desc=Path(url).name,
            disable=not progress,
        ) as bar:
            while block := response.read(CHUNK):
                target.write(block)
                digest.update(block)
                bar.update(len(block))
    return digest.hexdigest()


def _zip_member(archive: zipfile.ZipFile, member: Member) -> zipfile.ZipInfo | None:
    """The archive entry of `member`: its distributed path at the end of the entry's name (a
    GitHub archive adds a `<repo>-<ref>/` folder), else the one entry with its file name."""
    infos = [i for i in archive.infolist() if not i.is_dir()]
    found = [i for i in infos if i.filename == member.path or i.filename.endswith("/" + member.path)]
    found = found or [i for i in infos if Path(i.filename).name == member.name]
    if len(found) > 1:
        raise DataError(f"download: expected one archive entry for {member.path}, found {[i.filename for i in found]}")
    return found[0] if found else None


def fetchable_layout(spec: Benchmark) -> Layout | None:
    """The first layout whose downloads all have a URL."""
    for layout in spec.layouts:
        if layout.downloads and all(d.url for d in layout.downloads):
            return layout
    return None


def fetch(
    spec: Benchmark,
    folder: Path,
    opener: Opener = urllib.request.urlopen,
    progress: bool = True,
    timeout: float = 30.0,
) -> list[Path]:
    """Download `spec`'s first fully downloadable layout into `folder`, verify, place atomically.

    Each download is checked against its pin where it has one; a `.zip` gives the layout's
    members it holds, any other download is the member of its file name. Every member is checked
    against its pin before any is placed, and all are placed together. -> the members' paths.
    DataError (nothing written) when offline, on a checksum mismatch or a member missing."""
    layout = fetchable_layout(spec)
    if layout is None:
        raise DataError(f"{spec.name}: no layout has a download URL.\n{manual_instructions(spec, folder)}")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp, atomic_files() as place:
        placed: dict[str, Path] = {}
        for download in layout.downloads:
            assert download.url is not None
            got_path = Path(tmp) / Path(download.url).name
            try:
                with open(got_path, "wb") as target:
                    found = _download(download.url, target, opener, progress, timeout)
            except (urllib.error.URLError, OSError, TimeoutError) as err:
                raise DataError(
                    f"{spec.name}: could not download {download.url} ({type(err).__name__}: {err}); "
                    f"nothing was written.\n{manual_instructions(spec, folder)}"
                ) from None
            if download.sha256 is not None and found != download.sha256:
                raise DataError(
                    f"{spec.name}: {download.url}: expected sha256 {download.sha256}, found {found}; "
                    "nothing was written (a changed or corrupt download)"
                )
            if zipfile.is_zipfile(got_path):
                with zipfile.ZipFile(got_path) as archive:
                    for member in layout.members:
                        info = None if member.path in placed else _zip_member(archive, member)
                        if info is not None:
                            with archive.open(info) as src, open(place(folder / member.path), "wb") as dst:
                                shutil.copyfileobj(src, dst, CHUNK)
                            placed[member.path] = folder / member.path
            else:
                single = next((m for m in layout.members if m.name == got_path.name), None)
                if single is None:
                    raise DataError(f"{spec.name}: {download.url} is no zip and no member of layout {layout.name!r}")
                shutil.copyfile(got_path, place(folder / single.path))
                placed[single.path] = folder / single.path
        for member in layout.members:
            if member.path not in placed:
                raise DataError(f"{spec.name}: the downloads hold no {member.path}; nothing was written")
            got = sha256_file(place(placed[member.path]), member.crlf)
            if member.sha256 is not None and got != member.sha256:
                raise DataError(
                    f"{spec.name}: {member.path}: expected sha256 {member.sha256}, found {got}; nothing was written"
                )
    return [placed[m.path] for m in layout.members]
