"""Reproducible function packages: the same source gives the same bytes on any machine.

terraform-aws-lambda's most reported bug is "inconsistent final plan" on
``source_code_hash`` when plan and apply run on different machines. So: entries sorted,
one fixed timestamp, fixed permissions, no directory entries, and STORED (no deflate),
because deflate output may differ between zlib builds while stored bytes cannot.
The pipeline's Package stage calls this same code (``healstack package``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import healstack_lambda

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
PACKAGE = "healstack_lambda"


@dataclass(frozen=True)
class Package:
    name: str
    data: bytes

    @property
    def sha256_base64(self) -> str:
        """What Terraform calls ``source_code_hash`` (filebase64sha256)."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.zip"
        path.write_bytes(self.data)
        return path


def source_root() -> Path:
    """The folder holding the ``healstack_lambda`` package (``lambda_src/`` in the repo)."""
    return Path(healstack_lambda.__file__).resolve().parent.parent


def build_zip(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip of (archive name, content) pairs, identical for identical input."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, content in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.external_attr = FILE_MODE
            info.create_system = 3  # unix, whatever the building OS
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, content)
    return buffer.getvalue()


def package_modules(name: str, modules: Iterable[str]) -> Package:
    """A function package holding the given ``healstack_lambda`` modules (relative paths).

    Line endings are normalised so a Windows checkout packages the same bytes.
    """
    root = source_root()
    files = []
    for relative in sorted(set(modules)):
        content = (root / relative).read_bytes().replace(b"\r\n", b"\n")
        files.append((relative, content))
    return Package(name, build_zip(files))


def library_modules() -> list[str]:
    """Every module of the handler package and its subpackages (the kinds' units), as archive
    paths (``healstack_lambda/x.py``, ``healstack_lambda/kinds/x.py``)."""
    root = source_root()
    return sorted(p.relative_to(root).as_posix() for p in (root / PACKAGE).rglob("*.py"))


_scratch: Path | None = None


def scratch_dir() -> Path:
    """A private folder for this process's packages, removed when the process ends.

    Synthesis copies each package into ``cdktf.out`` under a content-hash path, so this
    folder's own (machine-specific) path never reaches the output.
    """
    global _scratch
    if _scratch is None:
        import atexit
        import shutil
        import tempfile

        _scratch = Path(tempfile.mkdtemp(prefix="healstack-packages-"))
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch
