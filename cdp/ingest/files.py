"""Finding the CSVs an import reads: files, folders and zip archives, with the archive limits.

An archive is checked twice: its directory before anything is inflated (member count, declared
sizes, compression ratio, members that overlap), and every member while it inflates, since a
directory can lie.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Callable

from .common import ImportFailed, Limits, Problem, limit_hint
from .reader import Source

MiB = 1 << 20
RATIO_CHECKED_ABOVE = MiB  # small members may compress well without harm


def display_name(path: Path, names: dict[Path, str]) -> str:
    """The name messages use for `path`: the caller's (e.g. an upload's own file name), else the path."""
    return names.get(path, str(path))


def file_source(path: Path, name: str) -> Source:
    return Source(name, lambda: open(path, "rb"), path.stat().st_size, key=path.resolve())


def _fail(name: str, reason: str) -> ImportFailed:
    return ImportFailed([Problem(name, None, reason)])


def _mb(n: float) -> str:
    return f"{n / MiB:,.1f} MB" if n < 10 * MiB else f"{n / MiB:,.0f} MB"


class _Inflating:
    """A zip member's bytes, counted as they inflate: no more than the directory declared."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str):
        self.archive, self.info, self.name = archive, info, name
        try:
            self.inner = archive.open(info)
        except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as exc:
            archive.close()
            raise _fail(name, f"cannot be read from the archive ({exc})") from None
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.inner.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise _fail(self.name, f"the archive member is damaged ({exc})") from None
        self.count += len(data)
        if self.count > self.info.file_size:
            raise _fail(self.name, f"inflates to more than the {self.info.file_size:,} bytes the archive's "
                                   "directory declares: a damaged or hostile archive")
        return data

    def close(self) -> None:
        self.inner.close()
        self.archive.close()


def zip_sources(path: Path, name: str, wanted: Callable[[str], bool], limits: Limits,
                what: str) -> list[Source]:
    """The members of the archive at `path` that `wanted` accepts, after checking its directory.

    `what` describes the wanted members for the message when there are none.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(name, f"not a readable zip archive ({exc})") from None
    if len(infos) > limits.max_members:
        raise _fail(name, f"the archive lists {len(infos):,} entries, more than {limits.max_members:,}"
                          + limit_hint("max_members"))
    if sum(i.compress_size for i in infos) > path.stat().st_size:
        raise _fail(name, "the archive's entries claim more compressed bytes than the file holds "
                          "(overlapping entries: a zip bomb?)")
    members = sorted((i for i in infos if not i.is_dir() and wanted(i.filename)), key=lambda i: i.filename)
    if not members:
        raise _fail(name, f"the zip holds no {what}")
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECKED_ABOVE and ratio > limits.max_ratio:
            raise _fail(f"{name}!{info.filename}",
                        f"compressed {ratio:,.0f} to 1 (a {_mb(info.compress_size)} member inflating to "
                        f"{_mb(info.file_size)}), more than {limits.max_ratio:,.0f} to 1: a zip bomb?"
                        + limit_hint("max_ratio"))
    total = sum(i.file_size for i in members)
    if total > limits.max_inflated_bytes:
        raise _fail(name, f"its files inflate to {_mb(total)}, more than {_mb(limits.max_inflated_bytes)}"
                          + limit_hint("max_inflated_bytes"))

    def opener(info: zipfile.ZipInfo, member_name: str):
        def open_member():
            try:
                archive = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise _fail(name, f"not a readable zip archive ({exc})") from None
            return _Inflating(archive, info, member_name)
        return open_member

    return [Source(f"{name}!{i.filename}", opener(i, f"{name}!{i.filename}"), i.file_size,
                   key=(path.resolve(), i.filename), archived=True) for i in members]


def check_inflated_total(sources: list[Source], limits: Limits) -> None:
    """All archives of one import together stay within the inflated-size limit."""
    archived = [s for s in sources if s.archived]
    total = sum(s.size or 0 for s in archived)
    if total > limits.max_inflated_bytes:
        raise _fail(", ".join(dict.fromkeys(s.name.rsplit("!", 1)[0] for s in archived)),
                    f"the archives' files inflate to {_mb(total)} together, more than "
                    f"{_mb(limits.max_inflated_bytes)}" + limit_hint("max_inflated_bytes"))


def unique(sources: list[Source]) -> list[Source]:
    """The sources in order, each file once: the same file named twice (or found again in a
    folder) is read once."""
    seen, out = set(), []
    for source in sources:
        if source.key not in seen:
            seen.add(source.key)
            out.append(source)
    return out
