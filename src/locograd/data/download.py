"""Downloading data files: mirrors tried in order, MD5-verified, atomic, resumable.

A file is fetched into ``NAME.part`` next to its final name and renamed to the final name only
once its MD5 matches the published one, so a partial or corrupt download never appears under
the final name. A transfer that breaks off is resumed from the ``.part`` file (an HTTP ``Range``
request; a server that ignores it sends the whole file again, which restarts it); a wrong
checksum deletes the ``.part`` file and moves on to the next mirror. When every mirror fails,
``DownloadError`` says how each one failed.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request

__all__ = ["DownloadError", "default_data_root", "file_md5", "download_file"]

_CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror gave a file with the published checksum; the message names each failure."""


def default_data_root() -> str:
    """Where datasets are downloaded when no root is given: ``$LOCOGRAD_DATA``, else
    ``~/.cache/locograd``.

    Example:
        >>> import os
        >>> os.environ["LOCOGRAD_DATA"] = "/tmp/data"; default_data_root()
        '/tmp/data'
        >>> del os.environ["LOCOGRAD_DATA"]
    """
    return os.environ.get("LOCOGRAD_DATA") or os.path.join(os.path.expanduser("~"), ".cache",
                                                           "locograd")


def file_md5(path) -> str:
    """The hexadecimal MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Truncated(OSError):
    """The connection ended before the announced length: the ``.part`` file is kept."""


def _transfer(url: str, part: str, progress: bool, timeout: float, name: str) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size when there is one."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"User-Agent": "locograd"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the range is past the end: start over
            os.remove(part)
            return _transfer(url, part, progress, timeout, name)
        raise
    with response:
        resumed = have and response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        expected = have + int(length) if length is not None else None
        bar = _progress_bar(progress, expected, have, name)
        received = have
        try:
            with open(part, "ab" if resumed else "wb") as handle:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, ValueError) as error:  # reset, IncompleteRead, timeout
                        raise _Truncated(f"the transfer broke off after {received} bytes "
                                         f"({error})") from error
                    if not chunk:
                        break
                    handle.write(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            if bar is not None:
                bar.close()
    if expected is not None and received < expected:
        raise _Truncated(f"the transfer broke off after {received} of {expected} bytes")


def _progress_bar(progress: bool, total, initial: int, name: str):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is optional
        return None
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name,
                leave=False)


def download_file(name: str, mirrors, directory, md5: str, *, progress: bool = True,
                  timeout: float = 60.0, attempts: int = 3) -> str:
    """Download ``name`` from the first mirror that gives it with checksum ``md5``.

    Args:
        name: the file name, appended to each mirror's base URL.
        mirrors: base URLs, tried in order.
        directory: where the file goes (created if needed).
        md5: the published hexadecimal MD5 of the file.
        progress: show a ``tqdm`` bar when tqdm is installed.
        timeout: seconds to wait for a mirror to answer.
        attempts: transfers per mirror when one breaks off (each resumes the last).

    Returns:
        The path of the verified file.

    Raises:
        DownloadError: no mirror gave the file; the message names each mirror's failure.

    Example:
        >>> download_file("f", [], "/tmp", "0" * 32)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        locograd.data.download.DownloadError: could not download f into /tmp: no mirrors given...
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, name)
    part = final + ".part"
    failures = []
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        url += name
        for _ in range(attempts):
            try:
                _transfer(url, part, progress, timeout, name)
            except _Truncated as error:
                failures.append(f"{url}: {error}")
                continue  # the next attempt resumes from the .part file
            except urllib.error.HTTPError as error:
                failures.append(f"{url}: HTTP {error.code} {error.reason}")
                break
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                failures.append(f"{url}: {reason}")
                break
            digest = file_md5(part)
            if digest != md5:
                os.remove(part)  # a wrong file: nothing to resume
                failures.append(f"{url}: MD5 {digest} does not match the published {md5}")
                break
            os.replace(part, final)
            return final
    detail = "; ".join(failures) if failures else "no mirrors given"
    raise DownloadError(f"could not download {name} into {directory}: {detail}. Put the file "
                        f"there by hand, or set the dataset's mirrors to reachable base URLs")
