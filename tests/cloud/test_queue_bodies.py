"""What the functions send to SQS is a body SQS takes, whatever characters a user typed."""

from __future__ import annotations

import re

import boto3
import pytest
from moto import mock_aws

from functions.queues import QueryQueue
from schemas.contracts import QueryEmbeddingRequest

# SendMessage's allowed characters (moto does not check them; SQS refuses the call with InvalidMessageContents).
SQS_ALLOWED = re.compile("^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")


def _refuse_what_sqs_refuses(params, **_):
    if not SQS_ALLOWED.match(params["MessageBody"]):
        raise ValueError("InvalidMessageContents: the body holds characters SQS does not allow")


@pytest.mark.parametrize("text", ["lunch \ufffe plans", "tab\x07bell", "emoji 🦷 and \uffff", "ok"])
def test_a_search_query_with_characters_sqs_refuses_is_sent_escaped_and_read_back_unchanged(text):
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.meta.events.register("before-parameter-build.sqs.SendMessage", _refuse_what_sqs_refuses)
        url = sqs.create_queue(QueueName="queries")["QueueUrl"]
        request = QueryEmbeddingRequest(query_id="q-1", text=text, embedding_version="embedding-model:e1")
        QueryQueue(url, sqs).send(request)
        [message] = sqs.receive_message(QueueUrl=url)["Messages"]
        assert QueryEmbeddingRequest.model_validate_json(message["Body"]) == request
