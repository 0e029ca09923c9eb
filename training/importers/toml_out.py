"""The manifests the importers generate: their tables, assembled as (header, table) sections, become one
Manifest, validated by the engine's schema and written by ``Manifest.to_toml`` (the one manifest writer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.ai.manifest import Manifest, parse_manifest
from engine.ai.schema_check import SchemaError, build
from engine.atomic import atomic_write_bytes


def manifest_table(top: dict[str, Any], sections: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """``top`` keys, then each section under its dotted header: ``[a.b]`` a table, ``[[a.b]]`` an array item."""
    table: dict[str, Any] = dict(top)
    for header, body in sections:
        array = header.startswith("[[")
        *parents, last = header.strip("[]").split(".")
        node = table
        for part in parents:
            node = node.setdefault(part, {})
        if array:
            node.setdefault(last, []).append(dict(body))
        else:
            node.setdefault(last, {}).update(body)
    return table


def write_manifest(path: Path, top: dict[str, Any], sections: list[tuple[str, dict[str, Any]]],
                   header: str) -> Manifest:
    """Validate the manifest the sections make and write it to ``path`` with ``header`` as comment lines; it
    reads back equal (never a manifest Sightline would refuse)."""
    try:
        manifest = build(Manifest, manifest_table(top, sections))
    except SchemaError as error:
        raise ValueError(f"{path}: the importer built an invalid manifest ({error})") from None
    text = manifest.to_toml(header)
    if parse_manifest(text, path) != manifest:
        raise ValueError(f"{path}: the manifest does not read back as written")
    atomic_write_bytes(path, text.encode("utf-8"))
    return manifest
