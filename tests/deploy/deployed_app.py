"""What the deployer tests assert about a deployed app stack, read as AWS acts on it.

moto's CloudFormation does not attach layers, apply the bucket notification or create the
EventInvokeConfig, so these come from the deployed template and parameters (infra/cfn), never
from the endpoint's Lambda or S3 state.
"""

from __future__ import annotations

from typing import Any

from infra import layerdescription
from infra.cfn.deployed import properties, resolver


def describe_app(cfn: Any, stack_name: str, lam: Any | None = None) -> dict[str, Any]:
    """The function, its code and layers, the trigger and the async-invoke config of a deployed
    app stack. With a Lambda client, each layer ARN is mapped to its zip in the artifact bucket
    (through the version's description, infra/layerdescription.py)."""
    res, template = resolver(cfn, stack_name)
    fn = properties(res, template, "Function") or {}
    layers = [{"arn": arn, "bucket": None, "key": None} for arn in fn.get("Layers", [])]
    if lam is not None:
        for layer in layers:
            name, number = layer["arn"].rsplit(":", 1)
            version = lam.get_layer_version(LayerName=name, VersionNumber=int(number))
            key = layerdescription.content_key(version.get("Description", ""))
            if key:
                layer["bucket"], layer["key"] = fn["Code"]["S3Bucket"], key
    bucket = properties(res, template, "InputBucket") or {}
    notification = [
        {
            "bucket": bucket.get("BucketName"),
            "events": [c["Event"]],
            "function_arn": c["Function"],
            "filter": {r["Name"]: r["Value"] for r in c["Filter"]["S3Key"]["Rules"]},
        }
        for c in bucket.get("NotificationConfiguration", {}).get("LambdaConfigurations", [])
    ]
    invoke = properties(res, template, "EventInvokeConfig") or {}
    return {
        "function": {
            "name": res.ids.get("Function", fn.get("FunctionName")),
            "handler": fn.get("Handler"),
            "runtime": fn.get("Runtime"),
            "architectures": fn.get("Architectures"),
            "memory": int(fn.get("MemorySize", 128)),
            "timeout": int(fn.get("Timeout", 3)),
            "environment": fn.get("Environment", {}).get("Variables", {}),
            "code": {"bucket": fn["Code"]["S3Bucket"], "key": fn["Code"]["S3Key"]},
            "layers": layers,
            "logging": fn.get("LoggingConfig", {}),
            "reserved_concurrency": (
                int(fn["ReservedConcurrentExecutions"])
                if "ReservedConcurrentExecutions" in fn
                else None
            ),
            "role": fn.get("Role"),
        },
        "notification": notification,
        "event_invoke_config": {
            "qualifier": invoke.get("Qualifier"),
            "maximum_retry_attempts": int(invoke.get("MaximumRetryAttempts", 2)),
            "maximum_event_age_seconds": int(invoke.get("MaximumEventAgeInSeconds", 21600)),
            "on_failure": invoke.get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination"),
            "on_failure_queue_url": res.ids.get("FailureQueue"),
        },
    }
