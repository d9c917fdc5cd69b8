"""What constrained decoding raises."""


class UnsupportedSchemaError(ValueError):
    """The constrained decoder cannot compile a system's JSON Schema."""


class ConstrainedGenerationError(RuntimeError):
    """Generation ended without a complete document (budget exhausted or matcher error)."""
