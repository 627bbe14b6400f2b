"""benchmarks/cdk_peer.py: the table and its ratios from stubbed measurements (no node, no plan), and the npm pins."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CDK_DIR = ROOT / "benchmarks" / "cdk_peer"


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cdk_peer_driver", ROOT / "benchmarks" / "cdk_peer.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


peer = _driver()


def _ours(wall: float, cpu: float) -> object:
    # What plan_scale.py --child prints, plus a field it may grow (the driver must tolerate extra fields).
    result = {"resources": 4471, "total_s": wall - 2, "cpu_s": cpu - 2, "mandatory": 1, "peak_mb": 676.0, "new": 1}
    return peer.Measured(result=result, wall_s=wall, cpu_s=cpu, peak_mb=676.0, load_1m=1.5)


def _cdk(wall: float, cpu: float) -> object:
    result = {"tenants": 100, "resources": 2764, "nag_errors": 561, "nag_warnings": 102, "resources_by_type": {"X": 1}}
    return peer.Measured(result=result, wall_s=wall, cpu_s=cpu, peak_mb=650.0, load_1m=0.5)


def test_ratios_are_ours_over_cdk() -> None:
    row = peer.Row(100, _ours(wall=30.0, cpu=24.0), _cdk(wall=7.5, cpu=12.0))
    assert row.wall_ratio == pytest.approx(4.0)
    assert row.cpu_ratio == pytest.approx(2.0)
    faster = peer.Row(1000, _ours(wall=5.0, cpu=6.0), _cdk(wall=20.0, cpu=24.0))
    assert faster.wall_ratio == pytest.approx(0.25)
    assert faster.cpu_ratio == pytest.approx(0.25)


def test_a_zero_cdk_figure_is_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        peer.ratio(3.0, 0.0)


def test_benchmark_prints_one_row_per_run_with_both_sides() -> None:
    calls: list[tuple[str, int]] = []

    def ours(n: int) -> object:
        calls.append(("ours", n))
        return _ours(wall=30.0, cpu=24.0)

    def cdk(n: int) -> object:
        calls.append(("cdk", n))
        return _cdk(wall=7.5, cpu=12.0)

    lines: list[str] = []
    rows = peer.benchmark([100, 10], repeat=2, ours=ours, cdk=cdk, emit=lines.append)
    assert calls == [("ours", 10), ("cdk", 10)] * 2 + [("ours", 100), ("cdk", 100)] * 2
    assert [r.tenants for r in rows] == [10, 10, 100, 100]
    assert lines[0].split()[:3] == ["tenants", "ours", "res"]
    cells = lines[-1].split()
    # tenants, ours res, cdk res, ours s, cdk s, wall x, ours cpu, cdk cpu, cpu x, ours MB, cdk MB, mandatory, nag, load
    assert cells == [
        "100",
        "4471",
        "2764",
        "30.00",
        "7.50",
        "4.00",
        "24.00",
        "12.00",
        "2.00",
        "676",
        "650",
        "1",
        "561/102",
        "1.50/0.50",
    ]
    assert len(lines) == 5


def test_json_rows_keep_both_measurements_and_the_ratios() -> None:
    (row,) = peer.rows_json([peer.Row(100, _ours(wall=30.0, cpu=24.0), _cdk(wall=7.5, cpu=12.0))])
    assert row["cpu_ratio"] == pytest.approx(2.0)
    assert row["wall_ratio"] == pytest.approx(4.0)
    assert row["ours"]["result"]["new"] == 1
    assert "resources_by_type" not in row["cdk"]["result"]
    assert row["cdk"]["result"]["nag_errors"] == 561


def test_measure_reads_the_last_json_line_and_the_process_cost(tmp_path: Path) -> None:
    script = "import json; print('noise'); print(json.dumps({'resources': 3})); sum(range(2_000_000))"
    measured = peer.measure([sys.executable, "-c", script], cwd=tmp_path)
    assert measured.result == {"resources": 3}
    assert measured.cpu_s > 0
    assert measured.wall_s >= measured.cpu_s * 0.5
    assert measured.peak_mb > 1


def test_measure_raises_with_stderr_on_failure(tmp_path: Path) -> None:
    with pytest.raises(peer.subprocess.CalledProcessError) as failed:
        peer.measure([sys.executable, "-c", "import sys; sys.exit('synth failed')"], cwd=tmp_path)
    assert "synth failed" in failed.value.stderr


def test_package_lock_pins_the_versions_package_json_names() -> None:
    manifest = json.loads((CDK_DIR / "package.json").read_text())
    lock = json.loads((CDK_DIR / "package-lock.json").read_text())
    wanted = manifest["dependencies"]
    assert set(wanted) == {"aws-cdk-lib", "constructs", "cdk-nag"}
    assert all(v[0].isdigit() for v in wanted.values()), f"package.json must pin exact versions; got {wanted}"
    assert lock["packages"][""]["dependencies"] == wanted
    for name, version in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


def test_node_modules_is_ignored_by_git() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "node_modules/" in ignored


def test_a_failed_side_is_reported_and_the_run_goes_on() -> None:
    def cdk(n: int) -> object:
        if n == 500:
            raise peer.subprocess.CalledProcessError(
                1, ["node", "app.js", "500"], "", "warn\nRangeError: heap out of memory\n"
            )
        return _cdk(wall=7.5, cpu=12.0)

    lines: list[str] = []
    saved: list[int] = []
    rows = peer.benchmark(
        [500, 100],
        ours=lambda n: _ours(wall=30.0, cpu=24.0),
        cdk=cdk,
        emit=lines.append,
        done=lambda so_far: saved.append(len(so_far)),
    )
    assert [r.tenants for r in rows] == [100]
    assert saved == [1]
    assert lines[-1].split()[:2] == ["500", "failed:"]
    assert lines[-1].endswith("exited 1: RangeError: heap out of memory")
