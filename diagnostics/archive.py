"""Reading snapshot inputs safely: a folder, a ``.zip``, a single file, or uploaded files.

Every input is treated as hostile. Limits are checked before anything is inflated (declared sizes,
member count, compression ratio) and again while inflating (the declared size may lie). Members with
absolute paths, ``..`` parts or link modes, nested archives and oversized inputs are refused with a
``SnapshotError`` naming the file. The one archive let through unread is the zip a ``data.xml`` beside it
was unzipped from.
"""

from __future__ import annotations

import lzma
import re
import stat
import threading
import zipfile
import zlib
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
RATIO_FLOOR = 1024 * 1024  # a member (or a whole zip) smaller than this inflated is too small to be a bomb
_CHUNK = 1 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Everything zipfile and its decompressors raise for a damaged or crafted archive.
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, zlib.error, lzma.LZMAError)


@dataclass(frozen=True)
class Member:
    """One file of a snapshot: its path inside the input, its size, and how to read its bytes."""

    name: str
    size: int
    read: Callable[[], bytes]
    path: Path | None = None  # a file on disk, which ``read_reusing`` can read into a reused buffer


def open_input(path: str | Path) -> list[Member]:
    """The files of a snapshot given as a folder, a ``.zip`` or a single file."""
    path = Path(path)
    if not path.exists():
        raise SnapshotError(f"{shown(str(path))}: no such file or folder")
    if path.is_dir():
        return _folder_members(path)
    if not path.is_file():  # a device or a pipe could be endless
        raise SnapshotError(f"{shown(str(path))}: not a regular file")
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise SnapshotError(f"{shown(path.name)}: {size / 1024**3:.1f} GB is over the {_gb(MAX_INPUT_BYTES)} limit")
    if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":  # a damaged .zip is said to be one
        return zip_members(path, shown(path.name))  # read member by member, never whole
    return [Member(shown(path.name), size, lambda: _read_file(path, MAX_MEMBER_BYTES), path)]


def uploaded_members(files: Iterable[tuple[str, bytes]]) -> list[Member]:
    """Members from uploaded files: zips are opened, other files taken as they are."""
    members: list[Member] = []
    files = list(files)
    has_data_xml = any(_base_name(name) == "data.xml" for name, _ in files)
    for name, data in files:
        if len(data) > MAX_INPUT_BYTES:  # before any byte is looked at
            raise SnapshotError(f"{shown(name)}: {len(data) / 1024**3:.1f} GB is over the "
                                f"{_gb(MAX_INPUT_BYTES)} limit")
        if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
            inner = zip_members(data, shown(name))  # nothing inflated yet
            if has_data_xml and any(_base_name(member.name) == "data.xml" for member in inner):
                # uploaded with the data.xml unzipped from it: the same export twice
                members.append(Member(_safe_name(name, shown(name)), 0, lambda name=name: _never_read(name)))
            else:
                members.extend(inner)
        else:
            members.append(Member(_safe_name(name, shown(name)), len(data), lambda data=data: data))
    _check_totals(members, "the upload")
    return members


def zip_members(data: bytes | Path, source: str) -> list[Member]:
    """The files of a zip (its bytes, or its path: then only the members being read are in memory), checked
    against the limits before anything is inflated."""
    try:
        archive = zipfile.ZipFile(BytesIO(data) if isinstance(data, bytes) else data)
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except _ZIP_ERRORS as error:
        raise SnapshotError(f"{source}: not a readable zip file ({shown(str(error))})") from None
    if not infos:
        raise SnapshotError(f"{source}: the zip file is empty")
    if len(infos) > MAX_MEMBERS:
        raise SnapshotError(f"{source}: {len(infos)} files is over the limit of {MAX_MEMBERS}")
    members = [_zip_member(archive, info, source) for info in infos]
    _check_zip_totals(infos, members, source)
    return members


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Member:
    where = f"{source}: {shown(info.filename)}"
    name = _safe_name(info.filename, where)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SnapshotError(f"{where}: links are not allowed in a snapshot")
    if info.flag_bits & 0x1:
        raise SnapshotError(f"{where}: encrypted; zip the snapshot again without a password")
    if name.lower().endswith((".zip", ".gz", ".7z", ".rar", ".tar")):
        raise SnapshotError(f"{where}: archives inside the archive are not allowed; unzip it first")
    if info.file_size > MAX_MEMBER_BYTES:
        raise SnapshotError(f"{where}: {info.file_size / 1024**3:.1f} GB inflated is over the limit")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
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
    except _ZIP_ERRORS as error:
        raise SnapshotError(f"{where}: cannot be inflated ({shown(str(error))})") from None
    return b"".join(chunks)


def _check_zip_totals(infos: list[zipfile.ZipInfo], members: list[Member], source: str) -> None:
    """Limits on the whole zip: many small members can be a bomb together, and a name must not repeat."""
    _check_totals(members, source)
    inflated, compressed = sum(info.file_size for info in infos), sum(info.compress_size for info in infos)
    if inflated > RATIO_FLOOR and inflated > MAX_RATIO * max(compressed, 1):
        raise SnapshotError(f"{source}: compressed {inflated // max(compressed, 1)}:1 overall, "
                            "which looks like a zip bomb")
    names = [member.name for member in members]
    if len(set(names)) < len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise SnapshotError(f"{source}: the zip holds {repeated} more than once")


def _folder_members(folder: Path) -> list[Member]:
    members: list[Member] = []
    archives: list[tuple[Path, str]] = []
    for path in sorted(folder.rglob("*")):
        where = shown(str(path))
        if path.is_symlink():
            raise SnapshotError(f"{where}: links are not allowed in a snapshot folder")
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            if _CONTROL.search(name):  # a newline in a name would break one-line messages and page matching
                raise SnapshotError(f"{where}: unsafe file name {name!r} (control characters)")
            if name.lower().endswith(".zip"):
                archives.append((path, name))
                continue
            size = path.stat().st_size
            if size > MAX_MEMBER_BYTES:
                raise SnapshotError(f"{where}: {size / 1024**3:.1f} GB is over the {_gb(MAX_MEMBER_BYTES)} limit")
            members.append(Member(name, size, lambda path=path: _read_file(path, MAX_MEMBER_BYTES), path))
            if len(members) > MAX_MEMBERS:
                raise SnapshotError(f"{shown(str(folder))}: more than {MAX_MEMBERS} files")
    members += [_unzipped_archive(path, name, members) for path, name in archives]
    if not members:
        raise SnapshotError(f"{shown(str(folder))}: the folder holds no files")
    _check_totals(members, shown(str(folder)))
    return members


def _unzipped_archive(path: Path, name: str, members: list[Member]) -> Member:
    """A zip beside a ``data.xml`` is the CMT export it was unzipped from: kept as a name, never read.

    Any other archive in a folder is refused (it could hide anything, and we do not open nested archives).
    """
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    if not any(member.name.lower() == f"{folder.lower()}data.xml" for member in members):
        raise SnapshotError(f"{shown(str(path))}: archives inside the snapshot folder are not allowed")
    return Member(name, 0, lambda: _never_read(str(path)))


def _never_read(name: str) -> bytes:
    raise SnapshotError(f"{shown(name)}: the zip a data.xml was unzipped from is not read")


def _base_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1].lower()


def _read_file(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes: the file may have grown since its size was checked."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        raise SnapshotError(f"{shown(str(path))}: cannot be read ({error.strerror or error})") from None
    if len(data) > limit:
        raise SnapshotError(f"{shown(str(path))}: grew over the {_gb(limit)} limit while being read")
    return data


_SCRATCH = threading.local()  # per reading thread: one buffer for every file it reads
_SCRATCH_LIMIT = 64 * 1024**2  # a bigger file gets bytes of its own, freed once parsed


def read_reusing(member: Member) -> bytes | memoryview:
    """A member's bytes; a file on disk is read into the calling thread's scratch buffer instead of a new
    bytes object (whose fresh memory costs a page fault per 4 kB): the view is only valid until that thread's
    next call, so parse it at once and keep nothing that points into it."""
    if member.path is None or member.size >= _SCRATCH_LIMIT:
        return member.read()
    scratch = getattr(_SCRATCH, "buffer", b"")
    if len(scratch) <= member.size:  # a new buffer, never a resized one: a view of the old may still be alive
        scratch = _SCRATCH.buffer = bytearray(max(member.size + 1, 2 * len(scratch)))
    view = memoryview(scratch)[:member.size + 1]
    try:
        with member.path.open("rb", buffering=0) as stream:
            filled = 0
            while filled < len(view) and (count := stream.readinto(view[filled:])):
                filled += count
    except OSError as error:
        raise SnapshotError(f"{shown(str(member.path))}: cannot be read ({error.strerror or error})") from None
    return member.read() if filled > member.size else view[:filled]  # it grew: read it with the limit check


def _safe_name(name: str, where: str) -> str:
    if _CONTROL.search(name):  # a newline in a name would break one-line messages and page matching
        raise SnapshotError(f"{where}: unsafe path {name!r} (control characters)")
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]):
        raise SnapshotError(f"{where}: unsafe path {name!r} (absolute or with '..')")
    return posix.as_posix()


def shown(name: str) -> str:
    """A name fit for a one-line message: control characters (a newline in a file name) escaped."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], name)


def _check_totals(members: list[Member], source: str) -> None:
    total = sum(member.size for member in members)
    if total > MAX_TOTAL_BYTES:
        raise SnapshotError(f"{source}: {total / 1024**3:.1f} GB of files is over the "
                            f"{_gb(MAX_TOTAL_BYTES)} limit")


def _gb(size: int) -> str:
    return f"{size / 1024**3:.0f} GB"
