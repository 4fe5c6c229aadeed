"""Reading snapshot inputs safely: a folder, a ``.zip``, a single file, or uploaded files.

Every input is treated as hostile. Limits are checked before anything is inflated (declared sizes,
member count, compression ratio) and again while inflating (the declared size may lie). Members with
absolute paths, ``..`` parts or link modes, nested archives and oversized inputs are refused with a
``SnapshotError`` naming the file.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath

from .errors import SnapshotError

MAX_INPUT_BYTES = 2 * 1024**3  # a zip or a folder as it lies on disk
MAX_TOTAL_BYTES = 8 * 1024**3  # everything inflated: a 1,000,000-email snapshot is about 2.5 GB of JSON
MAX_MEMBER_BYTES = 2 * 1024**3
MAX_MEMBERS = 20_000
MAX_RATIO = 200  # real JSON compresses 10-40x; bombs compress 1000x and more
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    """One file of a snapshot: its path inside the input, its size, and how to read its bytes."""

    name: str
    size: int
    read: Callable[[], bytes]


def open_input(path: str | Path) -> list[Member]:
    """The files of a snapshot given as a folder, a ``.zip`` or a single file."""
    path = Path(path)
    if not path.exists():
        raise SnapshotError(f"{path}: no such file or folder")
    if path.is_dir():
        return _folder_members(path)
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise SnapshotError(f"{path.name}: {size / 1024**3:.1f} GB is over the {_gb(MAX_INPUT_BYTES)} limit")
    if zipfile.is_zipfile(path):
        return zip_members(path.read_bytes(), path.name)
    return [Member(path.name, size, path.read_bytes)]


def uploaded_members(files: Iterable[tuple[str, bytes]]) -> list[Member]:
    """Members from uploaded files: zips are opened, other files taken as they are."""
    members: list[Member] = []
    for name, data in files:
        if len(data) > MAX_INPUT_BYTES:
            raise SnapshotError(f"{name}: {len(data) / 1024**3:.1f} GB is over the {_gb(MAX_INPUT_BYTES)} limit")
        if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
            members.extend(zip_members(data, name))
        else:
            members.append(Member(_safe_name(name, name), len(data), lambda data=data: data))
    _check_totals(members, "the upload")
    return members


def zip_members(data: bytes, source: str) -> list[Member]:
    """The files of a zip, checked against the limits before anything is inflated."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise SnapshotError(f"{source}: not a readable zip file ({error})") from None
    if not infos:
        raise SnapshotError(f"{source}: the zip file is empty")
    if len(infos) > MAX_MEMBERS:
        raise SnapshotError(f"{source}: {len(infos)} files is over the limit of {MAX_MEMBERS}")
    members = [_zip_member(archive, info, source) for info in infos]
    _check_totals(members, source)
    return members


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Member:
    where = f"{source}: {info.filename}"
    name = _safe_name(info.filename, where)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SnapshotError(f"{where}: links are not allowed in a snapshot")
    if name.lower().endswith((".zip", ".gz", ".7z", ".rar", ".tar")):
        raise SnapshotError(f"{where}: archives inside the archive are not allowed; unzip it first")
    if info.file_size > MAX_MEMBER_BYTES:
        raise SnapshotError(f"{where}: {info.file_size / 1024**3:.1f} GB inflated is over the limit")
    if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise SnapshotError(f"{where}: compressed {info.file_size // max(info.compress_size, 1)}:1, "
                            "which looks like a zip bomb")
    return Member(name, info.file_size, lambda: _inflate(archive, info, where))


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """Inflate at most the declared size: a member that inflates to more is refused."""
    chunks, total = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > info.file_size:
                    raise SnapshotError(f"{where}: inflates to more than its declared size")
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as error:
        raise SnapshotError(f"{where}: cannot be inflated ({error})") from None
    return b"".join(chunks)


def _folder_members(folder: Path) -> list[Member]:
    members: list[Member] = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise SnapshotError(f"{path}: links are not allowed in a snapshot folder")
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            if name.lower().endswith(".zip"):
                raise SnapshotError(f"{path}: archives inside the snapshot folder are not allowed")
            members.append(Member(name, path.stat().st_size, path.read_bytes))
    if not members:
        raise SnapshotError(f"{folder}: the folder holds no files")
    _check_totals(members, str(folder))
    return members


def _safe_name(name: str, where: str) -> str:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]):
        raise SnapshotError(f"{where}: unsafe path {name!r} (absolute or with '..')")
    return posix.as_posix()


def _check_totals(members: list[Member], source: str) -> None:
    total = sum(member.size for member in members)
    if total > MAX_TOTAL_BYTES:
        raise SnapshotError(f"{source}: {total / 1024**3:.1f} GB of files is over the "
                            f"{_gb(MAX_TOTAL_BYTES)} limit")


def _gb(size: int) -> str:
    return f"{size / 1024**3:.0f} GB"
