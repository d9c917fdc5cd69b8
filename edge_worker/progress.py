"""What the worker is doing, for the cloud: the job in flight (summaries, systems stored of each), its queues'
depths and its measured pace, sent in the heartbeat whenever the work changes (a job starts, a system is stored, the
worker goes idle) and periodically, never per token. Sending happens on the heartbeat thread, so the model thread
never waits for the network."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from edge_worker.logs import logger
from edge_worker.ports import QueueClient
from schemas.edge_api import MAX_JOB_SUMMARIES, EdgeJob, JobSummary, QueueDepths

PACE_WEIGHT = 0.3  # exponentially weighted mean of seconds per summary: the newest job counts this much
DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Progress:
    """Thread-safe: the model thread reports, the heartbeat thread reads `fields()` after `changed` is set."""

    def __init__(self, sqs: QueueClient, edge_queue_url: str, backfill_queue_url: str | None = None) -> None:
        self.sqs, self.edge_queue_url, self.backfill_queue_url = sqs, edge_queue_url, backfill_queue_url
        self.changed = threading.Event()
        self._lock = threading.Lock()
        self._job: dict[str, Any] | None = None
        self._pace: float | None = None

    # ----- the model thread reports -----
    def start(self, summaries: Sequence[tuple[str, int]], reason: str) -> None:
        """A job begins: (summary_id, systems to translate) of each summary in it."""
        with self._lock:
            self._job = {
                "summaries": {summary_id: [0, total] for summary_id, total in summaries},
                "reason": reason,
                "started_at": time.time(),
            }
        self.changed.set()

    def stored(self, summary_id: str) -> None:
        """One system of `summary_id` is stored (or kept for sending)."""
        with self._lock:
            entry = (self._job or {}).get("summaries", {}).get(summary_id)
            if entry is not None:
                entry[0] = min(entry[0] + 1, entry[1])
        self.changed.set()

    def finish(self) -> None:
        """The job ended: its time per summary feeds the measured pace; the worker is idle until the next one."""
        with self._lock:
            job, self._job = self._job, None
            if job and job["summaries"]:
                per_summary = (time.time() - job["started_at"]) / len(job["summaries"])
                self._pace = (
                    per_summary if self._pace is None else PACE_WEIGHT * per_summary + (1 - PACE_WEIGHT) * self._pace
                )
        self.changed.set()

    # ----- the heartbeat thread reads -----
    def fields(self) -> dict[str, Any]:
        """Heartbeat fields: state, job, queue, seconds_per_summary."""
        with self._lock:
            job = self._job
            snapshot = (
                EdgeJob(
                    summaries=[
                        JobSummary(summary_id=summary_id, done=done, total=total)
                        for summary_id, (done, total) in list(job["summaries"].items())[:MAX_JOB_SUMMARIES]
                    ],
                    reason=job["reason"],
                    started_at=_utc(job["started_at"]),
                )
                if job
                else None
            )
            pace = None if self._pace is None else round(self._pace, 3)
        return {
            "state": "translating" if snapshot else "idle",
            "job": snapshot,
            "queue": self.depths(),
            "seconds_per_summary": pace,
        }

    def depths(self) -> QueueDepths | None:
        """The queues' approximate depths (SQS GetQueueAttributes); None when SQS cannot be asked."""
        try:
            edge = self._attributes(self.edge_queue_url)
            backfill = self._attributes(self.backfill_queue_url) if self.backfill_queue_url else {}
        except Exception as error:  # network loss: the beat goes without depths
            logger.warning("queue depths unavailable", error=f"{type(error).__name__}: {error}")
            return None
        return QueueDepths(
            edge=edge.get("ApproximateNumberOfMessages"),
            edge_in_flight=edge.get("ApproximateNumberOfMessagesNotVisible"),
            backfill=backfill.get("ApproximateNumberOfMessages"),
        )

    def _attributes(self, url: str) -> dict[str, int]:
        answer = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=DEPTH_ATTRIBUTES)
        return {name: int(value) for name, value in answer.get("Attributes", {}).items()}
