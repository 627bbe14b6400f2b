"""Build this repository's sdist and wheel once per source tree, shared by the packaging and consumer tests.

The build runs ``python -m build`` (isolated, as a release would) into a folder keyed by a hash of every
packaged file, under a file lock, so parallel pytest workers build once and reuse the result.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ("pyproject.toml", "MANIFEST.in", "components", "handlers", "policies", "tests", "README.md", "LICENSE")


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
            if "__pycache__" in file.parts or file.suffix == ".pyc":
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
