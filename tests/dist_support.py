"""Build this repository's sdist and wheel once per source tree, shared by the packaging and consumer tests.

The build runs ``python -m build`` (isolated, as a release would) into a folder keyed by a hash of every
packaged file, under a file lock, so parallel pytest workers build once and reuse the result.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = (
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "Pulumi.yaml",
    "__main__.py",
    "components",
    "handlers",
    "policies",
    "tests",
    "stacks",
    "examples",
    "docs",
    "benchmarks",
    "scripts",
)
"""Everything MANIFEST.in puts into the sdist: a change to any of it means a new build."""


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    log: str


def _source_digest() -> str:
    digest = hashlib.sha256()
    for entry in PACKAGED:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []
        for file in files:
            if "__pycache__" in file.parts or "node_modules" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(file.relative_to(ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def build_dist() -> Dist:
    """The sdist and wheel of the current tree (built on first use, then reused)."""
    out = Path(tempfile.gettempdir()) / "saas-platform-dist" / _source_digest()
    out.mkdir(parents=True, exist_ok=True)
    with (out / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log = out / "build.log"
        if not log.exists():
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            done = subprocess.run(
                [sys.executable, "-m", "build", "--outdir", str(out / "dist"), str(ROOT)],
                capture_output=True,
                text=True,
                env=env,
                cwd=out,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"python -m build failed:\n{done.stdout}\n{done.stderr}")
            log.write_text(done.stdout + done.stderr)
        wheels = sorted((out / "dist").glob("*.whl"))
        sdists = sorted((out / "dist").glob("*.tar.gz"))
        return Dist(wheel=wheels[-1], sdist=sdists[-1], log=log.read_text())


_NOT_SHARED = ("saas_platform", "__editable__", "_virtualenv")


@dataclass(frozen=True)
class ConsumerVenv:
    python: Path
    site_packages: Path

    def env(self) -> dict[str, str]:
        """A clean environment for the consumer: no PYTHONPATH (which points at this checkout), the venv first."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.python.parent.parent)
        return env


def consumer_venv(dist: Dist) -> ConsumerVenv:
    """A fresh virtualenv with the built wheel installed (``--no-deps``, from the file, as a consumer would).

    Third-party dependencies are not downloaded again: a ``.pth`` file adds a folder of links to this checkout's
    installed dependencies - every entry of its site-packages except this library (the editable install and
    its ``saas_platform`` links), so the only ``saas_platform`` the consumer can import is the wheel's.
    """
    root = dist.wheel.parent.parent / "consumer-venv"
    with (dist.wheel.parent.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = root / "bin" / "python"
        ready = root / ".ready"
        if not ready.exists():
            shutil.rmtree(root, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
            site = Path(
                subprocess.run(
                    [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
            )
            shared = root / "shared-deps"
            shared.mkdir()
            ours = Path(sysconfig.get_paths()["purelib"])
            for entry in ours.iterdir():
                if entry.name.startswith(_NOT_SHARED) or entry.suffix == ".pth":
                    continue
                (shared / entry.name).symlink_to(entry)
            (site / "zz-shared-deps.pth").write_text(f"{shared}\n")
            venv = ConsumerVenv(python=python, site_packages=site)
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    str(python),
                    "install",
                    "--no-deps",
                    "--no-index",
                    str(dist.wheel),
                ],
                capture_output=True,
                text=True,
                env=venv.env(),
                check=False,
            )
            if done.returncode != 0 or not list(site.glob("saas_platform_components-*.dist-info")):
                raise RuntimeError(f"installing the wheel into {root} failed:\n{done.stdout}\n{done.stderr}")
            ready.write_text(str(site))
        return ConsumerVenv(python=python, site_packages=Path(ready.read_text()))
