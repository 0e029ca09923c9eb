"""`make installer`: build the one-folder bundle with PyInstaller (build.spec), pack it as a .tar.gz and, on
Debian-like Linux, a .deb; then print the size and start-up budget lines.

    python resources/packaging/build_installer.py [--skip-build] [--no-deb] [--no-bench] [--smoke]

Outputs in dist/: ``sightline/`` (the bundle), ``sightline-<version>-<os>-<arch>.tar.gz`` and
``sightline_<version>_<arch>.deb`` (installs to /opt/sightline, links /usr/bin/sightline, adds a desktop
entry and icons). ``--smoke`` also runs the frozen app's ``--smoke-test`` (under xvfb-run when there is no
display). Exit status 0 when every step ran (budgets over target are reported, not fatal).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import string
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DIST = ROOT / "dist"
WORK = ROOT / "build" / "installer"
BUNDLE_NAME = "sightline"
LAUNCHERS = ("sightline", "sightline-cli.exe", "Sightline")  # Linux, Windows (console), macOS
INSTALL_DIR = "/opt/sightline"
MB, MIB = 1_000_000, 1 << 20
UNPACKED_TARGET_MB = 600
COMPRESSED_TARGET_MIB = 180
# Shared libraries the bundle loads from the system (PyInstaller leaves out libc, GL, X11/xcb, D-Bus, ...).
DEB_DEPENDS = (
    "libc6 (>= 2.28), libstdc++6, libgcc-s1, zlib1g, libgl1, libegl1, libglx0, libopengl0, libfontconfig1, "
    "libfreetype6, libx11-6, libx11-xcb1, libxext6, libxrender1, libxi6, libxcb1, libxkbcommon0, "
    "libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, "
    "libxcb-render-util0, libxcb-shape0, libxcb-xinerama0, libxcb-xkb1, libdbus-1-3, "
    "libglib2.0-0t64 | libglib2.0-0"
)


def version() -> str:
    """The project version (pyproject.toml)."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def folder_size(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links not followed, not counted)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def build_bundle(dist: Path = DIST) -> float:
    """Run PyInstaller on build.spec; returns its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(dist),
                    "--workpath", str(ROOT / "build" / "pyinstaller"), str(ROOT / "build.spec")],
                   cwd=ROOT, check=True)
    return time.perf_counter() - start


def make_tarball(bundle: Path, target: Path) -> Path:
    """``bundle`` as ``target`` (.tar.gz), unpacking to a folder named like the bundle."""
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=bundle.name)
    return target


def deb_architecture() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def control_file(installed_kib: int, package_version: str, architecture: str) -> str:
    """DEBIAN/control from resources/packaging/deb/control.in."""
    template = string.Template((HERE / "deb" / "control.in").read_text())
    return template.substitute(version=package_version, architecture=architecture,
                               installed_size=installed_kib, depends=DEB_DEPENDS)


def stage_deb(bundle: Path, staging: Path, package_version: str) -> Path:
    """The package tree: the bundle in /opt/sightline (hard links, no copy), /usr/bin/sightline, desktop
    entry, icons and DEBIAN/control."""
    shutil.rmtree(staging, ignore_errors=True)
    opt = staging / INSTALL_DIR.lstrip("/")
    shutil.copytree(bundle, opt, symlinks=True, copy_function=os.link)
    (staging / "usr" / "bin").mkdir(parents=True)
    (staging / "usr" / "bin" / "sightline").symlink_to(f"{INSTALL_DIR}/sightline")
    share = staging / "usr" / "share"
    for source, target in (("sightline.desktop", "applications/sightline.desktop"),
                           ("sightline.png", "icons/hicolor/256x256/apps/sightline.png"),
                           ("sightline.svg", "icons/hicolor/scalable/apps/sightline.svg")):
        (share / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(HERE / source, share / target)
    debian = staging / "DEBIAN"
    debian.mkdir()
    installed_kib = (folder_size(staging) + 1023) // 1024
    (debian / "control").write_text(control_file(installed_kib, package_version, deb_architecture()))
    for path in [staging, *staging.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return staging


def build_deb(bundle: Path, target: Path, package_version: str) -> Path:
    """A .deb of ``bundle`` (xz, root-owned files) at ``target``."""
    staging = stage_deb(bundle, WORK / "deb", package_version)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(staging), str(target)], check=True)
    shutil.rmtree(staging)
    return target


def budget_lines(unpacked: int, packages: dict[str, int]) -> list[str]:
    """The BUDGET lines `make installer` prints: unpacked MB and each package's MiB against the targets."""
    verdict = "ok" if unpacked <= UNPACKED_TARGET_MB * MB else "OVER"
    lines = [f"BUDGET unpacked_size={unpacked / MB:.0f}MB target={UNPACKED_TARGET_MB}MB {verdict}"]
    for name, size in packages.items():
        verdict = "ok" if size <= COMPRESSED_TARGET_MIB * MIB else "OVER"
        lines.append(f"BUDGET compressed_size={size / MIB:.0f}MiB target={COMPRESSED_TARGET_MIB}MiB {verdict} {name}")
    return lines


def launcher(bundle: Path) -> Path:
    """The bundle's console executable."""
    for name in LAUNCHERS:
        if (bundle / name).is_file():
            return bundle / name
    raise FileNotFoundError(f"no Sightline executable in {bundle}")


def smoke_test(bundle: Path, out: Path) -> int:
    """Run the frozen app's --smoke-test (through xvfb-run without a display); its exit status."""
    command = [str(launcher(bundle)), "--smoke-test", "--out", str(out)]
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", *command]
    return subprocess.run(command, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="package the existing dist/sightline")
    parser.add_argument("--no-deb", action="store_true", help="do not build the .deb")
    parser.add_argument("--no-bench", action="store_true", help="do not measure the frozen start-up")
    parser.add_argument("--smoke", action="store_true", help="run the frozen app's --smoke-test")
    args = parser.parse_args(argv)
    if not any((ROOT / "resources" / "samples").glob("*/")):
        print("build_installer: no sample studies in resources/samples (`make samples`)", file=sys.stderr)
        return 2
    bundle, tag = DIST / BUNDLE_NAME, f"{version()}-{sys.platform}-{platform.machine().lower()}"
    if not args.skip_build:
        print(f"BUILD pyinstaller_seconds={build_bundle():.1f}", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    packages = {}
    tarball = make_tarball(bundle, DIST / f"sightline-{tag}.tar.gz")
    packages[tarball.name] = tarball.stat().st_size
    if not args.no_deb and sys.platform.startswith("linux") and shutil.which("dpkg-deb"):
        deb = build_deb(bundle, DIST / f"sightline_{version()}_{deb_architecture()}.deb", version())
        packages[deb.name] = deb.stat().st_size
    status = 0
    if args.smoke:
        status = smoke_test(bundle, WORK / "smoke")
    for line in budget_lines(folder_size(bundle), packages):
        print(line)
    if not args.no_bench:
        bench = ROOT / "tests" / "bench" / "bench_frozen_startup.py"
        bench_run = subprocess.run([sys.executable, str(bench), "--launcher", str(launcher(bundle))], cwd=ROOT)
        status = status or bench_run.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
