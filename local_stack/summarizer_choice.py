"""Which LLM the local stack's summarizer talks to: Claude when configured, else a local Messages API server."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from local_stack.messages_server import MessagesServer, ScriptedBackend, start_messages_server

LOCAL_MODEL_ID = "local-smollm2-135m"
REFERENCE_MODEL_ID = "local-reference-summaries"  # lineage of the samples' summaries written in advance
# The local server takes any key; the summarizer redacts its key from error text, so it must not be a word there.
LOCAL_API_KEY = "ssp-no-key-needed-0000"
DEMO_MODEL = "SmolLM2-135M-Instruct"  # what `make model` prepares: small enough for any laptop, rough output


@dataclass
class SummarizerChoice:
    description: str
    env: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)  # template parameter overrides
    server: MessagesServer | None = None

    def stop(self) -> None:
        if self.server:
            self.server.stop()


def choose_summarizer(llm: str, environ: dict[str, str] | None = None) -> SummarizerChoice:
    """llm: "auto" (Claude if a key or Bedrock is configured, else the local model, with the sample sessions'
    summaries written in advance), "mlx" (the local model for every session) or "scripted"."""
    environ = dict(os.environ if environ is None else environ)
    wants_cloud = environ.get("ANTHROPIC_API_KEY") or environ.get("SUMMARIZER_PROVIDER") == "bedrock"
    if llm == "auto" and wants_cloud:
        keys = ("ANTHROPIC_API_KEY", "SUMMARIZER_PROVIDER", "SUMMARIZER_MODEL_ID", "AWS_PROFILE")
        passed = {k: environ[k] for k in keys if environ.get(k)}
        provider = passed.get("SUMMARIZER_PROVIDER", "anthropic")
        return SummarizerChoice(f"Claude via {provider}", passed)
    if llm == "scripted":
        backend = ScriptedBackend()
        model_id = "local-scripted"
        description = "canned summaries (--llm scripted), no model"
    else:
        from edge_worker.model_store import prepare_default_model
        from local_stack.messages_server import MlxBackend, ReferenceBackend
        from local_stack.samples import reference_summaries

        backend = MlxBackend(str(prepare_default_model()))
        model_id = LOCAL_MODEL_ID
        description = f"{DEMO_MODEL} on this machine (a small demo model: rarely a usable summary, minutes each)"
        if llm == "auto":
            references = reference_summaries()
            backend = ReferenceBackend(references, backend, REFERENCE_MODEL_ID)
            description = f"samples: summaries written in advance; other sessions: {description}"
        description += "; set ANTHROPIC_API_KEY for Claude"
    server = start_messages_server(backend)
    env = {
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": LOCAL_API_KEY,
        "SUMMARIZER_PROVIDER": "anthropic",
        "SUMMARIZER_MODEL_ID": model_id,
        "LLM_TIMEOUT_SECONDS": "840",
        "SUMMARIZER_MAX_TOKENS": "384",
        "SUMMARIZER_RETRY_MAX_TOKENS": "512",  # MlxBackend's own cap
    }
    # A small local model on a laptop CPU needs minutes per summary; Lambda's own ceiling is 900 s.
    return SummarizerChoice(description, env, {"SummarizeTimeoutSeconds": "900"}, server)
