"""`sightline plugins [--json] [--folder DIR ...]`: list the discovered AI plugins and their model hashes;
`sightline plugins add DIR|ZIP [--system] [--allow-unsigned] [--replace]` checks a plugin (every file hashed by
the manifest, the manifest's Ed25519 signature by a trusted key, its carried example run against its carried
expected output) and installs it into the per-user (or, with --system, machine-wide) plugin folder;
`sightline plugins remove ID [--system]`; `sightline plugins keygen PRIVATE PUBLIC`, `sign DIR --key PRIVATE`
and `trust PUBLIC [--system]` manage the keys. Additions and removals are audited.

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
import sys
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
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="check and install a plugin folder or zip",
                             description="Validate the manifest and the hash of every file, check the manifest's "
                             "signature, run the carried example, then install into the per-user plugin folder.")
    add.add_argument("source", type=Path, help="plugin folder or zip")
    add.add_argument("--system", action="store_true", help="install for every user of this machine")
    add.add_argument("--allow-unsigned", action="store_true",
                     help="install without a trusted signature; every result then says the plugin is unsigned")
    add.add_argument("--replace", action="store_true", help="replace an installed plugin with the same id")
    add.set_defaults(handler=run_add)
    remove = actions.add_parser("remove", help="remove an added plugin")
    remove.add_argument("plugin_id")
    remove.add_argument("--system", action="store_true", help="from the machine-wide plugin folder")
    remove.set_defaults(handler=run_remove)
    keygen = actions.add_parser("keygen", help="create an Ed25519 signing key pair")
    keygen.add_argument("private", type=Path)
    keygen.add_argument("public", type=Path)
    keygen.set_defaults(handler=run_keygen)
    sign = actions.add_parser("sign", help="sign a plugin's manifest (writes manifest.toml.sig)")
    sign.add_argument("folder", type=Path)
    sign.add_argument("--key", type=Path, required=True, help="private key file")
    sign.set_defaults(handler=run_sign)
    trust = actions.add_parser("trust", help="add a public key to the trusted keys")
    trust.add_argument("public", type=Path)
    trust.add_argument("--system", action="store_true", help="trust it for every user of this machine")
    trust.set_defaults(handler=run_trust)


def run_add(args: argparse.Namespace) -> int:
    from engine.ai.install import InstallRefused, install

    try:
        report = install(args.source, system=args.system, allow_unsigned=args.allow_unsigned, replace=args.replace)
    except (InstallRefused, OSError) as error:
        print(f"REFUSED {args.source}: {error}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from engine.ai.install import InstallRefused, remove

    try:
        target = remove(args.plugin_id, system=args.system)
    except (InstallRefused, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"removed {args.plugin_id} ({target})")
    return 0


def run_keygen(args: argparse.Namespace) -> int:
    from engine.ai.signing import generate_key

    for path in (args.private, args.public):
        if path.exists():
            print(f"error: {path} exists", file=sys.stderr)
            return 1
    print(f"key {generate_key(args.private, args.public)}: private {args.private}, public {args.public}")
    return 0


def run_sign(args: argparse.Namespace) -> int:
    from engine.ai.signing import SignatureError, sign_manifest

    try:
        print(f"wrote {sign_manifest(args.folder, args.key)}")
    except (SignatureError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def run_trust(args: argparse.Namespace) -> int:
    from engine.ai.signing import SignatureError, trust_key

    try:
        key = trust_key(args.public, system=args.system)
    except (SignatureError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"trusted key {key.key_id} as {key.name!r} ({key.path})")
    return 0


def run(args: argparse.Namespace) -> int:
    from engine.ai.registry import discover

    registry = discover(args.folder, entry_points=args.folder is None)
    listing = {"plugins": [_plugin_json(plugin) for plugin in registry.plugins.values()],
               "problems": list(registry.problems)}
    print(json.dumps(listing, indent=2) if args.json else format_listing(listing))
    usable = all(model["status"] == "ok" for plugin in listing["plugins"] for model in plugin["models"])
    return 0 if usable and not listing["problems"] else 1


def _plugin_json(plugin: Any) -> dict[str, Any]:
    from engine.ai.signing import verify_manifest

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
            for model in [*manifest.models, *manifest.files]
        ],
        "declarative": bool(manifest.pipeline),
        "signature": verify_manifest(plugin.folder).describe(),
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
        lines.append(f"    {plugin['signature']}")
    lines += [f"problem: {problem}" for problem in listing["problems"]]
    return "\n".join(lines)
