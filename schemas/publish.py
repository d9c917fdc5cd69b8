"""Write (or with --check, verify) the JSON Schema of every public contract under schemas/json/."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas import changes, contracts, edge_api, eval_result, user_data

JSON_DIR = Path(__file__).resolve().parent / "json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

PUBLIC_CONTRACTS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (
        contracts.Session,
        contracts.Turn,
        contracts.SummaryRecord,
        contracts.SummarizeRequest,
        contracts.TranslateRequest,
        contracts.QueryEmbeddingRequest,
        contracts.RefreshSelector,
        contracts.ErrorBody,
        contracts.SessionAccepted,
        edge_api.RecordUpload,
        edge_api.RegistryUpload,
        edge_api.EmbeddingUpload,
        edge_api.QueryEmbeddingUpload,
        edge_api.Heartbeat,
        edge_api.DistillRequest,
        edge_api.DistillAnswer,
        edge_api.EdgeSummary,
        edge_api.PendingPage,
        edge_api.RecordStored,
        edge_api.SystemPublished,
        edge_api.RegistryStored,
        edge_api.EmbeddingStored,
        edge_api.QueryEmbeddingStored,
        edge_api.HeartbeatReply,
        changes.RecordChange,
        changes.ChangePage,
        user_data.DeletionRequest,
        user_data.SessionDeletion,
        user_data.DeletionJob,
        user_data.ExportLink,
        eval_result.EvalResult,
    )
}


def schema_path(name: str, directory: Path = JSON_DIR) -> Path:
    return directory / f"{name}.schema.json"


def render(name: str) -> str:
    schema = {"$schema": DIALECT, "$id": f"{name}.schema.json", **PUBLIC_CONTRACTS[name].model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files(directory: Path = JSON_DIR) -> list[Path]:
    """Schema files that are missing or differ from what the contracts produce now."""
    stale = []
    for name in PUBLIC_CONTRACTS:
        path = schema_path(name, directory)
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            stale.append(path)
    return stale


def write_all(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PUBLIC_CONTRACTS:
        path = schema_path(name, directory)
        text = render(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.publish", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if any published schema is stale")
    parser.add_argument("--dir", type=Path, default=JSON_DIR, help="output directory (default: schemas/json)")
    args = parser.parse_args(argv)

    if args.check:
        stale = stale_files(args.dir)
        for path in stale:
            print(f"stale JSON Schema: {path} (run `python -m schemas.publish`)", file=sys.stderr)
        return 1 if stale else 0

    for path in write_all(args.dir):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
