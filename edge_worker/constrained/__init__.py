"""Grammar-constrained decoding: llguidance JSON Schema matchers as mlx-lm logits processors.

grammar (tokenizer facts, schema -> grammar), budget (the end-of-budget guard), processor (the logits
processor), generate (the generation loop); their public names are importable from here.
"""

from edge_worker.constrained.errors import ConstrainedGenerationError, UnsupportedSchemaError
from edge_worker.constrained.generate import generate_constrained
from edge_worker.constrained.grammar import GrammarTokenizer, compile_schema, grammar_tokenizer
from edge_worker.constrained.processor import SchemaConstraint

__all__ = [
    "ConstrainedGenerationError",
    "GrammarTokenizer",
    "SchemaConstraint",
    "UnsupportedSchemaError",
    "compile_schema",
    "generate_constrained",
    "grammar_tokenizer",
]
