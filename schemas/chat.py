"""Chat formats a turn may use: Anthropic Messages content blocks and OpenAI chat message parts and tool calls.

Known block types are checked for the fields that give them meaning; any other field, and a block of a type not
listed here, is kept exactly as sent. `readable_content` renders a turn's content for the summarizer, with
every non-text part as a bracketed placeholder. Shapes: the Anthropic Messages API's content blocks and the
OpenAI Chat Completions API's message parts (their API references).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag

MAX_BLOCKS = 500  # content blocks in one turn
MAX_SHOWN_CHARS = 2000  # of a tool's input or arguments in a placeholder


def _omitted(value: Any) -> bool:
    return value is None


class Block(BaseModel):
    """A content block or part: fields beyond the checked ones (cache_control, citations, ...) are kept."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1, max_length=100)


# ----- Anthropic Messages content blocks -----
class TextBlock(Block):
    type: Literal["text"]
    text: str


class ImageBlock(Block):
    """`source` is {type: base64, media_type, data}, {type: url, url} or {type: file, file_id}."""

    type: Literal["image"]
    source: dict[str, Any]


class DocumentBlock(Block):
    type: Literal["document"]
    source: dict[str, Any]


class ToolUseBlock(Block):
    type: Literal["tool_use"]
    id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=256)
    input: dict[str, Any]


class ToolResultBlock(Block):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1, max_length=256)
    content: str | list[ContentBlock] | None = Field(default=None, exclude_if=_omitted)
    is_error: StrictBool | None = Field(default=None, exclude_if=_omitted)


class ThinkingBlock(Block):
    type: Literal["thinking"]
    thinking: str


class RedactedThinkingBlock(Block):
    type: Literal["redacted_thinking"]
    data: str


# ----- OpenAI chat message parts -----
class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str = Field(min_length=1)


class ImageUrlPart(Block):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudioPart(Block):
    type: Literal["input_audio"]
    input_audio: dict[str, Any]


class FilePart(Block):
    type: Literal["file"]
    file: dict[str, Any]


class RefusalPart(Block):
    type: Literal["refusal"]
    refusal: str


class OtherBlock(Block):
    """A block of a type this version does not know: kept as sent, shown by its type."""


_KNOWN: dict[str, type[Block]] = {
    "text": TextBlock,
    "image": ImageBlock,
    "document": DocumentBlock,
    "tool_use": ToolUseBlock,
    "tool_result": ToolResultBlock,
    "thinking": ThinkingBlock,
    "redacted_thinking": RedactedThinkingBlock,
    "image_url": ImageUrlPart,
    "input_audio": InputAudioPart,
    "file": FilePart,
    "refusal": RefusalPart,
}


def _block_type(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _KNOWN else "other"


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")]
    | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ToolResultBlock, Tag("tool_result")]
    | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[RedactedThinkingBlock, Tag("redacted_thinking")]
    | Annotated[ImageUrlPart, Tag("image_url")]
    | Annotated[InputAudioPart, Tag("input_audio")]
    | Annotated[FilePart, Tag("file")]
    | Annotated[RefusalPart, Tag("refusal")]
    | Annotated[OtherBlock, Tag("other")],
    Discriminator(_block_type),
]
ToolResultBlock.model_rebuild()


class FunctionCall(BaseModel):
    """OpenAI's function call: `arguments` is the model's JSON text, kept as sent (it may not parse)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=256)
    arguments: str


class ToolCall(BaseModel):
    """One entry of an OpenAI assistant message's `tool_calls`."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=1, max_length=100)
    function: FunctionCall | None = Field(default=None, exclude_if=_omitted)


# ----- what the summarizer reads -----
def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + " ..."


def _size(data: Any) -> str:
    return f"{len(data) * 3 // 4 // 1024} KB" if isinstance(data, str) else "unknown size"


def _source(source: dict[str, Any]) -> str:
    kind = source.get("type")
    if kind == "url":
        return str(source.get("url"))
    if kind == "file":
        return f"file {source.get('file_id')}"
    if kind == "base64":
        return f"{source.get('media_type', 'data')}, {_size(source.get('data'))} inline"
    return f"{kind} source"


def _image_url(url: str) -> str:
    if url.startswith("data:"):
        media = url[5:].split(";", 1)[0] or "data"
        return f"{media}, {_size(url.split(',', 1)[-1])} inline"
    return url


def _block_text(block: Block) -> str:
    if isinstance(block, TextBlock):
        return block.text
    if isinstance(block, ImageBlock):
        return f"[image: {_source(block.source)}]"
    if isinstance(block, DocumentBlock):
        title = (block.model_extra or {}).get("title")
        named = f' "{title}"' if title else ""
        if block.source.get("type") == "text":
            return f"[document{named}]\n{block.source.get('data', '')}"
        return f"[document{named}: {_source(block.source)}]"
    if isinstance(block, ToolUseBlock):
        return f"[tool call {block.name} (id {block.id}): {_shown(block.input)}]"
    if isinstance(block, ToolResultBlock):
        error = " (error)" if block.is_error else ""
        return f"[tool result for {block.tool_use_id}{error}: {readable_content(block.content)}]"
    if isinstance(block, ThinkingBlock):
        return f"[thinking: {block.thinking}]"
    if isinstance(block, RedactedThinkingBlock):
        return "[redacted thinking]"
    if isinstance(block, ImageUrlPart):
        return f"[image: {_image_url(block.image_url.url)}]"
    if isinstance(block, InputAudioPart):
        return f"[audio: {block.input_audio.get('format', 'audio')}, {_size(block.input_audio.get('data'))} inline]"
    if isinstance(block, FilePart):
        name = block.file.get("filename") or block.file.get("file_id") or "inline data"
        return f"[file: {name}]"
    if isinstance(block, RefusalPart):
        return f"[refusal: {block.refusal}]"
    return f"[{block.type} block]"


def readable_content(content: str | list[Any] | None) -> str:
    """A turn's content as text: text blocks as they are, every other part as a bracketed placeholder."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(_block_text(block) for block in content)


def tool_call_text(calls: list[ToolCall] | None, legacy: FunctionCall | None = None) -> list[str]:
    """Placeholders for an OpenAI message's tool calls (and the older single function_call)."""
    lines = [
        f"[tool call {call.function.name} (id {call.id}): {_shown(call.function.arguments)}]"
        if call.function
        else f"[{call.type} tool call (id {call.id}): {_shown(call.model_extra or {})}]"
        for call in calls or []
    ]
    if legacy:
        lines.append(f"[function call {legacy.name}: {_shown(legacy.arguments)}]")
    return lines


# Characters that render as nothing though Unicode does not class them as spaces or format characters: Hangul
# fillers, the braille blank, the combining grapheme joiner and variation selectors (Unicode's
# Default_Ignorable_Code_Point, DerivedCoreProperties.txt, and the blank-looking fillers).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f") | {chr(c) for c in range(0xFE00, 0xFE10)}


def is_blank(text: str) -> bool:
    """True for text a reader sees nothing in: only whitespace, control and format characters (zero-width space,
    byte order mark, bidi marks) and the few others that render as nothing (_INVISIBLE)."""
    return all(char.isspace() or char in _INVISIBLE or unicodedata.category(char) in ("Cc", "Cf") for char in text)


Role = Literal["user", "assistant", "system", "developer", "tool", "function"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
