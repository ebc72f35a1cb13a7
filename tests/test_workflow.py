"""The GitHub Actions workflow is valid (GitHub's workflow schema) and runs the same CI."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[1]
WORKFLOW = TOP / ".github" / "workflows" / "book.yml"
CHECK = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]


@pytest.mark.slow
def test_the_workflow_matches_githubs_schema(tmp_path):
    ok = subprocess.run(CHECK + [str(WORKFLOW)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "broken.yml"                       # the check can fail
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))
    assert subprocess.run(CHECK + [str(broken)], capture_output=True).returncode != 0


def test_the_workflow_runs_the_ci_script_and_publishes_main_only():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build = workflow["jobs"]["build"]
    ci = [step for step in build["steps"] if step.get("run") == "bash .ci/run"]
    assert ci and ci[0].get("env", {}).get("CI") == "true"   # installs Chromium only then
    deploy = workflow["jobs"]["deploy"]
    assert "refs/heads/main" in deploy["if"] and deploy["needs"] == "build"


def test_ci_runs_a_python_the_package_accepts():
    """The workflow's Python is inside pyproject's requires-python (CI tests the floor)."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    python = next(s for s in workflow["jobs"]["build"]["steps"]
                  if s.get("uses", "").startswith("actions/setup-python"))
    version = tuple(int(part) for part in str(python["with"]["python-version"]).split("."))
    floor = re.search(r'requires-python = ">=([\d.]+)"', (TOP / "pyproject.toml").read_text())
    assert floor, "pyproject.toml: requires-python should be a lower bound"
    assert version == tuple(int(part) for part in floor.group(1).split("."))
