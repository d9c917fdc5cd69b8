"""The search index: one row per summary, its terms (CSR) and its embedding, as numpy arrays that round-trip via npz."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import chain

import numpy as np

from functions.search.text import terms as text_terms
from schemas.patterns import DAY_PATTERN

FORMAT = 1
MAX_TF = np.iinfo(np.uint16).max
_DAY = re.compile(DAY_PATTERN)
_ARRAYS = ("ids", "sources", "days", "doc_len", "term_ptr", "terms", "tfs", "vectors", "has_vector")


def day_number(day: str | None) -> int:
    """'YYYY-MM-DD' -> yyyymmdd as an int; None or '' -> 0 (unknown)."""
    if not day:
        return 0
    try:
        if not _DAY.fullmatch(day):
            raise ValueError
        parsed = date.fromisoformat(day)
    except (TypeError, ValueError):
        raise ValueError(f"not a date YYYY-MM-DD: {day!r}") from None
    return parsed.year * 10000 + parsed.month * 100 + parsed.day


def day_text(number: int) -> str | None:
    """yyyymmdd -> 'YYYY-MM-DD'; 0 -> None."""
    number = int(number)
    return f"{number // 10000:04d}-{number // 100 % 100:02d}-{number % 100:02d}" if number else None


@dataclass(frozen=True)
class IndexedDocument:
    summary_id: str
    source: str
    day: str | None  # "YYYY-MM-DD"
    text: str


def _strings(values: Sequence[str] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=str) if len(values) else np.empty(0, dtype="<U1")


def _wider(strings: np.ndarray, docs: list[IndexedDocument], field: str) -> np.dtype:
    """A unicode dtype wide enough for the array's strings and the documents' field."""
    return np.result_type(strings.dtype, _strings([getattr(doc, field) for doc in docs]).dtype)


def _count_terms(docs: list[IndexedDocument]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSR pointers, distinct sorted terms and their counts per document, and each document's number of terms."""
    term_lists = [text_terms(doc.text) for doc in docs]
    lengths = np.fromiter(map(len, term_lists), dtype=np.int64, count=len(docs))
    flat = np.fromiter(chain.from_iterable(term_lists), dtype=np.uint64, count=int(lengths.sum()))
    # One unique over (document, term) pairs counts every document's terms at once.
    doc_of = np.repeat(np.arange(len(docs), dtype=np.uint64), lengths)
    keys, counts = np.unique((doc_of << np.uint64(32)) | flat, return_counts=True)
    per_doc = np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=len(docs))
    ptr = np.concatenate([[0], np.cumsum(per_doc)]).astype(np.int64)
    terms = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return ptr, terms, np.minimum(counts, MAX_TF).astype(np.uint16), lengths.astype(np.float32)


def _entry_mask(term_ptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A boolean mask over CSR entries selecting the entries of the rows selected by a boolean row mask."""
    return np.repeat(rows, np.diff(term_ptr))


@dataclass(frozen=True, eq=False)
class SearchIndex:
    """Rows in no particular order; `position` finds one. Arrays are read-only: every change returns a new index."""

    ids: np.ndarray  # unicode
    sources: np.ndarray  # unicode, "" for a row whose document has not arrived yet
    days: np.ndarray  # int32 yyyymmdd, 0 when unknown
    doc_len: np.ndarray  # float32, terms in the document
    term_ptr: np.ndarray  # int64, n + 1: row i's entries are [term_ptr[i], term_ptr[i + 1])
    terms: np.ndarray  # uint32, each row's distinct terms
    tfs: np.ndarray  # uint16, how often each of them occurs in the row
    vectors: np.ndarray  # float32 (n, d), unit rows; zero rows where has_vector is False
    has_vector: np.ndarray  # bool
    embedding_version: str = ""

    def __post_init__(self) -> None:
        typed = {
            "ids": str,
            "sources": str,
            "days": np.int32,
            "doc_len": np.float32,
            "term_ptr": np.int64,
            "terms": np.uint32,
            "tfs": np.uint16,
            "vectors": np.float32,
            "has_vector": bool,
        }
        for name, dtype in typed.items():
            array: np.ndarray = np.asarray(getattr(self, name), dtype=dtype)
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        n = len(self.ids)
        if any(len(getattr(self, name)) != n for name in ("sources", "days", "doc_len", "has_vector")):
            raise ValueError("search index arrays disagree on the number of rows")
        if (
            self.term_ptr.shape != (n + 1,)
            or self.term_ptr[0] != 0
            or self.term_ptr[-1] != len(self.terms)
            or len(self.tfs) != len(self.terms)
            or np.any(np.diff(self.term_ptr) < 0)
        ):
            raise ValueError("search index term pointers do not match its terms")
        if self.vectors.ndim != 2 or len(self.vectors) != n:
            raise ValueError(f"search index vectors have shape {self.vectors.shape}, expected ({n}, d)")

    @classmethod
    def empty(cls) -> SearchIndex:
        return cls(
            ids=_strings([]),
            sources=_strings([]),
            days=np.zeros(0),
            doc_len=np.zeros(0),
            term_ptr=np.zeros(1),
            terms=np.zeros(0),
            tfs=np.zeros(0),
            vectors=np.zeros((0, 0)),
            has_vector=np.zeros(0),
        )

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {summary_id: row for row, summary_id in enumerate(self.ids.tolist())}

    @cached_property
    def has_document(self) -> np.ndarray:
        """Rows whose document arrived (a vector can come first)."""
        arrived = self.sources != ""
        arrived.flags.writeable = False
        return arrived

    @property
    def dimensions(self) -> int:
        return self.vectors.shape[1]

    def position(self, summary_id: str) -> int | None:
        return self._positions.get(summary_id)

    def _inherit_positions(self, before: SearchIndex, appended: list[str]) -> None:
        """Reuse the earlier index's id lookup when rows were only appended (cheaper than rebuilding it)."""
        if "_positions" in before.__dict__:
            positions = dict(before._positions) if appended else before._positions
            positions.update((summary_id, len(before) + i) for i, summary_id in enumerate(appended))
            self.__dict__["_positions"] = positions

    def row_terms(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The row's distinct terms (sorted) and their counts."""
        start, end = self.term_ptr[row], self.term_ptr[row + 1]
        return self.terms[start:end], self.tfs[start:end]

    # ----- changes -----
    def with_documents(self, docs: Iterable[IndexedDocument]) -> SearchIndex:
        """Add or replace documents by summary_id; a replaced row keeps its place and its vector."""
        latest = {doc.summary_id: doc for doc in docs}
        if not latest:
            return self
        if unnamed := [doc.summary_id for doc in latest.values() if not doc.source or not doc.summary_id]:
            raise ValueError(f"documents need a summary_id and a source; missing for {unnamed[:5]}")
        replaced = sorted(
            (row, doc.summary_id) for doc in latest.values() if (row := self.position(doc.summary_id)) is not None
        )
        rows = [row for row, _ in replaced]
        added = [doc for doc in latest.values() if self.position(doc.summary_id) is None]
        new = [latest[summary_id] for _, summary_id in replaced] + added
        new_ptr, new_terms, new_tfs, new_lengths = _count_terms(new)

        # Stitch the old entries around the replaced rows: one slice per gap, then the added rows at the end.
        term_pieces, tf_pieces, start = [], [], 0
        for i, row in enumerate(rows):
            old = slice(self.term_ptr[start], self.term_ptr[row])
            fresh = slice(new_ptr[i], new_ptr[i + 1])
            term_pieces += [self.terms[old], new_terms[fresh]]
            tf_pieces += [self.tfs[old], new_tfs[fresh]]
            start = row + 1
        old, fresh = slice(self.term_ptr[start], None), slice(new_ptr[len(rows)], None)
        term_pieces += [self.terms[old], new_terms[fresh]]
        tf_pieces += [self.tfs[old], new_tfs[fresh]]
        lengths = np.diff(self.term_ptr)
        lengths[rows] = np.diff(new_ptr)[: len(rows)]
        lengths = np.concatenate([lengths, np.diff(new_ptr)[len(rows) :]])

        sources, days, doc_len = (
            self.sources.astype(_wider(self.sources, new, "source")),
            self.days.copy(),
            self.doc_len.copy(),
        )
        for i, row in enumerate(rows):
            sources[row], days[row], doc_len[row] = new[i].source, day_number(new[i].day), new_lengths[i]
        m = len(added)
        updated = SearchIndex(
            ids=np.concatenate([self.ids, _strings([doc.summary_id for doc in added])]) if m else self.ids,
            sources=np.concatenate([sources, _strings([doc.source for doc in added])]),
            days=np.concatenate([days, np.asarray([day_number(doc.day) for doc in added], dtype=np.int32)]),
            doc_len=np.concatenate([doc_len, new_lengths[len(rows) :]]),
            term_ptr=np.concatenate([[0], np.cumsum(lengths)]),
            terms=np.concatenate(term_pieces),
            tfs=np.concatenate(tf_pieces),
            vectors=np.concatenate([self.vectors, np.zeros((m, self.dimensions), dtype=np.float32)])
            if m
            else self.vectors,
            has_vector=np.concatenate([self.has_vector, np.zeros(m, dtype=bool)]) if m else self.has_vector,
            embedding_version=self.embedding_version,
        )
        updated._inherit_positions(self, [doc.summary_id for doc in added])
        return updated

    def with_vectors(self, items: Iterable[tuple[str, str, Sequence[float] | np.ndarray]]) -> SearchIndex:
        """Set (summary_id, embedding_version, vector) rows; the caller passes only the version it wants active.

        The last item's version becomes the index's version. When it differs from the current one, every stored
        vector is dropped (vectors of two models are not comparable) and items of any other version are ignored.
        An id not in the index gets a row without a document; its document fills it in later.
        """
        items = list(items)
        if not items:
            return self
        version = items[-1][1]
        if not isinstance(version, str) or not version:
            raise ValueError(f"embedding_version must be a non-empty string, got {version!r}")
        chosen = {summary_id: vector for summary_id, item_version, vector in items if item_version == version}
        switching = version != self.embedding_version
        dimensions = None if switching or not self.dimensions else self.dimensions
        rows_in = []
        for summary_id, vector in chosen.items():
            try:
                row = np.asarray(vector, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"vector of {summary_id} is not a list of numbers") from None
            if row.ndim != 1 or not row.size:
                raise ValueError(
                    f"vector of {summary_id} must be a non-empty flat list of numbers, got shape {row.shape}"
                )
            dimensions = dimensions or row.size
            if row.size != dimensions:
                raise ValueError(
                    f"vector of {summary_id} has {row.size} dimensions; {version} vectors in this "
                    f"index have {dimensions}"
                )
            rows_in.append(row)
        matrix = np.stack(rows_in)
        finite = np.asarray(np.isfinite(matrix).all(axis=1))
        norms = np.linalg.norm(np.where(finite[:, None], matrix, 0.0), axis=1)
        for i, summary_id in enumerate(chosen):
            if not finite[i]:
                raise ValueError(f"vector of {summary_id} contains NaN or infinity")
            if norms[i] == 0:
                raise ValueError(f"vector of {summary_id} is all zeros (it has no direction)")
        matrix = (matrix / norms[:, None]).astype(np.float32)
        width = matrix.shape[1]

        missing = [summary_id for summary_id in chosen if self.position(summary_id) is None]
        n, m = len(self), len(missing)
        if switching:
            vectors, has_vector = np.zeros((n + m, width), dtype=np.float32), np.zeros(n + m, dtype=bool)
        else:
            vectors = np.concatenate([self.vectors, np.zeros((m, width), dtype=np.float32)])
            has_vector = np.concatenate([self.has_vector, np.zeros(m, dtype=bool)])
        appended = {summary_id: n + i for i, summary_id in enumerate(missing)}
        rows = [
            appended[summary_id] if (position := self.position(summary_id)) is None else position
            for summary_id in chosen
        ]
        vectors[rows], has_vector[rows] = matrix, True
        updated = SearchIndex(
            ids=np.concatenate([self.ids, _strings(missing)]) if m else self.ids,
            sources=np.concatenate([self.sources, _strings([""] * m)]) if m else self.sources,
            days=np.concatenate([self.days, np.zeros(m, dtype=np.int32)]),
            doc_len=np.concatenate([self.doc_len, np.zeros(m, dtype=np.float32)]),
            term_ptr=np.concatenate([self.term_ptr, np.full(m, self.term_ptr[-1])]),
            terms=self.terms,
            tfs=self.tfs,
            vectors=vectors,
            has_vector=has_vector,
            embedding_version=version,
        )
        updated._inherit_positions(self, missing)
        return updated

    def without(self, ids: Iterable[str]) -> SearchIndex:
        """The index without these rows (ids not in it are ignored)."""
        rows = [row for summary_id in set(ids) if (row := self.position(summary_id)) is not None]
        if not rows:
            return self
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        return self._select(keep)

    def _select(self, keep: np.ndarray) -> SearchIndex:
        """Only the rows where `keep` is True, in their order."""
        if keep.all():
            return self
        entries = _entry_mask(self.term_ptr, keep)
        lengths = np.diff(self.term_ptr)[keep]
        return SearchIndex(
            ids=self.ids[keep],
            sources=self.sources[keep],
            days=self.days[keep],
            doc_len=self.doc_len[keep],
            term_ptr=np.concatenate([[0], np.cumsum(lengths)]),
            terms=self.terms[entries],
            tfs=self.tfs[entries],
            vectors=self.vectors[keep],
            has_vector=self.has_vector[keep],
            embedding_version=self.embedding_version,
        )

    # ----- storage -----
    def to_bytes(self) -> bytes:
        """A compressed npz without pickled objects; vectors stored as float16."""
        buffer = io.BytesIO()
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        arrays["vectors"] = self.vectors.astype(np.float16)
        np.savez_compressed(
            buffer, format=np.array(FORMAT), embedding_version=np.array(self.embedding_version), **arrays
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SearchIndex:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                if int(stored["format"]) != FORMAT:
                    raise ValueError(f"format {int(stored['format'])}, expected {FORMAT}")
                arrays = {name: stored[name] for name in _ARRAYS}
                version = str(stored["embedding_version"][()])
        except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"not a search index file: {error}") from error
        vectors = arrays["vectors"].astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        arrays["vectors"] = np.divide(vectors, norms, out=vectors, where=norms > 0)  # undo float16 rounding
        return cls(**arrays, embedding_version=version)
