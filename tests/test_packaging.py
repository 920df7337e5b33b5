"""A normal (non-editable) install of the wheel, as the Dockerfile does it, finds the GX suites
and the dbt project: they ship as package data (transforms/expectations, transforms/dbt), not
only in the checkout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_finds_every_suite(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = wheels.glob("clearcap-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                           "-q", str(wheel)], capture_output=True, text=True)
    assert inst.returncode == 0, inst.stderr[-3000:]
    # dependencies from this venv's site-packages (after the throwaway venv's own, where the wheel
    # is); run outside the checkout, without CLEARCAP_EXPECTATIONS
    env = {k: v for k, v in os.environ.items() if k != "CLEARCAP_EXPECTATIONS"}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    probe = ("import json, transforms, transforms.quality as q; from transforms.dbt_runner import PROJECT_DIR as d; "
             "names = sorted(p.stem for p in q.expectations_dir().glob('*.json')); "
             "print(json.dumps({'pkg': transforms.__file__, 'dir': str(q.expectations_dir()), 'names': names, "
             "'loaded': [q.load_suite_json(n)['name'] for n in names], "
             "'dbt': sorted(p.relative_to(d).as_posix() for p in d.rglob('*') if p.is_file())}))")
    out = subprocess.run([str(py), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    site = venv.resolve()
    assert Path(got["pkg"]).resolve().is_relative_to(site), got["pkg"]  # the installed copy, not the checkout
    assert Path(got["dir"]).resolve().is_relative_to(site), got["dir"]
    expected = sorted(p.stem for p in (REPO / "expectations").glob("*.json"))
    assert expected and got["names"] == expected
    assert got["loaded"] == [json.loads((REPO / "expectations" / f"{n}.json").read_text())["name"] for n in expected]
    # the dbt project ships whole (models, their YAML, macros, dbt_project.yml)
    project = REPO / "transforms" / "dbt"
    assert got["dbt"] == sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())


def test_the_longest_first_order_names_test_files_that_exist():
    """conftest.LONGEST_FIRST schedules the long files first: a renamed file would silently fall
    back to xdist's order."""
    from conftest import LONGEST_FIRST, TESTS

    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert [n for n in LONGEST_FIRST if not (TESTS / n).is_file()] == []
