"""Unpack an uploaded zip or tar archive of a manifest's files, refusing anything odd.

Untrusted archives can write outside the target folder (``../``, absolute
names, links), expand to far more than they weigh (zip bombs), or hold the
same name twice so that which file wins depends on the tool. Each of these is
refused with the member named, before or while it is written; nothing is
ever followed or overwritten. Plain Python, no Flask.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO

__all__ = ["ArchiveError", "extract"]

_CHUNK = 1 << 20


class ArchiveError(ValueError):
    """One line: ``archive: <member>: <reason>``."""


def extract(archive: IO[bytes], dest: Path, *, max_bytes: int, max_files: int = 100_000,
            max_ratio: int = 200) -> list[str]:
    """Unpack ``archive`` (zip, tar, tar.gz/bz2/xz) into the empty folder ``dest``.

    Returns the relative names written. ``max_bytes`` bounds the unpacked
    total, ``max_files`` the number of members, and ``max_ratio`` how much a
    zip member, or a compressed tar as a whole, may expand (a photo's PNG or
    JPEG barely compresses; a gzip of zeros expands ~1000-fold).
    """
    head = archive.read(4)
    archive.seek(0, 2)
    size = archive.tell()
    archive.seek(0)
    if head.startswith(b"PK"):
        return _unzip(archive, dest, max_bytes, max_files, max_ratio)
    try:
        tar = tarfile.open(fileobj=archive, mode="r:*")
    except (tarfile.TarError, EOFError, OSError):
        raise ArchiveError("archive: not a zip or tar file") from None
    with tar:
        return _untar(tar, dest, min(max_bytes, max(max_ratio * size, _CHUNK)), max_files,
                      bomb=max_ratio * size < max_bytes)


def _clean_name(name: str) -> str | None:
    """The member's relative path, '' for the root, or None when it would escape."""
    if "\x00" in name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _check(name: str, seen: set[str], count: int, max_files: int) -> str:
    clean = _clean_name(name)
    shown = name[:200].encode("unicode_escape").decode("ascii")
    if clean is None:
        raise ArchiveError(f"archive: {shown}: path escapes the archive folder")
    if clean in seen:
        raise ArchiveError(f"archive: {shown}: duplicate name")
    if count > max_files:
        raise ArchiveError(f"archive: more than {max_files:,} members")
    seen.add(clean)
    return clean


def _write(source: IO[bytes], target: Path, name: str, limit: int) -> int:
    """Copy at most ``limit`` bytes; more means the archive lied about its sizes."""
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("xb")  # "x": never overwrite
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise ArchiveError(f"archive: {name}: clashes with another member's name") from None
    with out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise ArchiveError(f"archive: {name}: expands beyond the size limit (a zip bomb?)")
            out.write(chunk)
    return written


def _unzip(archive: IO[bytes], dest: Path, max_bytes: int, max_files: int, max_ratio: int) -> list[str]:
    try:
        bundle = zipfile.ZipFile(archive)
        members = bundle.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ArchiveError(f"archive: not a readable zip file ({exc})") from None
    seen: set[str] = set()
    names, total = [], 0
    # Every header first: a bad member anywhere refuses the whole archive
    # before a byte is written.
    for count, info in enumerate(members, start=1):
        clean = _check(info.filename, seen, count, max_files)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"archive: {info.filename}: links are not accepted")
        if info.is_dir() or not clean:
            continue
        if info.file_size > max_ratio * max(info.compress_size, 1) and info.file_size > _CHUNK:
            raise ArchiveError(f"archive: {info.filename}: expands {info.file_size // max(info.compress_size, 1)}"
                               f"-fold (a zip bomb?)")
        total += info.file_size
        if total > max_bytes:
            raise ArchiveError(f"archive: {info.filename}: unpacks to more than {max_bytes:,} bytes")
        names.append((info, clean))
    budget = max_bytes
    for info, clean in names:
        try:
            with bundle.open(info) as source:
                budget -= _write(source, dest / clean, info.filename, min(info.file_size, budget))
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise ArchiveError(f"archive: {info.filename}: cannot unpack ({exc})") from None
    return [clean for _info, clean in names]


def _untar(tar: tarfile.TarFile, dest: Path, max_bytes: int, max_files: int, *, bomb: bool) -> list[str]:
    seen: set[str] = set()
    names, total, count = [], 0, 0
    try:
        for member in tar:
            count += 1
            clean = _check(member.name, seen, count, max_files)
            if member.isdir() or not clean:
                continue
            if not member.isfile():
                kind = "links" if member.issym() or member.islnk() else "special files"
                raise ArchiveError(f"archive: {member.name}: {kind} are not accepted")
            total += member.size
            if total > max_bytes:
                if bomb:  # the ratio, not the configured size, is the limit that was hit
                    raise ArchiveError(f"archive: {member.name}: the archive expands more than "
                                       f"{max_bytes:,} bytes, far more than it weighs (a tar bomb?)")
                raise ArchiveError(f"archive: {member.name}: unpacks to more than {max_bytes:,} bytes")
            source = tar.extractfile(member)
            assert source is not None  # a regular file
            with source:
                _write(source, dest / clean, member.name, member.size)
            names.append(clean)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ArchiveError(f"archive: cannot unpack ({exc})") from None
    return names
