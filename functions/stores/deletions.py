"""The deletions table: one item per user whose data is being (or was last) deleted, with the job's progress.

`found` counts sessions the job marked DELETING and `deleted` those it removed; each is advanced in the same
transaction as the session's own write, so the counts are exact however often the work is repeated. The job is
done once its listing is complete and every session it found is gone. A user's next job, once the last is done,
counts on from that job's figures, so the record of what was deleted stays.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.stores.dynamo import conditionally, table

RUNNING, DONE = "running", "done"


class DeletionStore:
    def __init__(self, table_name: str) -> None:
        self.table, self.table_name = table(table_name), table_name

    def get(self, user_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"user_id": user_id}, ConsistentRead=True).get("Item")

    def start(self, user_id: str, job_id: str, requested_by: str, now: str) -> bool:
        """Start a job unless one is running for this user; False when one is (the caller resumes it). A job after
        a finished one keeps its `found` and `deleted` and counts on from them."""
        return conditionally(
            self.table.update_item,
            Key={"user_id": user_id},
            UpdateExpression=(
                "SET job_id = :job, #s = :running, #found = if_not_exists(#found, :zero), "
                "#deleted = if_not_exists(#deleted, :zero), listed = :false, requested_by = :by, "
                "requested_at = :now, updated_at = :now REMOVE finished_at"
            ),
            ConditionExpression=Attr("user_id").not_exists() | Attr("status").eq(DONE),
            ExpressionAttributeNames={"#s": "status", "#found": "found", "#deleted": "deleted"},
            ExpressionAttributeValues={
                ":job": job_id,
                ":running": RUNNING,
                ":zero": 0,
                ":false": False,
                ":by": requested_by,
                ":now": now,
            },
        )

    def counted(self, user_id: str, job_id: str, counter: str) -> dict[str, Any]:
        """The TransactWriteItems entry that adds one to `counter` (found or deleted) of this job."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": {"user_id": user_id},
                "UpdateExpression": "ADD #counter :one",
                "ConditionExpression": "job_id = :job",
                "ExpressionAttributeNames": {"#counter": counter},
                "ExpressionAttributeValues": {":one": 1, ":job": job_id},
            }
        }

    def listed(self, user_id: str, job_id: str, now: str) -> None:
        """The job's listing found nothing more to mark."""
        conditionally(
            self.table.update_item,
            Key={"user_id": user_id},
            UpdateExpression="SET listed = :true, updated_at = :now",
            ConditionExpression=Attr("job_id").eq(job_id),
            ExpressionAttributeValues={":true": True, ":now": now},
        )

    def finish_if_complete(self, user_id: str, job_id: str, now: str) -> bool:
        """Mark the job done once it is listed and every session found is deleted; True when this call did."""
        return conditionally(
            self.table.update_item,
            Key={"user_id": user_id},
            UpdateExpression="SET #s = :done, finished_at = :now, updated_at = :now",
            ConditionExpression="job_id = :job AND listed = :true AND #deleted >= #found AND #s = :running",
            ExpressionAttributeNames={"#s": "status", "#deleted": "deleted", "#found": "found"},
            ExpressionAttributeValues={":done": DONE, ":now": now, ":job": job_id, ":true": True, ":running": RUNNING},
        )
