"""archives.extract: untrusted zip and tar files, each oddity refused with the member named."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from pairwise.archives import ArchiveError, extract

LIMIT = 10 * 2**20


def _tar(members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None, mode: str = "w") -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as bundle:
        for info in members:
            body = (data or {}).get(info.name)
            if body is not None:
                info.size = len(body)
            bundle.addfile(info, io.BytesIO(body) if body is not None else None)
    buffer.seek(0)
    return buffer


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_nested_folders_unpack(tmp_path: Path) -> None:
    archive = _tar([_member("a", tarfile.DIRTYPE), _member("a/b/c.png"), _member("./d.png")],
                   {"a/b/c.png": b"one", "./d.png": b"two"}, mode="w:bz2")
    names = extract(archive, tmp_path, max_bytes=LIMIT)
    assert sorted(names) == ["a/b/c.png", "d.png"]
    assert (tmp_path / "a" / "b" / "c.png").read_bytes() == b"one"


@pytest.mark.parametrize("member, message", [
    (_member("../up.png"), "path escapes"),
    (_member("a/../../up.png"), "path escapes"),
    (_member("/abs.png"), "path escapes"),
    (_member("hard.png", tarfile.LNKTYPE, "other.png"), "links are not accepted"),
    (_member("soft.png", tarfile.SYMTYPE, "/etc/passwd"), "links are not accepted"),
    (_member("fifo", tarfile.FIFOTYPE), "special files are not accepted"),
    (_member("dev", tarfile.CHRTYPE), "special files are not accepted"),
])
def test_tar_oddities_are_refused(tmp_path: Path, member: tarfile.TarInfo, message: str) -> None:
    with pytest.raises(ArchiveError, match=message) as info:
        extract(_tar([member], {member.name: b"x"} if member.type == tarfile.REGTYPE else None),
                tmp_path / "out", max_bytes=LIMIT)
    assert member.name in str(info.value)
    assert not (tmp_path / "up.png").exists() and not (tmp_path / "abs.png").exists()


def test_tar_duplicates_and_size_limit(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="a.png: duplicate name"):
        extract(_tar([_member("a.png"), _member("./a.png")], {"a.png": b"1", "./a.png": b"2"}),
                tmp_path / "1", max_bytes=LIMIT)
    with pytest.raises(ArchiveError, match="big.png: unpacks to more than 100 bytes"):
        extract(_tar([_member("big.png")], {"big.png": b"x" * 101}), tmp_path / "2", max_bytes=100)


def test_a_file_where_a_folder_goes_is_named(tmp_path: Path) -> None:
    archive = _tar([_member("a"), _member("a/b.png")], {"a": b"file", "a/b.png": b"x"})
    with pytest.raises(ArchiveError, match="a/b.png: clashes with another member's name"):
        extract(archive, tmp_path, max_bytes=LIMIT)


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        info = zipfile.ZipInfo("link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(info, "/etc/passwd")
    buffer.seek(0)
    with pytest.raises(ArchiveError, match="link.png: links are not accepted"):
        extract(buffer, tmp_path, max_bytes=LIMIT)
    assert list(tmp_path.iterdir()) == []


def test_zip_total_size_and_member_count(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        for k in range(5):
            bundle.writestr(f"f{k}.png", b"y" * 40)
    for limit, files, message in [(100, 100, "f2.png: unpacks to more than 100 bytes"), (LIMIT, 3, "more than 3 members")]:
        buffer.seek(0)
        with pytest.raises(ArchiveError, match=message):
            extract(buffer, tmp_path / str(limit), max_bytes=limit, max_files=files)
        assert not (tmp_path / str(limit)).exists()  # refused from the headers, before writing


def test_truncated_zip_is_one_line(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("a.png", b"z" * 5000)
    with pytest.raises(ArchiveError) as info:
        extract(io.BytesIO(buffer.getvalue()[:-30]), tmp_path, max_bytes=LIMIT)
    assert "\n" not in str(info.value) and str(info.value).startswith("archive:")


def test_a_compressed_tar_bomb_is_refused_before_it_is_written(tmp_path: Path) -> None:
    """A gzip of zeros weighs a few KB and would unpack to GBs: refused from the member's header."""
    big = tarfile.TarInfo("dress-0/huge.png")
    big.size = 64 * 2**20
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        bundle.addfile(big, io.BytesIO(b"\0" * big.size))
    assert len(buffer.getvalue()) < 2**20
    buffer.seek(0)
    with pytest.raises(ArchiveError, match="dress-0/huge.png: the archive expands .*tar bomb"):
        extract(buffer, tmp_path / "out", max_bytes=4096 * 2**20)
    assert not (tmp_path / "out" / "dress-0" / "huge.png").exists()
    # The same bytes uncompressed weigh what they unpack to: not a bomb.
    plain = _tar([_member("dress-0/huge.png")], {"dress-0/huge.png": b"\0" * (2 * 2**20)})
    assert extract(plain, tmp_path / "plain", max_bytes=LIMIT) == ["dress-0/huge.png"]
