"""Items decoded bullet by bullet: the summarizer writes each commitment, reminder, insight and open question as
its own "- " bullet (functions/summarize/prompt.py), so a system may have a top-level list decoded one bullet at a
time, which a small model does far better than a whole document at once.

A definition's `item_per_bullet` maps list properties to "exactly_one" (every bullet of the list's summary sections
is one item) or "at_most_one" (a bullet is one item or none); lists that share a section share its bullets (one
item in one of them). Its `skip_bullets` names the beginnings of bullets that give no item. For each bullet the
model reads a summary with the Overview and People as written, that one bullet under its heading and "None." under
every other heading; the item's key text fields quote the bullet (a run of its words from where the bullet, a
clause or a reported clause starts, the first one's case free; the title of an item with dates starts where a clause
does, stops at its end, and leaves out date phrases and an opening "The user will"). The other lists come from one
pass over the whole summary.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from schemas.date_grounding import local_ref, needs_date, summary_dates, summary_times
from schemas.section_gate import list_properties
from schemas.summary_format import NOTHING, SECTIONS, sections

Count = Literal["exactly_one", "at_most_one"]
COUNTS = ("exactly_one", "at_most_one")
CONTEXT = ("Overview", "People")  # sections every bullet's summary keeps as written
_BULLET = "- "
_DROPPED = re.compile(r'["“”\\]')  # quotes and backslashes are not part of a quoted word
_TRAILING = re.compile(r"^(.*?)([.,;:!?]*)$")
_CLAUSE_END = re.compile(r"[,;:]")  # punctuation that ends a clause
_SUBJECT = ("the", "user")  # how the summarizer opens the user's own commitments ("The user will ...")
# words between that subject and what the user does ("The user will", "The user already", "The user needs to")
_AFTER_SUBJECT = frozenset("will would shall should can could may might must has have had is was".split())  # noqa: SIM905
_AFTER_SUBJECT |= frozenset(("already", "also", "still", "needs", "wants", "plans", "hopes", "like", "to"))
_REPORTED = ("that", "whether")  # words that open a reported clause ("The user learned that ...")
# words a quoted run does not end on: "The reception is", "Send the slides to", "So" are not titles or labels
_FUNCTION_WORDS = (
    "a an the and or but so nor yet of to in on at by for with from into onto as than that which who whom whose "
    "is are was were be been being am has have had do does did will would shall should can could may might must "
    "their his her its our your my"
)
_NO_END = frozenset(_FUNCTION_WORDS.split())
MAX_WORDS = 60  # words in one quoted run: each nests a group, and llguidance allows 250 levels
_DATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}:[0-9]{2}")  # a date, a time of day or a UTC offset
# words that join a date phrase when the word after them is in it ("on Friday 2025-03-14 at 15:00 (+01:00)")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_JOINERS = ("on", "by", "at", "from", "to", "until", "till", "before", "after", "due", "every", "and", "or")
_DATE_JOINERS = frozenset(_WEEKDAYS + _JOINERS)
_FIXED = ("enum", "const", "pattern", "format")  # a string shaped by these is not quoted
# how bullets are read; a change here is a new prompt version, so records are translated again
BULLET_RULES = (
    "quotes: word runs from a sentence, clause or reported clause start, not ending on a function word; "
    "titles of items with dates: no date phrase, one clause, not the user as subject; "
    "a bullet without a date gives no date"
)


@dataclass(frozen=True)
class Part:
    """One decoding of a document: the summary text the model reads, the schema it decodes with, and the list
    properties whose items it gives."""

    summary: str
    schema: dict[str, Any]
    lists: tuple[str, ...]
    whole: bool = True  # reads the whole summary (its other properties are the document's)
    bullet: str | None = None  # the one bullet it reads, when not whole


def bullets(summary: str, heading: str) -> list[str]:
    """The "- " bullets under `heading` in `summary`, without the marker, in order (none under "None.")."""
    text = sections(summary).get(heading, "")
    return [line.strip()[len(_BULLET) :].strip() for line in text.splitlines() if line.strip().startswith(_BULLET)]


def bullet_summary(summary: str, heading: str, bullet: str) -> str:
    """`summary` reduced to one bullet: its Overview and People as written, `bullet` alone under `heading`, and
    "None." under each other heading it writes."""
    written = sections(summary)
    blocks = []
    for name in SECTIONS:
        if name not in written:
            continue
        body = written[name] if name in CONTEXT else f"{_BULLET}{bullet}" if name == heading else NOTHING
        blocks.append(f"{name}\n{body}")
    return "\n\n".join(blocks)


def quoted(bullet: str, max_length: int | None = None, *, title: bool = False) -> str | None:
    """A regular expression matching every run of at most MAX_WORDS words of `bullet`, at most `max_length`
    characters long: quotes dropped, each word's trailing punctuation optional, the first word's first letter in
    either case, ending on no function word ("is", "the", "so", ...) unless every run would. A run starts only
    where the bullet, a clause (`clause_starts`) or its reported clause (`reported_start`) does, read from
    punctuation and a few words, not at any word (a free start lets a model begin with a likely capital, "A", and be
    held to whatever word follows it, "Allowance of"). With `title` (the key text of an item with date fields: a
    phrase, not a sentence), a run holds no word of a date phrase (`date_phrase_words`: the date fields hold it),
    does not go past a word ending in "," ";" or ":", and starts where a clause does (`clause_starts`), or at the
    first word after a date phrase there. None when no run is left (a bullet without words, only a date phrase with `title`, or no start whose
    first word fits `max_length`)."""
    split = [_TRAILING.match(word).groups() for word in _DROPPED.sub("", bullet).split()]  # type: ignore[union-attr]
    words: list[tuple[str, str]] = [(core, end) for core, end in split if core or end]
    dated = date_phrase_words([core for core, _ in words]) if title else set()
    if title:  # a clause opening with a date phrase starts after it
        opening = {next((k for k in range(i, len(words)) if k not in dated), i) for i in clause_starts(words)}
    else:
        opening = {0, *clause_starts(words), *reported_start(words)}
    runs: list[tuple[list[str], list[bool]]] = []
    for i, (first, first_end) in enumerate(words):
        length, run = len(first) + len(first_end), [_word(first, first_end, capital=True)]
        ends = [first.casefold() not in _NO_END]
        if i in dated or i not in opening or (max_length is not None and length > max_length):
            continue
        for j, (core, end) in enumerate(words[i + 1 : i + MAX_WORDS], start=i + 1):
            if j in dated or (title and _CLAUSE_END.search(words[j - 1][1])):
                break
            length += 1 + len(core) + len(end)  # the longest text the run matches so far
            if max_length is not None and length > max_length:
                break
            run.append(_word(core, end))
            ends.append(core.casefold() not in _NO_END)
        runs.append((run, ends))
    starts = [run[0] + tail for run, ends in runs if (tail := _tail(run, ends)) is not None]
    if not starts:  # every run ends on a function word ("The user will"): take them as they are
        starts = [run[0] + tail for run, ends in runs if (tail := _tail(run, [True] * len(run))) is not None]
    return f"^(?:{'|'.join(dict.fromkeys(starts))})$" if starts else None


def _tail(run: Sequence[str], ends: Sequence[bool]) -> str | None:
    """What may follow the first word of `run` so that the quote ends on a word it may end on (`ends`); None when
    none can."""
    after: str | None = "" if ends[-1] else None
    for k in range(len(run) - 2, -1, -1):
        go_on = None if after is None else f" {run[k + 1]}{after}"
        if go_on is None:
            after = "" if ends[k] else None
        else:
            after = f"(?:{go_on})?" if ends[k] else f"(?:{go_on})"
    return after


def clause_starts(words: Sequence[tuple[str, str]]) -> set[int]:
    """The indexes of `words` ((word, trailing punctuation) pairs) where a clause starts: the first word, or the one
    after the bullet's subject when it is the user ("The user will", "The user needs to": the item is the user's
    own), and each word after one ending in "," ";" or ":"."""
    lowered = [core.casefold() for core, _ in words]
    first = 0
    if lowered[:2] == list(_SUBJECT) and len(words) > 2:
        first = 2
        while first < len(words) - 1 and lowered[first] in _AFTER_SUBJECT and not words[first - 1][1]:
            first += 1
    found = {first} if words else set()
    for i in range(1, len(words)):
        if _CLAUSE_END.search(words[i - 1][1]):
            found.add(i)
    return found


def reported_start(words: Sequence[tuple[str, str]]) -> set[int]:
    """The index of the word after the first "that" or "whether" of `words` ((word, trailing punctuation) pairs)
    with no punctuation after it, where a reported clause starts ("The user learned that bread goes stale" gives
    "bread"); empty when none. A word rule: a "that" that is a determiner ("dropped that plan") counts too."""
    lowered = [core.casefold() for core, _ in words]
    found = next((i + 1 for i, word in enumerate(lowered[:-1]) if word in _REPORTED and not words[i][1]), None)
    return set() if found is None else {found}


def date_phrase_words(words: Sequence[str]) -> set[int]:
    """The indexes of `words` that belong to a date phrase as the summarizer writes one ("by Friday 2025-03-14 at
    15:00 (+01:00)", "every Saturday at 16:00"): a word holding a date, time or offset, and each joining word or
    weekday right before one."""
    dated: set[int] = set()
    for i in reversed(range(len(words))):
        word = words[i]
        if _DATED.search(word) or (i + 1 in dated and word.strip("(),").casefold() in _DATE_JOINERS):
            dated.add(i)
    return dated


def _word(core: str, end: str, capital: bool = False) -> str:
    """One word of a quote: `core` as written (its first letter in either case with `capital`), `end` optional."""
    head = re.escape(core)
    if capital and core[:1].isalpha() and core[0].upper() != core[0].lower() and len(core[0].upper()) == 1:
        head = f"[{core[0].upper()}{core[0].lower()}]{re.escape(core[1:])}"
    return head + (f"(?:{re.escape(end)})?" if end else "")


def parts(
    schema: dict[str, Any],
    summary: str,
    gate: Mapping[str, Sequence[str]],
    per_bullet: Mapping[str, Count],
    key_fields: Mapping[str, Sequence[str]],
    narrow: Callable[[str, str | None], dict[str, Any]],
    *,
    timed: bool = False,
    skip: Sequence[str] = (),
) -> list[Part]:
    """The decodings that make the document of `summary`: one per bullet of the per-bullet lists' sections (in
    section order), then one for the other lists when any may have an item. `narrow(text, bullet)` is the system's
    schema for a summary text and the bullet it holds, or None (SystemDefinition.schema_for). With `timed` (dates
    grounded), a list whose items must have a date-time takes no item from a bullet that writes no time of day, nor
    one whose items must have a date from a bullet that writes no date. A bullet beginning with one of `skip` gives
    no item ("The assistant " for lists of the user's own items). A summary not in the section format, or a system
    without per-bullet lists, is one whole-summary part."""
    lists = list_properties(schema)
    per_bullet = {name: count for name, count in per_bullet.items() if name in lists and gate.get(name)}
    written = sections(summary)
    headings = [heading for heading in SECTIONS if any(heading in gate[name] for name in per_bullet)]
    if not per_bullet or not all(_in_bullets(written.get(heading)) for heading in headings):
        return [Part(summary, narrow(summary, None), tuple(lists))]
    dated = {name for name in per_bullet if _holds_date(schema, schema["properties"][name].get("items", {}))}
    found: list[Part] = []
    for heading in headings:
        here = [name for name in per_bullet if heading in gate[name]]
        for bullet in bullets(summary, heading):
            if bullet.startswith(tuple(skip)):
                continue
            text = bullet_summary(summary, heading, bullet)
            allowed = [name for name in here if not (timed and _undatable(schema, name, summary, bullet))]
            if not allowed:
                continue
            part_schema = _bullet_schema(narrow(text, bullet), allowed, per_bullet, key_fields, bullet, dated)
            found.append(Part(text, part_schema, tuple(here), whole=False, bullet=bullet))
    rest = [name for name in lists if name not in per_bullet]
    whole = narrow(summary, None)
    if any(whole["properties"][name].get("maxItems") != 0 for name in rest):
        found.append(Part(summary, _allowing(whole, rest), tuple(rest)))
    return found


def _undatable(schema: dict[str, Any], name: str, summary: str, bullet: str) -> bool:
    """True when the items of list `name` must hold a date-time and `bullet` writes no time of day, or a date
    (grounded on the summary's dates) and `bullet` writes none (schemas.date_grounding.grounded)."""
    items = schema["properties"][name].get("items")
    if not summary_times(bullet) and needs_date(schema, items, ("date-time",)):
        return True
    return bool(summary_dates(summary)) and not summary_dates(bullet) and needs_date(schema, items)


def _holds_date(root: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> bool:
    """True when `node` (a subschema of `root`) has a `format: date` or `date-time` string anywhere, through local
    "#/..." references."""
    if isinstance(node, list):
        return any(_holds_date(root, item, seen) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("format") in ("date", "date-time"):
        return True
    ref = node.get("$ref")
    if isinstance(ref, str) and ref not in seen and _holds_date(root, local_ref(root, ref), seen | {ref}):
        return True
    return any(_holds_date(root, value, seen) for key, value in node.items() if key not in ("enum", "const"))


def _in_bullets(text: str | None) -> bool:
    """True for a section written (not missing) as "None." or as "- " bullets only."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return text == NOTHING or (bool(lines) and all(line.startswith(_BULLET) for line in lines))


def _allowing(schema: dict[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    """`schema` with every top-level list but `allowed` allowed no item."""
    narrowed = copy.deepcopy(schema)
    for name in list_properties(narrowed):
        if name not in allowed:
            narrowed["properties"][name]["maxItems"] = 0
    return narrowed


def _bullet_schema(
    schema: dict[str, Any],
    here: Sequence[str],
    per_bullet: Mapping[str, Count],
    key_fields: Mapping[str, Sequence[str]],
    bullet: str,
    dated: Collection[str] = (),
) -> dict[str, Any]:
    """The schema of one bullet's part: at most one item (exactly one when each list here says so), in one of the
    lists `here`, its key text fields quoting `bullet` (as titles, `quoted(title=True)`, for the `dated` lists)."""
    alternatives = []
    for name in here:
        one = _allowing(schema, [name])
        target = one["properties"][name]
        if target.get("maxItems") == 0:  # the bullet's summary leaves this list empty
            continue
        target["maxItems"] = 1
        if all(per_bullet[other] == "exactly_one" for other in here):
            target["minItems"] = 1
        target["items"] = _quoting(target.get("items", {}), key_fields.get(name), bullet, name in dated)
        alternatives.append(one)
    if not alternatives:
        return _allowing(schema, [])
    if len(alternatives) == 1:
        return alternatives[0]
    shared: dict[str, Any] = {key: schema[key] for key in ("$schema", "$defs", "definitions") if key in schema}
    return {**shared, "anyOf": alternatives}  # "#/$defs/..." still resolves from the root


def _quoting(item: dict[str, Any], fields: Sequence[str] | None, bullet: str, title: bool) -> dict[str, Any]:
    """`item` with its plain string key fields (the item itself when it is a plain string and `fields` is [])
    limited to runs of the bullet's words (`quoted`; a title's runs with `title`)."""
    if fields is None:
        return item
    item = copy.deepcopy(item)
    targets = [item] if not fields else [item.get("properties", {}).get(name) for name in fields]
    for target in targets:
        if not isinstance(target, dict) or target.get("type") != "string" or any(key in target for key in _FIXED):
            continue
        pattern = quoted(bullet, target.get("maxLength"), title=title)
        if pattern is None or target.get("minLength", 0) > 1:
            continue
        target.pop("maxLength", None)
        target.pop("minLength", None)
        target["pattern"] = pattern
    return item


def merge(schema: dict[str, Any], documents: Sequence[tuple[Part, dict[str, Any]]]) -> tuple[dict[str, Any], int]:
    """The document made of each part's items for its lists (in part order; other properties from the whole-summary
    part, else the first)
    and the number of items left out because a list's `maxItems` was reached."""
    merged: dict[str, Any] = {}
    over = 0
    for part, document in documents:
        for name, value in document.items():
            if not isinstance(value, list):
                if part.whole or name not in merged:
                    merged[name] = value
                continue
            if name not in part.lists:
                merged.setdefault(name, [])
                continue
            items = merged.setdefault(name, [])
            room = schema["properties"][name].get("maxItems", len(items) + len(value)) - len(items)
            items.extend(value[: max(room, 0)])
            over += max(len(value) - max(room, 0), 0)
    return merged, over


def per_bullet_problems(
    schema: dict[str, Any],
    gate: Mapping[str, Sequence[str]],
    per_bullet: Mapping[str, str] | None,
    skip: Sequence[str] | None = None,
) -> list[str]:
    """Why `item_per_bullet` cannot be used: a count other than COUNTS, a list without summary sections, or
    `skip_bullets` without it (or with an empty beginning)."""
    problems = []
    if skip and not per_bullet:
        problems.append("skip_bullets: only lists named in item_per_bullet are read bullet by bullet")
    if any(not beginning.strip() for beginning in skip or ()):
        problems.append("skip_bullets: an empty beginning would skip every bullet")
    for name in list_properties(schema) if per_bullet else ():
        if name not in (per_bullet or {}) and schema["properties"][name].get("minItems", 0) > 0:
            problems.append(f"item_per_bullet: {name!r} has minItems, so a bullet's part cannot leave it empty")
    for name, count in (per_bullet or {}).items():
        if count not in COUNTS:
            problems.append(f"item_per_bullet: {name!r} must be one of {', '.join(COUNTS)}, not {count!r}")
        elif name not in gate:
            problems.append(f"item_per_bullet: {name!r} has no summary_sections to take bullets from")
    return problems
