"""The template passes cfn-lint and `sam validate --lint`, builds with `sam build`, and pins what Lambda installs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"


def _run(*command: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **(env or {})},
    )


def test_cfn_lint_reports_no_errors():
    result = _run(str(Path(sys.executable).parent / "cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint():
    assert SAM.exists(), "run `make tools` (make test does) to install the SAM CLI"
    result = _run(str(SAM), "validate", "--lint", "--template", "template.yaml")
    assert result.returncode == 0 and "is a valid SAM Template" in result.stdout, result.stdout + result.stderr


def test_lambda_requirements_match_the_project_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = set(project["dependencies"]) | set(project["optional-dependencies"]["lambda"])
    lines = {
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert lines == pinned


def _python_for_runtime() -> dict | None:
    """`sam build` needs the runtime's Python on PATH; pyenv may provide it."""
    runtime = "python3.13"
    if shutil.which(runtime) and _run(runtime, "--version").returncode == 0:
        return {}
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = _run(pyenv, "versions", "--bare").stdout.split()
        match = [v for v in versions if v.startswith("3.13")]
        if match:
            current = _run(pyenv, "version-name").stdout.strip()
            return {"PYENV_VERSION": f"{current}:{match[-1]}"}
    return None


def test_sam_build_succeeds(tmp_path):
    env = _python_for_runtime()
    if env is None:
        pytest.skip("no Python 3.13 on this machine for the python3.13 runtime")
    result = _run(str(SAM), "build", "--build-dir", str(tmp_path / "build"), "--template", "template.yaml", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    built = tmp_path / "build" / "IngestFunction"
    assert (built / "functions" / "ingest" / "app.py").exists()
    assert (built / "aws_lambda_powertools").is_dir() and (built / "pydantic_core").is_dir()
    assert not (built / ".venv").exists()


TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open("template.yaml").read().replace("CodeUri: .", "CodeUri: s3://bucket/code.zip"))
translated = transform(template, {}, type("NoPolicies", (), {"load": lambda self: {}})())
json.dump(translated, sys.stdout)
"""


def test_api_gateway_may_invoke_the_authorizer_for_both_apis():
    """SAM adds no invoke permission for an HttpApi Lambda authorizer; the template must."""
    result = _run(str(SAM.parent / "python"), "-c", TRANSLATE)
    assert result.returncode == 0, result.stderr
    translated = json.loads(result.stdout)
    sources = [
        json.dumps(res["Properties"].get("SourceArn"))
        for res in translated["Resources"].values()
        if res["Type"] == "AWS::Lambda::Permission"
        and "AuthorizerFunction" in json.dumps(res["Properties"]["FunctionName"])
    ]
    assert any("${HttpApi}/authorizers/" in source for source in sources), sources
    assert any("${WebSocketApi}/authorizers/" in source for source in sources), sources


VALIDATE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from schemas.system_definition import default_systems_dir, load_systems, output_validator
planner = load_systems(default_systems_dir()).systems["planner"]
event = {"title": "Dentist", "start": "next Tuesday at 8:30", "end": "2025-03-14T09:30:00+01:00"}
document = {"tasks": [], "events": [event]}
checker = output_validator(planner.schema).format_checker
print(json.dumps({"errors": planner.validation_errors(document), "formats": sorted(checker.checkers)}))
"""


def test_the_lambda_package_validates_records_exactly_like_the_development_environment(tmp_path):
    """`sam build` installs requirements.txt alone: with only its output on the path (no site-packages), the
    validation of a record gives the same answer as here. Built for x86_64 so this machine can run it."""
    env = _python_for_runtime()
    if env is None:
        pytest.skip("no Python 3.13 on this machine for the python3.13 runtime")
    template = (ROOT / "template.yaml").read_text().replace("Architectures: [arm64]", "Architectures: [x86_64]")
    (tmp_path / "template.yaml").write_text(template.replace("CodeUri: .", f"CodeUri: {ROOT}"))
    build = tmp_path / "build"
    result = _run(
        str(SAM),
        "build",
        "ApiFunction",
        "--build-dir",
        str(build),
        "--template",
        str(tmp_path / "template.yaml"),
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    in_lambda = _run("python3.13", "-I", "-S", "-c", VALIDATE, str(build / "ApiFunction"), env=env)
    assert in_lambda.returncode == 0, in_lambda.stderr[-3000:]
    here = subprocess.run([sys.executable, "-c", VALIDATE, str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert json.loads(in_lambda.stdout) == json.loads(here.stdout)
    assert any("'next Tuesday at 8:30' is not a 'date-time'" in error for error in json.loads(here.stdout)["errors"])
