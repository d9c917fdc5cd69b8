"""System definitions are data: `schemas/systems/<name>.json`, validated on load."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, get_args

import regress
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError
from jsonschema.exceptions import ValidationError as SchemaViolation
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from schemas.bullet_items import Count, Part, parts, per_bullet_problems
from schemas.date_grounding import grounded
from schemas.ecma_re2 import UncheckablePattern, linear_regex
from schemas.json_text import InvalidJson, json_type, strict_loads
from schemas.lineage import content_version
from schemas.patterns import SYSTEM_NAME_PATTERN as NAME_PATTERN
from schemas.section_gate import by_property, empty_properties, gate_problems, list_properties, without_items

MAX_OUTPUT_TOKENS_LIMIT = 8192

# What constrained decoding can enforce, as llguidance 1.9 compiles JSON Schema (its json/README.md lists the
# supported features; tests/schemas/test_system_definitions.py checks this list against llguidance itself).
UNENFORCEABLE_KEYWORDS = frozenset(
    {
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "if",
        "then",
        "else",
        "not",
        "unevaluatedProperties",
        "unevaluatedItems",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
    }
)
ENFORCEABLE_FORMATS = frozenset(
    {"date-time", "date", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri"}
)
# The formats every validation checks, wherever it runs (the edge, the Lambda package, tests): the others are
# annotations. jsonschema registers a format only when its library is installed, so the list is fixed here and
# its checkers are required at import (date-time and time need rfc3339-validator, a pinned dependency).
CHECKED_FORMATS = ("date", "date-time", "time", "email", "ipv4", "ipv6", "uuid")
_missing = set(CHECKED_FORMATS) - set(FormatChecker.checkers)
if _missing:
    raise ImportError(
        f"jsonschema cannot check the formats {sorted(_missing)} here: install the pinned dependencies "
        "(rfc3339-validator for date-time and time)"
    )
FORMAT_CHECKER = FormatChecker(CHECKED_FORMATS)
# Regular expression features a grammar cannot express: look-around (\b included) and backreferences.
_UNENFORCEABLE_PATTERN = re.compile(r"\(\?<?[=!]|\\[1-9bBk]")
_SCHEMA_URI = "urn:session-summary-pipeline:system-schema"
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("prefixItems", "allOf", "anyOf", "oneOf")
_ONE_SCHEMA = (
    "items",
    "additionalItems",
    "additionalProperties",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)


class SystemDefinitionError(Exception):
    """A definition file that cannot be used, and why."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


Split = Literal["prompt", "train", "eval"]
SPLITS: tuple[Split, ...] = get_args(Split)


class _Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1)
    expected: Any
    # "prompt": shown to the model as a worked example; "train": fine-tuning only; "eval": held out from both.
    split: Split | None = None


def default_split(summary: str) -> Split:
    """The split of an example that names none, from its summary alone (stable when examples are added or moved).

    The first 8 bytes of sha256(summary as UTF-8), as a big-endian integer mod 20: 0-1 -> "prompt" (10%),
    2-9 -> "train" (40%), 10-19 -> "eval" (50%), the 4/16/20 proportions of the shipped sets.
    """
    bucket = int.from_bytes(hashlib.sha256(summary.encode("utf-8")).digest()[:8], "big") % 20
    return "prompt" if bucket < 2 else "train" if bucket < 10 else "eval"


class _DefinitionFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(min_length=1)
    instructions: str = Field(min_length=1)
    output_schema: dict[str, Any] = Field(alias="schema")
    examples: list[_Example]
    max_output_tokens: StrictInt = Field(gt=0, le=MAX_OUTPUT_TOKENS_LIMIT)
    version: str | None = None
    # Which fields of an array's items tell two items apart: {"tasks": ["title"], "topics": []} ([] = the item).
    key_fields: dict[str, list[str]] | None = None
    # The summary sections each top-level list comes from (schemas.section_gate): a list whose sections all say
    # "None." is empty; when every list is, the document is the empty one and no model runs.
    summary_sections: list[str] | dict[str, list[str]] | None = Field(default=None, min_length=1)
    # Every date in the document is one the summary writes (schemas.date_grounding).
    grounded_dates: StrictBool = False
    # Lists decoded one summary bullet at a time (schemas.bullet_items): {"reminders": "exactly_one"}.
    item_per_bullet: dict[str, str] | None = Field(default=None, min_length=1)
    # Beginnings of bullets that give those lists no item: ["The assistant "] for the user's own tasks.
    skip_bullets: list[str] | None = Field(default=None, min_length=1)


@dataclass(frozen=True, eq=False)
class SystemDefinition:
    name: str
    description: str
    instructions: str
    schema: dict[str, Any]
    examples: tuple[dict[str, Any], ...]
    max_output_tokens: int
    version: str | None = None
    key_fields: dict[str, list[str]] | None = None
    summary_sections: tuple[str, ...] | dict[str, tuple[str, ...]] | None = None
    grounded_dates: bool = False
    item_per_bullet: dict[str, Count] | None = None
    skip_bullets: tuple[str, ...] = ()
    source: Path | None = field(default=None, compare=False)

    @property
    def schema_version(self) -> str:
        return content_version("schema", self.schema)

    @property
    def definition_version(self) -> str:
        return content_version("system", self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The definition in its file shape (what `from_dict` reads back)."""
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "instructions": self.instructions,
            "schema": self.schema,
            "examples": [dict(example) for example in self.examples],
            "max_output_tokens": self.max_output_tokens,
        }
        if self.version is not None:
            data["version"] = self.version
        if self.key_fields is not None:
            data["key_fields"] = {path: list(fields) for path, fields in self.key_fields.items()}
        if isinstance(self.summary_sections, dict):
            data["summary_sections"] = {name: list(headings) for name, headings in self.summary_sections.items()}
        elif self.summary_sections is not None:
            data["summary_sections"] = list(self.summary_sections)
        if self.grounded_dates:
            data["grounded_dates"] = True
        if self.item_per_bullet:
            data["item_per_bullet"] = dict(self.item_per_bullet)
        if self.skip_bullets:
            data["skip_bullets"] = list(self.skip_bullets)
        return data

    def empty_document(self) -> dict[str, Any]:
        """The document with each top-level array property empty and nothing else (an empty session's document)."""
        return empty_document(self.schema)

    def empty_lists(self, summary: str) -> list[str]:
        """The top-level lists that must be empty for `summary`: those whose summary sections all say "None."."""
        return empty_properties(summary, by_property(self.schema, self.summary_sections))

    def reads_nothing(self, summary: str) -> bool:
        """True when every top-level list must be empty for `summary` (empty_lists): its document is
        `empty_document()` without running the model."""
        lists = list_properties(self.schema)
        return bool(lists) and set(self.empty_lists(summary)) == set(lists)

    def schema_for(self, summary: str, bullet: str | None = None) -> dict[str, Any]:
        """The schema decoding follows for `summary`: the lists that must be empty allow no item and, with
        `grounded_dates`, dates are the summary's own, or those of `bullet` when it is one line of the summary read
        alone (a narrowing: every document it admits is valid against `schema`)."""
        schema = without_items(self.schema, self.empty_lists(summary))
        return grounded(schema, summary, bullet) if self.grounded_dates else schema

    def parts_for(self, summary: str) -> list[Part]:
        """The decodings that make the document of `summary` (schemas.bullet_items.parts): one per bullet of the
        `item_per_bullet` lists' sections and one for the other lists, or one whole-summary part."""
        gate = by_property(self.schema, self.summary_sections)
        per_bullet, keys = self.item_per_bullet or {}, self.key_fields or {}
        return parts(
            self.schema,
            summary,
            gate,
            per_bullet,
            keys,
            self.schema_for,
            timed=self.grounded_dates,
            skip=self.skip_bullets,
        )

    def examples_for(self, split: Split) -> tuple[dict[str, Any], ...]:
        """The examples of one split, in file order: each {"summary": str, "expected": JSON[, "split": str]}.

        An example's own "split" wins; one without takes `default_split(summary)`, so the three splits are
        disjoint and together hold every example. Raises ValueError for a split not in SPLITS.
        """
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return tuple(
            example for example in self.examples if (example.get("split") or default_split(example["summary"])) == split
        )

    def validator(self) -> Any:
        return output_validator(self.schema)

    def validation_errors(self, instance: Any) -> list[str]:
        """Every way `instance` breaks the schema, as readable lines (empty when valid)."""
        return [_describe(error) for error in self.validator().iter_errors(instance)]

    @classmethod
    def from_dict(cls, data: Any, source: Path | str | None = None) -> SystemDefinition:
        """Validate a definition given as data; raises SystemDefinitionError."""
        where = Path(source) if source is not None else Path("<definition>")
        if not isinstance(data, dict):
            raise SystemDefinitionError(where, f"expected a JSON object, got {json_type(data)}")
        try:
            parsed = _DefinitionFile.model_validate(data)
        except ValidationError as exc:
            raise SystemDefinitionError(where, _pydantic_problem(exc)) from None
        try:
            Draft202012Validator.check_schema(parsed.output_schema, format_checker=SCHEMA_FORMAT_CHECKER)
        except SchemaError as exc:
            at = "/".join(str(part) for part in exc.path) or "(root)"
            cause = f" ({exc.cause})" if exc.cause else ""
            raise SystemDefinitionError(
                where, f"schema is not valid JSON Schema at {at}: {exc.message}{cause}"
            ) from None
        if parsed.output_schema.get("type") != "object":
            got = json.dumps(parsed.output_schema.get("type"))
            raise SystemDefinitionError(
                where, f'schema must say "type": "object" at its root (a record is one JSON object), not {got}'
            )
        problems = grammar_problems(parsed.output_schema)
        if problems:
            raise SystemDefinitionError(where, "schema cannot be enforced while decoding: " + "; ".join(problems[:5]))
        for problem in key_field_problems(parsed.output_schema, parsed.key_fields or {}):
            raise SystemDefinitionError(where, problem)
        validator = output_validator(parsed.output_schema)
        for index, example in enumerate(parsed.examples):
            errors = [_describe(error) for error in validator.iter_errors(example.expected)]
            if errors:
                raise SystemDefinitionError(
                    where, f"examples[{index}].expected does not match the schema: {'; '.join(errors[:3])}"
                )
        for problem in summary_section_problems(parsed.output_schema, parsed.summary_sections, parsed.examples):
            raise SystemDefinitionError(where, problem)
        if parsed.grounded_dates:
            for problem in grounded_date_problems(parsed.output_schema, parsed.examples):
                raise SystemDefinitionError(where, problem)
        gate = by_property(parsed.output_schema, parsed.summary_sections)
        for problem in per_bullet_problems(parsed.output_schema, gate, parsed.item_per_bullet, parsed.skip_bullets):
            raise SystemDefinitionError(where, problem)
        return cls(
            name=parsed.name,
            description=parsed.description,
            instructions=parsed.instructions,
            schema=parsed.output_schema,
            examples=tuple(example.model_dump(exclude_defaults=True) for example in parsed.examples),
            max_output_tokens=parsed.max_output_tokens,
            version=parsed.version,
            key_fields=parsed.key_fields,
            summary_sections=_frozen_sections(parsed.summary_sections),
            grounded_dates=parsed.grounded_dates,
            item_per_bullet=parsed.item_per_bullet,  # type: ignore[arg-type]
            skip_bullets=tuple(parsed.skip_bullets or ()),
            source=Path(source) if source is not None else None,
        )


def grounded_date_problems(schema: dict[str, Any], examples: list[_Example]) -> list[str]:
    """Labelled examples whose expected document has a date its summary does not write (grounded_dates would
    forbid it), naming the first such date."""
    problems = []
    for index, example in enumerate(examples):
        narrowed = grounded(schema, example.summary)
        errors = list(output_validator(narrowed).iter_errors(example.expected)) if narrowed is not schema else []
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path)
            problems.append(
                f"grounded_dates: examples[{index}] expects {errors[0].instance!r} at {where}, a date its summary "
                "does not write"
            )
    return problems


def _frozen_sections(
    sections: list[str] | dict[str, list[str]] | None,
) -> tuple[str, ...] | dict[str, tuple[str, ...]] | None:
    if isinstance(sections, dict):
        return {name: tuple(headings) for name, headings in sections.items()}
    return tuple(sections) if sections is not None else None


def summary_section_problems(
    schema: dict[str, Any], sections: list[str] | dict[str, list[str]] | None, examples: list[_Example]
) -> list[str]:
    """Why `summary_sections` cannot be used (schemas.section_gate.gate_problems), or a schema whose empty
    document (every top-level list empty) is not valid when every list is decided by the sections."""
    if sections is None:
        return []
    problems = gate_problems(schema, sections, [(example.summary, example.expected) for example in examples])
    if problems:
        return problems
    if set(by_property(schema, sections)) == set(list_properties(schema)):
        empty = empty_document(schema)
        errors = [_describe(error) for error in output_validator(schema).iter_errors(empty)]
        if errors:
            return [f"summary_sections: the empty document {json.dumps(empty)} does not match the schema: {errors[0]}"]
    return []


def empty_document(schema: dict[str, Any]) -> dict[str, Any]:
    """{property: []} for each top-level property of `schema` whose type is "array"."""
    return {name: [] for name in list_properties(schema)}


def key_field_problems(schema: dict[str, Any], key_fields: dict[str, list[str]]) -> list[str]:
    """Why `key_fields` does not fit `schema`: a path that names no array ("tasks", "events[].attendees"), or a
    field its items (objects) do not declare. Empty when it fits."""
    problems = []
    for path, fields in key_fields.items():
        node: Any = schema
        for step, part in enumerate(path.split(".")):
            node = node.get("properties", {}).get(part.removesuffix("[]")) if isinstance(node, dict) else None
            if isinstance(node, dict) and part.endswith("[]"):
                node = node.get("items")
            if step == len(path.split(".")) - 1 and isinstance(node, dict) and node.get("type") == "array":
                node = node.get("items", {})
                break
        else:
            problems.append(f"key_fields: {path!r} is not an array of the schema")
            continue
        known = set(node.get("properties", {})) if isinstance(node, dict) else set()
        unknown = [name for name in fields if name not in known]
        if unknown:
            problems.append(f"key_fields: the items of {path!r} have no field {', '.join(map(repr, unknown))}")
    return problems


def _exact(number: float | int | Decimal) -> Fraction:
    """A JSON number as the decimal it was written as: a float by its shortest repr (0.6 -> 3/5, not 0.59999...)."""
    return Fraction(Decimal(repr(number))) if isinstance(number, float) else Fraction(number)


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: dict[str, Any]) -> Iterator[SchemaViolation]:
    """multipleOf in decimal arithmetic: 0.6 is a multiple of 0.05 (jsonschema's float division says it is not;
    its own overflow fallback is the same Fraction test)."""
    if validator.is_type(instance, "number") and (_exact(instance) / _exact(divisor)).denominator != 1:
        yield SchemaViolation(f"{instance!r} is not a multiple of {divisor}")


_PROPERTY_ESCAPE = re.compile(r"\\[pP]\{")


@functools.lru_cache(maxsize=1024)
def ecma_regex(pattern: str) -> regress.Regex:
    """`pattern` compiled in JSON Schema's dialect, ECMA-262 with the "u" flag as draft 2020-12 asks, so `\\p{L}`
    is any letter, as the edge's decoder reads it (Python's re differs: its `$` also matches before a final newline,
    its `\\d` matches any Unicode digit). A pattern valid only without "u" (`\\-` outside a class) is read without
    it, unless it uses `\\p{...}`. Raises regress.RegressError for a pattern that is neither."""
    try:
        return regress.Regex(pattern, "u")
    except regress.RegressError:
        if _PROPERTY_ESCAPE.search(pattern):
            raise
        return regress.Regex(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[SchemaViolation]:
    if validator.is_type(instance, "string") and linear_regex(pattern).search(instance) is None:
        yield SchemaViolation(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[SchemaViolation]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if linear_regex(pattern).search(key) is not None:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[SchemaViolation]:
    """additionalProperties, with the names patternProperties covers matched as ECMA-262 (jsonschema's own helper
    uses Python's re, so "a\\n" would count as matched by ^a$ and escape a false additionalProperties)."""
    if not validator.is_type(instance, "object"):
        return
    named = schema.get("properties", {})
    patterns = [linear_regex(pattern) for pattern in schema.get("patternProperties", {})]
    extras = [key for key in instance if key not in named and not any(p.search(key) is not None for p in patterns)]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False and extras:
        names = ", ".join(map(repr, sorted(extras)))
        yield SchemaViolation(
            f"Additional properties are not allowed ({names} {'was' if len(extras) == 1 else 'were'} unexpected)"
        )


# The metaschema's checker, with the "regex" format (pattern, patternProperties' names) checked as ECMA-262.
SCHEMA_FORMAT_CHECKER = FormatChecker()
SCHEMA_FORMAT_CHECKER.checks("regex", raises=regress.RegressError)(
    lambda pattern: not isinstance(pattern, str) or bool(ecma_regex(pattern))
)

OutputValidator = validators.extend(
    Draft202012Validator,
    {
        "additionalProperties": _additional_properties,
        "multipleOf": _multiple_of,
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
    },
)


def grammar_problems(schema: Any) -> list[str]:
    """What in `schema` constrained decoding cannot enforce or the cloud cannot check, one line each: a keyword with
    no grammar (uniqueItems), a format it does not know, a pattern with look-around or backreferences or one RE2
    cannot check in linear time (schemas.ecma_re2), a `$ref` to anything outside the schema. Empty when the schema
    can be enforced.

    The one check every loader of a definition applies (the edge's CLI and worker, the cloud's publish route).
    """
    problems: list[str] = []
    for at, node in _subschemas(schema, ""):
        where = at or "(root)"
        for keyword in sorted(UNENFORCEABLE_KEYWORDS & set(node)):
            problems.append(f"{keyword} at {where}")
        if isinstance(node.get("format"), str) and node["format"] not in ENFORCEABLE_FORMATS:
            problems.append(f"format {node['format']!r} at {where} (known: {', '.join(sorted(ENFORCEABLE_FORMATS))})")
        patterns = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        if isinstance(node.get("patternProperties"), dict):
            patterns += list(node["patternProperties"])
        for pattern in patterns:
            if _UNENFORCEABLE_PATTERN.search(pattern):
                problems.append(f"pattern {pattern!r} at {where} uses look-around or a backreference")
                continue
            try:
                linear_regex(pattern)
            except UncheckablePattern as exc:
                problems.append(f"pattern {pattern!r} at {where} cannot be checked in linear time: {exc}")
        if at and "$id" in node:
            problems.append(f"$id at {where}: one schema, its refs read from its root (give $id at the root only)")
        if isinstance(node.get("$ref"), str):
            problems += _ref_problems(schema, node["$ref"], where)
    return problems


def _ref_problems(schema: dict[str, Any], ref: str, where: str) -> list[str]:
    """A `$ref` must name a part of the schema itself (the edge's decoder fetches nothing, and the cloud's validator
    would fail on every document that reaches it), and must not lead back to itself before the document goes one
    level deeper (`#/$defs/a` = `{"$ref": "#/$defs/b"}`, b = a; or `{"anyOf": [..., {"$ref": <itself>}]}`):
    validation would never end."""
    if not ref.startswith("#"):
        return [f"$ref {ref!r} at {where} points outside the schema (only refs within it, such as #/$defs/item)"]
    resolver = Registry().with_resource(_SCHEMA_URI, DRAFT202012.create_resource(schema)).crawl().resolver(_SCHEMA_URI)
    try:
        target = resolver.lookup(ref).contents
        if _loops(resolver, target, [_node_at(schema, where)], set()):
            return [f"$ref {ref!r} at {where} leads into a loop of refs before the document goes one level deeper"]
    except Unresolvable:
        return [f"$ref {ref!r} at {where} names nothing in the schema"]
    return []


def _loops(resolver: Any, node: Any, path: list[Any], settled: set[int]) -> bool:
    """Whether `node` reaches a schema on `path` (or a loop) through what applies at the same place of the document:
    its `$ref` and its allOf/anyOf/oneOf branches (properties and items go one level deeper). `settled`: ids of
    schemas known to reach no loop."""
    if not isinstance(node, dict) or id(node) in settled:
        return False
    if any(node is on_path for on_path in path):
        return True
    nexts = [resolver.lookup(node["$ref"]).contents] if isinstance(node.get("$ref"), str) else []
    for keyword in ("allOf", "anyOf", "oneOf"):
        nexts += node[keyword] if isinstance(node.get(keyword), list) else []
    if any(_loops(resolver, each, [*path, node], settled) for each in nexts):
        return True
    settled.add(id(node))
    return False


def _node_at(schema: dict[str, Any], pointer: str) -> Any:
    """The schema object at a JSON Pointer `_subschemas` gave ("(root)" is the root)."""
    node: Any = schema
    for part in [] if pointer == "(root)" else pointer.lstrip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _subschemas(schema: Any, at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside `schema` with its JSON Pointer (values of enum, const and examples are data)."""
    if not isinstance(schema, dict):
        return
    yield at, schema
    for keyword in _SCHEMA_MAPS:
        if isinstance(schema.get(keyword), dict):
            for name, sub in schema[keyword].items():
                yield from _subschemas(sub, f"{at}/{keyword}/{name}")
    for keyword in _SCHEMA_LISTS:
        if isinstance(schema.get(keyword), list):
            for index, sub in enumerate(schema[keyword]):
                yield from _subschemas(sub, f"{at}/{keyword}/{index}")
    for keyword in _ONE_SCHEMA:
        if isinstance(schema.get(keyword), dict):
            yield from _subschemas(schema[keyword], f"{at}/{keyword}")


def output_validator(schema: dict[str, Any]) -> Any:
    """A draft 2020-12 validator that checks the CHECKED_FORMATS and decides multipleOf exactly."""
    return OutputValidator(schema, format_checker=FORMAT_CHECKER)


def _describe(error: Any) -> str:
    at = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"at {at}: {error.message}"


def _pydantic_problem(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        at = ".".join(str(part) for part in error["loc"]) or "(root)"
        problems.append(f"{at}: {error['msg']}")
    return "; ".join(problems)


def default_systems_dir() -> Path:
    return Path(__file__).resolve().parent / "systems"


def load_system(path: Path | str) -> SystemDefinition:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemDefinitionError(path, f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SystemDefinitionError(path, "file is not UTF-8 text") from None
    try:
        data = strict_loads(text)
    except InvalidJson as exc:
        raise SystemDefinitionError(path, f"invalid JSON: {exc}") from None
    definition = SystemDefinition.from_dict(data, source=path)
    if definition.name != path.stem:
        raise SystemDefinitionError(path, f"name {definition.name!r} does not match the file name {path.stem!r}")
    return definition


Check = Callable[[SystemDefinition], None]


@dataclass
class LoadedSystems:
    systems: dict[str, SystemDefinition]
    errors: list[SystemDefinitionError]


def load_systems(folder: Path | str | None = None, checks: Iterable[Check] = ()) -> LoadedSystems:
    """Load every `*.json` in `folder`; a broken file is reported in `errors`, the rest still load.

    Each of `checks` may raise ValueError to reject a definition that parsed (e.g. a grammar check).
    """
    folder = Path(folder) if folder is not None else default_systems_dir()
    if not folder.is_dir():
        return LoadedSystems({}, [SystemDefinitionError(folder, "systems folder does not exist")])
    checks = list(checks)
    systems: dict[str, SystemDefinition] = {}
    errors: list[SystemDefinitionError] = []
    for path in sorted(folder.glob("*.json")):
        try:
            definition = load_system(path)
            for check in checks:
                try:
                    check(definition)
                except ValueError as exc:
                    raise SystemDefinitionError(path, str(exc)) from None
        except SystemDefinitionError as exc:
            errors.append(exc)
            continue
        systems[definition.name] = definition
    return LoadedSystems(systems, errors)


def check_llguidance_grammar(definition: SystemDefinition) -> None:
    """Raise ValueError when llguidance cannot compile the schema (edge only: imports llguidance). It finds what
    grammar_problems cannot see, such as regular expression syntax only Python's re knows."""
    from llguidance import LLMatcher

    grammar = LLMatcher.grammar_from_json_schema(definition.schema)
    is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error or messages:
        raise ValueError("schema is not supported by llguidance: " + "; ".join(messages or ["unknown error"]))
