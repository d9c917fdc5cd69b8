"""Provision a moto server from the data resources declared in template.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from local_stack.intrinsics import Resolver
from local_stack.template import SamApp

# Resource types moto provisions through CloudFormation; everything else runs in-process.
PROVISIONED_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::S3::Bucket",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::Events::Archive",
)
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class Provisioned:
    stack_name: str
    resolver: Resolver
    physical: dict[str, str]  # logical id -> physical id (table name, queue url, bucket name)
    types: dict[str, str]

    def logical_of(self, resource_type: str) -> list[str]:
        return [name for name, kind in self.types.items() if kind == resource_type]


def aws_client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def provision(
    app: SamApp, endpoint: str, stack_name: str = "ssp-local", parameters: dict[str, str] | None = None
) -> Provisioned:
    data = {name: res for name, res in app.resources.items() if res["Type"] in PROVISIONED_TYPES}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": app.raw.get("Parameters", {}),
        "Resources": data,
    }
    cfn = aws_client("cloudformation", endpoint)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": str(value)} for key, value in (parameters or {}).items()],
    )
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }
    types = {name: res["Type"] for name, res in data.items()}
    physical.update(_event_buses(app, endpoint, stack_name, parameters or {}, types))
    resolver = _resolver(app, endpoint, stack_name, physical, types, parameters or {})
    _apply_properties_moto_ignores(app, endpoint, physical, types)
    return Provisioned(stack_name, resolver, physical, types)


def _event_buses(
    app: SamApp, endpoint: str, stack_name: str, parameters: dict[str, str], types: dict[str, str]
) -> dict[str, str]:
    """Bus names by logical id (moto's CloudFormation reports no physical id for them)."""
    names = Resolver({**app.parameter_defaults(), **parameters, "AWS::StackName": stack_name, "AWS::Region": REGION})
    existing = {bus["Name"] for bus in aws_client("events", endpoint).list_event_buses()["EventBuses"]}
    found = {}
    for name, kind in types.items():
        if kind == "AWS::Events::EventBus":
            bus = str(names.resolve(app.resources[name].get("Properties", {}).get("Name", name)))
            if bus not in existing:
                raise RuntimeError(f"event bus {name} ({bus}) was not created by moto")
            found[name] = bus
    return found


def _resolver(
    app: SamApp,
    endpoint: str,
    stack_name: str,
    physical: dict[str, str],
    types: dict[str, str],
    parameters: dict[str, str],
) -> Resolver:
    refs: dict[str, str] = {
        **app.parameter_defaults(),
        **parameters,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    attributes: dict[tuple[str, str], str] = {}
    ddb, sqs = aws_client("dynamodb", endpoint), aws_client("sqs", endpoint)
    for name, kind in types.items():
        pid = physical.get(name, "")
        if kind == "AWS::DynamoDB::Table":
            table = ddb.describe_table(TableName=pid)["Table"]
            refs[name] = pid
            attributes[(name, "Arn")] = table["TableArn"]
            if table.get("LatestStreamArn"):
                attributes[(name, "StreamArn")] = table["LatestStreamArn"]
        elif kind == "AWS::SQS::Queue":
            queue_name = pid.rstrip("/").rsplit("/", 1)[1]
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            refs[name] = url
            attributes[(name, "QueueName")] = queue_name
            attributes[(name, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
            attributes[(name, "QueueUrl")] = url
        elif kind == "AWS::S3::Bucket":
            refs[name] = pid
            attributes[(name, "Arn")] = f"arn:aws:s3:::{pid}"
        elif kind == "AWS::Events::EventBus":
            bus_name = pid.rsplit("/", 1)[-1]  # moto names a bus by its name or its ARN
            refs[name] = bus_name
            attributes[(name, "Name")] = bus_name
            attributes[(name, "Arn")] = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus_name}"
    for name in app.functions:
        refs[name] = f"{stack_name}-{name}"
        attributes[(name, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack_name}-{name}"
    for name, res in app.resources.items():
        if res["Type"] in ("AWS::ApiGatewayV2::Api", "AWS::Serverless::HttpApi", "AWS::IAM::ManagedPolicy"):
            refs.setdefault(name, f"local{name.lower()}")
    return Resolver(refs, attributes)


def _apply_properties_moto_ignores(app: SamApp, endpoint: str, physical: dict[str, str], types: dict[str, str]) -> None:
    """moto's CloudFormation ignores a few properties; apply them through the service APIs."""
    ddb, s3 = aws_client("dynamodb", endpoint), aws_client("s3", endpoint)
    for name, kind in types.items():
        props: dict[str, Any] = app.resources[name].get("Properties", {})
        if kind == "AWS::DynamoDB::Table" and props.get("TimeToLiveSpecification", {}).get("Enabled"):
            ttl = props["TimeToLiveSpecification"]
            ddb.update_time_to_live(
                TableName=physical[name],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        if kind == "AWS::S3::Bucket" and props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=physical[name], VersioningConfiguration={"Status": "Enabled"})
