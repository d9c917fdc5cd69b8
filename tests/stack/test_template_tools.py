"""The template passes `sam validate --lint` (cfn-lint runs in `make lint`), every requirement has a wheel for the
Lambda runtime and architecture, and what Lambda installs is pinned and enough to run the code.

`sam build` itself needs the runtime's own interpreter (python3.13) on the machine; these checks do not."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

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


# What `sam build` accepts as a wheel for each Lambda architecture (aws-lambda-builders 1.x,
# workflows/python_pip/packager.py: DependencyBuilder._COMPATIBLE_PLATFORM_*).
LAMBDA_PLATFORMS = {
    "arm64": ["any", "linux_aarch64", "manylinux2014_aarch64"]
    + [f"manylinux_2_{minor}_aarch64" for minor in (17, 28, 34)],
    "x86_64": ["any", "linux_x86_64", "manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"]
    + [f"manylinux_2_{minor}_x86_64" for minor in (17, 28, 34)],
}


def _lambda_function_globals() -> dict:
    globals_ = yaml.safe_load(re.sub(r"!\w+", "", (ROOT / "template.yaml").read_text()))["Globals"]["Function"]
    return {"runtime": globals_["Runtime"], "architectures": globals_["Architectures"]}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """A function's package as SAM's pip builder makes it, for the interpreter running the tests: the CodeUri's
    packages, and requirements.txt installed beside them as wheels (`pip install --target`)."""
    folder = tmp_path_factory.mktemp("lambda-package")
    for name in ("functions", "schemas"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    command = ("-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:", "--target", str(folder))
    result = _run(sys.executable, *command, "-r", "requirements.txt")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder


def test_every_requirement_has_a_wheel_for_the_lambda_runtime_and_architecture(tmp_path):
    """What `sam build` installs for the template's own runtime and architecture (python3.13 on arm64), resolved
    without that interpreter: pip picks wheels for the target's tags, as the SAM builder does."""
    wanted = _lambda_function_globals()
    [architecture] = wanted["architectures"]
    version = wanted["runtime"].removeprefix("python")
    platforms = [arg for platform in LAMBDA_PLATFORMS[architecture] for arg in ("--platform", platform)]
    result = _run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        version,
        *platforms,
        "--dest",
        str(tmp_path),
        "-r",
        "requirements.txt",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = {path.name.split("-")[0].lower() for path in tmp_path.glob("*.whl")}
    assert {"pydantic_core", "numpy", "rfc3339_validator"} <= wheels, sorted(wheels)
    abi = f"cp{version.replace('.', '')}"
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    assert any(abi in name and machine in name for name in map(str, tmp_path.glob("pydantic_core-*.whl")))


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


def test_the_lambda_package_validates_records_exactly_like_the_development_environment(package):
    """Lambda installs requirements.txt alone: with only the package on the path (no site-packages), the
    validation of a record gives the same answer as here."""
    in_lambda = _run(sys.executable, "-I", "-S", "-c", VALIDATE, str(package))
    assert in_lambda.returncode == 0, in_lambda.stderr[-3000:]
    here = subprocess.run([sys.executable, "-c", VALIDATE, str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert json.loads(in_lambda.stdout) == json.loads(here.stdout)
    assert any("'next Tuesday at 8:30' is not a 'date-time'" in error for error in json.loads(here.stdout)["errors"])
