"""The GitHub Actions workflow is valid (GitHub's workflow schema) and runs the same CI."""
import subprocess
import sys
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parents[1]
WORKFLOW = TOP / ".github" / "workflows" / "book.yml"
CHECK = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]


def test_the_workflow_matches_githubs_schema(tmp_path):
    ok = subprocess.run(CHECK + [str(WORKFLOW)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "broken.yml"                       # the check can fail
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))
    assert subprocess.run(CHECK + [str(broken)], capture_output=True).returncode != 0


def test_the_workflow_runs_the_ci_script_and_publishes_main_only():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build = workflow["jobs"]["build"]
    assert any(step.get("run") == "bash .ci/run" for step in build["steps"])
    python = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11" and python["with"]["cache"] == "pip"
    deploy = workflow["jobs"]["deploy"]
    assert "refs/heads/main" in deploy["if"] and deploy["needs"] == "build"
