"""The edge's structured logger: Powertools' JSON lines, with the same fields as the Lambda functions' logs."""

from aws_lambda_powertools import Logger

SERVICE = "session-summary-pipeline-edge"
logger = Logger(service=SERVICE)
