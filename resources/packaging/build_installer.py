"""`make installer`: build the one-folder bundle with PyInstaller (build.spec), pack it as a .tar.xz and, on
Debian-like Linux, a .deb (xz); then print the size budget lines, the VTK libraries kept and the start-up bench.

    python resources/packaging/build_installer.py [--check] [--skip-build] [--no-deb] [--no-bench] [--smoke]

Outputs in dist/: ``sightline/`` (the bundle), ``sightline-<version>-<os>-<arch>.tar.xz`` and
``sightline_<version>_<arch>.deb`` (installs to /opt/sightline, links /usr/bin/sightline, adds a desktop
entry and icons). ``--smoke`` also runs the frozen app's ``--smoke-test`` (under xvfb-run when there is no
display), which creates the sample studies the way the first start does and runs every plugin.
``--check`` (`make installer-check`, CI) is the bundle and its smoke test without the packages.

Exit status: 0 when every step ran and every budget holds (``BUDGET ... ok``); 1 when a budget is exceeded
(``OVER``), the smoke test or the bench failed.
"""

from __future__ import annotations

import argparse
import json
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


def build_bundle(dist: Path = DIST) -> tuple[float, float]:
    """Run PyInstaller on build.spec; returns its wall time and CPU time (children included) in seconds."""
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(dist),
                    "--workpath", str(ROOT / "build" / "pyinstaller"), str(ROOT / "build.spec")],
                   cwd=ROOT, check=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def make_tarball(bundle: Path, target: Path) -> Path:
    """``bundle`` as ``target`` (.tar.xz), unpacking to a folder named like the bundle. xz -6 on every core
    when the xz tool is there (the archive is the same format), else Python's lzma."""
    xz = shutil.which("xz")
    if xz is None:
        with tarfile.open(target, "w:xz", preset=6) as archive:
            archive.add(bundle, arcname=bundle.name)
        return target
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        packer = subprocess.Popen([xz, "-6", "-T0", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert packer.stdin is not None
        with tarfile.open(fileobj=packer.stdin, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            archive.add(bundle, arcname=bundle.name)
        packer.stdin.close()
        if packer.wait() != 0:
            raise RuntimeError(f"xz failed with exit status {packer.returncode}")
    partial.replace(target)
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


def over_budget(lines: list[str]) -> bool:
    """Whether one of the BUDGET lines says OVER."""
    return any(line.startswith("BUDGET") and " OVER" in line for line in lines)


def vtk_report(bundle: Path, smoke: dict | None) -> list[str]:
    """What remains of VTK in ``bundle``: each library with its size, marked with whether the frozen smoke test
    (window, 2x2 MPR + 3D volume rendering, every plugin) loaded it. A library that was not loaded is there
    because an analysed vtkmodules import or its hook lists it (needed on another code path, e.g. another
    OpenGL window class), never because nothing asked for it."""
    internal = bundle / "_internal" if (bundle / "_internal").is_dir() else bundle
    libraries = sorted(p for p in (internal / "vtkmodules").glob("*.so*") if p.is_file() and not p.is_symlink())
    libraries += sorted(p for p in internal.glob("libvtk*.so*") if p.is_file() and not p.is_symlink())
    loaded = set(smoke.get("loaded_libraries", [])) if smoke else set()
    modules = smoke.get("vtk_modules", []) if smoke else []
    total = sum(p.stat().st_size for p in libraries)
    lines = [f"VTK kept {len(libraries)} libraries, {total / MB:.0f} MB"
             + (f"; the smoke test imported {len(modules)} vtkmodules and loaded "
                f"{sum(p.name in loaded for p in libraries)} of these libraries" if smoke else "")]
    for path in libraries:
        why = ("loaded by the smoke test" if path.name in loaded
               else "not loaded by the smoke test" if smoke else "smoke test not run")
        lines.append(f"VTK   {path.stat().st_size / MB:7.1f} MB  {path.name}  ({why})")
    return lines


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
    """Run the frozen app's --smoke-test (through xvfb-run without a display) in a fresh ``out`` (so it creates
    the sample studies as a first start does); its exit status."""
    shutil.rmtree(out, ignore_errors=True)
    command = [str(launcher(bundle)), "--smoke-test", "--out", str(out)]
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", *command]
    return subprocess.run(command, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="CI check: build the bundle and run its smoke test; no .tar.xz / .deb, no bench")
    parser.add_argument("--skip-build", action="store_true", help="package the existing dist/sightline")
    parser.add_argument("--no-deb", action="store_true", help="do not build the .deb")
    parser.add_argument("--no-bench", action="store_true", help="do not measure the frozen start-up")
    parser.add_argument("--smoke", action="store_true", help="run the frozen app's --smoke-test")
    args = parser.parse_args(argv)
    bundle, tag = DIST / BUNDLE_NAME, f"{version()}-{sys.platform}-{platform.machine().lower()}"
    if not args.skip_build:
        wall, cpu = build_bundle()
        print(f"BUILD pyinstaller_seconds={wall:.1f} cpu_seconds={cpu:.1f}", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    status, smoke = 0, None
    if args.smoke or args.check:
        start = time.perf_counter()
        status = smoke_test(bundle, WORK / "smoke")
        report = WORK / "smoke" / "smoke.json"
        smoke = json.loads(report.read_text()) if report.is_file() else None
        print(f"SMOKE exit_status={status} seconds={time.perf_counter() - start:.1f}", flush=True)
    packages = {}
    if not args.check:
        tarball = make_tarball(bundle, DIST / f"sightline-{tag}.tar.xz")
        packages[tarball.name] = tarball.stat().st_size
        if not args.no_deb and sys.platform.startswith("linux") and shutil.which("dpkg-deb"):
            deb = build_deb(bundle, DIST / f"sightline_{version()}_{deb_architecture()}.deb", version())
            packages[deb.name] = deb.stat().st_size
    for line in vtk_report(bundle, smoke):
        print(line)
    lines = budget_lines(folder_size(bundle), packages)
    for line in lines:
        print(line)
    if over_budget(lines):
        print("build_installer: a size budget is exceeded (BUDGET ... OVER)", file=sys.stderr)
        status = status or 1
    if not args.no_bench and not args.check:
        bench = ROOT / "tests" / "bench" / "bench_frozen_startup.py"
        bench_run = subprocess.run([sys.executable, str(bench), "--launcher", str(launcher(bundle))], cwd=ROOT)
        status = status or bench_run.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
