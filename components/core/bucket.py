"""A private S3 bucket: public access blocked, encrypted, versioned, TLS-only.

Encryption is SSE-S3 unless a KMS key is given (then SSE-KMS with a bucket key); old
versions expire after `noncurrent_days` and abandoned multipart uploads after 7 days, so
versioning protects against overwrites without keeping every copy forever. A
`StorageTransition` tiers the objects under one prefix (that rule then also carries the
version and upload expiry). Outside production the bucket is force-destroyed, unless
`keep_objects` says its objects are the product (an archive) and must never go with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .scope import Scope

NONCURRENT_VERSION_DAYS = 30
# What `PrivateBucket` hardens, as a warning lists it when a pattern is given a bucket instead.
BUCKET_DEFAULTS = (
    "public access block",
    "default encryption",
    "versioning with old versions expiring",
    "lifecycle rules",
    "TLS-only bucket policy",
)


def tls_only_policy(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(bucket_arn).apply(
        lambda arn: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arn, f"{arn}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
            sort_keys=True,
        )
    )


@dataclass(frozen=True, kw_only=True)
class StorageTransition:
    """Lifecycle rule `rule_id`: objects under `prefix` move to `storage_class` after `days`."""

    rule_id: str
    days: int
    storage_class: str
    prefix: str


class PrivateBucket:
    """Bucket + public access block + encryption + versioning + lifecycle + TLS policy."""

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        *,
        kms_key_arn: str | None = None,
        noncurrent_days: int = NONCURRENT_VERSION_DAYS,
        transition: StorageTransition | None = None,
        keep_objects: bool = False,
    ) -> None:
        # Auto-named: bucket names are global and lower-case, stack names need not be.
        self.bucket = aws.s3.Bucket(
            scope.child(suffix),
            force_destroy=None if keep_objects else not scope.settings.production,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            scope.child(f"{suffix}-public-access"),
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=scope.opts(),
        )
        by_default = (
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            scope.child(f"{suffix}-encryption"),
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=(
                        by_default(sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn)
                        if kms_key_arn is not None
                        else by_default(sse_algorithm="AES256")
                    ),
                    bucket_key_enabled=kms_key_arn is not None,
                )
            ],
            opts=scope.opts(),
        )
        self.versioning = aws.s3.BucketVersioning(
            scope.child(f"{suffix}-versioning"),
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=scope.opts(),
        )
        rule = aws.s3.BucketLifecycleConfigurationRuleArgs
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            scope.child(f"{suffix}-lifecycle"),
            bucket=self.bucket.id,
            rules=[
                rule(
                    id=transition.rule_id if transition else "expire-old-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                        prefix=transition.prefix if transition else ""
                    ),
                    transitions=(
                        [
                            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                                days=transition.days, storage_class=transition.storage_class
                            )
                        ]
                        if transition
                        else None
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=noncurrent_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=scope.opts(depends_on=[self.versioning]),
        )
        self.policy = aws.s3.BucketPolicy(
            scope.child(f"{suffix}-policy"),
            bucket=self.bucket.id,
            policy=tls_only_policy(self.bucket.arn),
            # S3 rejects a bucket policy while the public access block is being changed.
            opts=scope.opts(depends_on=[self.public_access_block]),
        )
        self.arn = self.bucket.arn
        self.name = self.bucket.bucket
