"""The manifest's ``[[files]]``: the SHA-256 of every data file a plugin loads besides its models and domain data.

The registry refuses to run a plugin whose listed file is missing or altered (``engine.ai.registry``), and a
signed manifest then covers those bytes too. What a plugin loads:

- its reference library (``[retrieval].library``) and every thumbnail the library names (the AI panel shows
  them as similar cases);
- the data files its generator names (the synthesis plugin's ``tokenizer.json`` and ``report_templates.json``).

The models (``[[models]]``) and the domain reference (``[domain].sha256``) are hashed already. A shipped plugin's
Python modules are part of the application (frozen into the installer), and its model card, plots and metrics
are documentation the plugin never loads, so neither is listed.

The generators (training/*/plugin_files.py) pass :func:`file_entries` to the Manifest they write; on an existing
plugin (no retraining) ``python -m training.hashed_files PLUGIN_DIR [--extra FILE ...]`` replaces the
``[[files]]`` tables of its manifest and keeps every other line as it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from engine.ai.hashing import sha256_file
from engine.ai.library import load_library
from engine.ai.manifest import MANIFEST_NAME, ModelFile, load_manifest, parse_manifest
from engine.atomic import atomic_write_bytes

# the [[files]] tables: each header starts its line; their key lines and the blank lines between them (a comment
# line, e.g. the one above a [domain] table that training/domain_fit.py writes, ends them)
_FILES_TABLES = re.compile(r"\n*(?:(?<![^\n])\[\[files\]\]\n(?:[^\n#\[][^\n]*\n?|\n)*)+")


def loaded_files(folder: str | os.PathLike, library: str | None, extra: Iterable[str] = ()) -> list[str]:
    """Relative paths of the data files the plugin in ``folder`` loads: ``library`` (may be None) with the
    thumbnails it names, then ``extra``; each must exist."""
    root = Path(folder)
    paths: list[str] = []
    if library:
        paths.append(library)
        parent = Path(library).parent
        reference = load_library(root / library, check_thumbnails=True)
        paths += [(parent / thumbnail).as_posix() for thumbnail in reference.thumbnails]
    paths += list(extra)
    for relative in paths:
        if not (root / relative).is_file():
            raise FileNotFoundError(f"{root / relative}: the plugin loads it but it does not exist")
    return list(dict.fromkeys(paths))


def file_entries(folder: str | os.PathLike, library: str | None, extra: Iterable[str] = ()) -> list[ModelFile]:
    """``[[files]]`` entries (name = path) with the current SHA-256 of every file :func:`loaded_files` lists."""
    root = Path(folder)
    return [ModelFile(name=path, path=path, sha256=sha256_file(root / path))
            for path in loaded_files(root, library, extra)]


def write_files_tables(manifest_path: str | os.PathLike, entries: list[ModelFile]) -> Path:
    """Replace (or append) the ``[[files]]`` tables of the manifest at ``manifest_path`` with ``entries``,
    keeping every other line; the result must parse to the same manifest with only ``files`` changed."""
    path = Path(manifest_path)
    text = path.read_text(encoding="utf-8")
    before = load_manifest(path)
    kept = _FILES_TABLES.sub("\n\n", text).rstrip("\n") + "\n"
    if entries:
        kept += "\n" + "\n".join(
            f'[[files]]\nname = "{e.name}"\npath = "{e.path}"\nsha256 = "{e.sha256}"\n' for e in entries)
    after = parse_manifest(kept, path)
    if after != dataclasses.replace(before, files=list(entries)):
        raise ValueError(f"{path}: rewriting [[files]] would change other fields; not written")
    atomic_write_bytes(path, kept.encode())
    return path


def hash_plugin(folder: str | os.PathLike, extra: Iterable[str] = ()) -> list[ModelFile]:
    """Write the ``[[files]]`` of the plugin in ``folder``: its reference library, its thumbnails and ``extra``."""
    root = Path(folder)
    manifest = load_manifest(root / MANIFEST_NAME)
    library = manifest.retrieval.library if manifest.retrieval is not None else None
    entries = file_entries(root, library, extra)
    write_files_tables(root / MANIFEST_NAME, entries)
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plugin", type=Path, help="plugin folder holding manifest.toml")
    parser.add_argument("--extra", action="append", default=[], help="another data file the plugin loads")
    args = parser.parse_args(argv)
    entries = hash_plugin(args.plugin, args.extra)
    print(f"{args.plugin / MANIFEST_NAME}: {len(entries)} files hashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
