"""The edge settings the local stack writes: read by edge_worker.config with no variables, the token kept apart in
a 0600 file, a deployed stack's edge.json never overwritten, and errors naming what to set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_worker.config import ConfigError, api_token, load_config, sqs_client
from local_stack.edge_settings import write_edge_settings, written_by_local_stack

ROOT = Path(__file__).resolve().parents[2]
NO_AWS = {"PATH": os.environ.get("PATH", "")}


def local_settings(tmp_path) -> dict:
    return {
        "api_url": "http://127.0.0.1:8080",
        "queue_url": "http://127.0.0.1:5000/123456789012/ssp-local-edge.fifo",
        "backfill_queue_url": "http://127.0.0.1:5000/123456789012/ssp-local-backfill.fifo",
        "query_queue_url": "http://127.0.0.1:5000/123456789012/ssp-local-QueryQueue-X",
        "region": "us-east-1",
        "endpoint_url": "http://127.0.0.1:5000",
        "state_dir": str(tmp_path / "local" / "edge"),
        "token_file": str(tmp_path / "local" / "edge-token"),
    }


def test_edge_json_configures_the_edge_and_its_token_file_is_private(tmp_path):
    path = write_edge_settings(local_settings(tmp_path), "ssp_secret-edge-token", tmp_path / "edge.json")
    assert path == tmp_path / "edge.json" and "ssp_secret" not in path.read_text()
    config = load_config(environ={**NO_AWS, "SSP_HOME": str(tmp_path)})
    assert config.backfill_queue_url.endswith("backfill.fifo") and config.region == "us-east-1"
    assert api_token(NO_AWS, token_file=config.token_file) == "ssp_secret-edge-token"
    client = sqs_client(config, NO_AWS)
    assert client.meta.region_name == "us-east-1" and client.meta.endpoint_url == "http://127.0.0.1:5000"

    os.chmod(config.token_file, 0o644)
    with pytest.raises(ConfigError, match="readable by others: `chmod 600"):
        api_token(NO_AWS, token_file=config.token_file)


def test_a_missing_region_names_the_variable(tmp_path):
    (tmp_path / "edge.json").write_text(json.dumps({"api_url": "https://api", "queue_url": "https://sqs/q.fifo"}))
    config = load_config(environ={**NO_AWS, "SSP_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match=r'AWS_REGION is not set .*"region" in edge.json'):
        sqs_client(config, NO_AWS)
    assert sqs_client(config, {**NO_AWS, "AWS_REGION": "eu-west-1"}).meta.region_name == "eu-west-1"


def test_a_deployed_stacks_edge_json_is_left_alone(tmp_path):
    deployed = tmp_path / "edge.json"
    deployed.write_text(json.dumps({"api_url": "https://api.example.com", "queue_url": "https://sqs/q.fifo"}))
    assert not written_by_local_stack(deployed)
    assert write_edge_settings(local_settings(tmp_path), "token", deployed) is None
    assert "example.com" in deployed.read_text()
    assert (tmp_path / "local" / "edge-token").read_text() == "token"


@pytest.mark.parametrize("command", ["status", "dead-letters", "run"])
def test_every_edge_command_without_settings_names_the_variables_to_set(tmp_path, command):
    result = subprocess.run(
        [sys.executable, "-m", "edge_worker", command],
        cwd=ROOT,
        env={**NO_AWS, "SSP_HOME": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "SSP_API_URL is not set" in result.stderr and "SSP_EDGE_QUEUE_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr
