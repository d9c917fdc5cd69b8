"""moto's server with DynamoDB's isolation: `python -m local_stack.moto_server -H HOST -p PORT`.

It also answers GET /_local_stack/queue-messages with every queued message (for the local stack's snapshots), and
GET /_local_stack/stored-counts with how much each table, bucket and queue holds (for tests that check that a request
changed nothing, in one request instead of a scan per table).

moto 5.2 applies a transaction's writes one by one after deep-copying every table it touches, and on a failed
condition puts those copies back: a write made meanwhile by another request is lost, and each transaction costs
time in proportion to the tables' size. Here DynamoDB requests run one at a time (as if each were atomic and
isolated, which DynamoDB guarantees per item and per transaction), and a transaction checks every condition
before it writes anything, keeping copies of only the items it writes.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto import server
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from local_stack.moto_process import QUEUE_MESSAGES_PATH, STORED_COUNTS_PATH

_DYNAMODB_TARGETS = ("DynamoDB_", "DynamoDBStreams_")
_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def queue_messages() -> dict[str, list[dict[str, Any]]]:
    """Every message of every queue, by queue name, in the order sent, whether visible, in flight or delayed.

    SQS has no way to read a message without receiving it (which counts towards its queue's redrive), so the local
    stack's snapshots read moto's queues here. Each message: body, message_attributes, group_id, deduplication_id.
    """
    from moto.sqs.models import sqs_backends

    found: dict[str, list[dict[str, Any]]] = {}
    for account in sqs_backends.values():
        for backend in account.values():
            for name, queue in backend.queues.items():
                with queue._messages_lock:
                    messages = list(queue._messages)
                found[name] = [
                    {
                        "body": message.body,
                        "message_attributes": message.message_attributes,
                        "group_id": message.group_id,
                        "deduplication_id": message.deduplication_id,
                    }
                    for message in messages
                ]
    return found


def stored_counts() -> dict[str, dict[str, int]]:
    """{"tables": items per DynamoDB table, "buckets": object versions and delete markers per S3 bucket, "queues":
    messages per SQS queue (visible, in flight or delayed)}, by name, read from moto's memory."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    counts: dict[str, dict[str, int]] = {"tables": {}, "buckets": {}, "queues": {}}
    for account in dynamodb_backends.values():
        for backend in account.values():
            counts["tables"].update({name: len(table) for name, table in backend.tables.items()})
    for account in s3_backends.values():
        for backend in account.values():
            for name, bucket in backend.buckets.items():
                counts["buckets"][name] = sum(len(versions) for _, versions in bucket.keys.lists())
    for account in sqs_backends.values():
        for backend in account.values():
            for name, queue in backend.queues.items():
                with queue._messages_lock:
                    counts["queues"][name] = len(queue._messages)
    return counts


def _json_response(start_response: Callable, value: Any) -> list[bytes]:
    body = json.dumps(value, default=str).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _isolated(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Callable) -> Iterable:
    if environ.get("PATH_INFO") == QUEUE_MESSAGES_PATH:
        return _json_response(start_response, queue_messages())
    if environ.get("PATH_INFO") == STORED_COUNTS_PATH:
        with _lock:  # between DynamoDB requests, as each of them runs alone
            return _json_response(start_response, stored_counts())
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(_DYNAMODB_TARGETS):
        return _dispatch(self, environ, start_response)
    with _lock:
        return list(_dispatch(self, environ, start_response))


def _target(backend: DynamoDBBackend, operation: str, op: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    table = backend.get_table(op["TableName"])
    if operation != "Put":
        return table, op["Key"]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return table, key


def _condition_error(backend: DynamoDBBackend, operation: str, op: dict[str, Any], current: Any) -> tuple:
    expression = op.get("ConditionExpression")
    if expression is None:
        return (None, None, None)
    condition = dynamodb_models.get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if condition.expr(current):
        return (None, None, None)
    old = current.to_json()["Attributes"] if current and op.get("ReturnValuesOnConditionCheckFailure") else None
    return ("ConditionalCheckFailed", "The conditional request failed", old)


def _restore(backend: DynamoDBBackend, table: Any, key: dict[str, Any], item: Any, stream_length: int | None) -> None:
    hash_key, range_key = backend.get_keys_value(table, key)
    if range_key is not None:
        if item is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item
    if stream_length is not None:
        del table.stream_shard.items[stream_length:]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """All conditions are checked against the state before the transaction, then every write is applied."""
    if len(transact_items) > 100:
        raise dynamodb_models.TooManyTransactionsException()
    plan, errors, seen = [], [], set()
    for entry in transact_items:
        if len(entry) > 1:
            raise dynamodb_models.TransactWriteSingleOpException
        operation, op = next(iter(entry.items()))
        if operation not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table, key = _target(self, operation, op)
        identity = (op["TableName"], str(dict(sorted(key.items()))))
        if identity in seen:
            raise dynamodb_models.MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(op["TableName"], key)
        errors.append(_condition_error(self, operation, op, current))
        plan.append((operation, op, table, key, current))
    if any(code for code, _, _ in errors):
        raise dynamodb_models.TransactionCanceledException(errors)
    undo = []
    try:
        for operation, op, table, key, current in plan:
            if operation == "ConditionCheck":
                continue
            stream = len(table.stream_shard.items) if table.stream_shard is not None else None
            undo.append((table, key, copy.deepcopy(current), stream))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if operation == "Put":
                self.put_item(op["TableName"], op["Item"], expression_attribute_names=names)
            elif operation == "Delete":
                self.delete_item(op["TableName"], key)
            else:
                self.update_item(
                    op["TableName"],
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table, key, item, stream in reversed(undo):
            _restore(self, table, key, item, stream)
        raise


def main() -> None:
    DomainDispatcherApplication.__call__ = _isolated  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    server.main()


if __name__ == "__main__":
    main()
