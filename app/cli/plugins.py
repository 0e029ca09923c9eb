"""`sightline plugins [--json] [--folder DIR ...]`: list the discovered AI plugins and their model hashes.

``--json`` prints::

    {"plugins": [{"id", "name", "version", "kind", "modalities", "source", "folder", "clinical_use",
                  "models": [{"name", "path", "sha256", "status": "ok" | "mismatch" | "missing",
                              "actual_sha256"}]}],
     "problems": ["<manifest path>: <reason>", ...]}

Exit status 0 when every plugin is usable, 1 when a manifest is invalid or a model file is missing or
does not match its SHA-256 (such a plugin is refused at run time).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list the AI plugins, their versions and model-hash status",
        description="List plugins found in the plugins folder and the 'sightline.plugins' entry points, "
        "with each model file's SHA-256 check.",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--folder", type=Path, action="append",
                        help="look for plugins in this folder instead of the installed plugins/ (repeatable)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.ai.registry import discover

    registry = discover(args.folder, entry_points=args.folder is None)
    listing = {"plugins": [_plugin_json(plugin) for plugin in registry.plugins.values()],
               "problems": list(registry.problems)}
    print(json.dumps(listing, indent=2) if args.json else format_listing(listing))
    usable = all(model["status"] == "ok" for plugin in listing["plugins"] for model in plugin["models"])
    return 0 if usable and not listing["problems"] else 1


def _plugin_json(plugin: Any) -> dict[str, Any]:
    manifest = plugin.manifest
    status = plugin.hash_status()
    return {
        "id": manifest.id,
        "name": manifest.name,
        "version": manifest.version,
        "kind": manifest.kind,
        "modalities": list(manifest.modalities),
        "source": plugin.source,
        "folder": str(plugin.folder),
        "clinical_use": manifest.clinical_use,
        "models": [
            {"name": model.name, "path": model.path, "sha256": model.sha256,
             "status": status[model.name][0], "actual_sha256": status[model.name][1]}
            for model in manifest.models
        ],
    }


def format_listing(listing: dict[str, Any]) -> str:
    """The human-readable form of the JSON listing."""
    lines = [] if listing["plugins"] else ["No plugins found."]
    for plugin in listing["plugins"]:
        modalities = ", ".join(plugin["modalities"])
        lines.append(f"{plugin['id']} {plugin['version']}  {plugin['kind']}  {modalities}  {plugin['name']}  "
                     "(research use only)")
        for model in plugin["models"]:
            note = {"ok": "sha256 ok", "missing": "MISSING",
                    "mismatch": f"SHA-256 MISMATCH (is {model['actual_sha256'][:12]}...)"}[model["status"]]
            lines.append(f"    model {model['name']}: {model['path']}  {note}")
    lines += [f"problem: {problem}" for problem in listing["problems"]]
    return "\n".join(lines)
