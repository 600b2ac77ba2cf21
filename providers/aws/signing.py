"""Lambda code signing for a recovery's functions (review 2026-12, C1; checkov CKV_AWS_272).

With the pipeline on, every function of the recovery carries one code signing config whose
only allowed publisher is this recovery's own Signer profile (``AWSLambda-SHA384-ECDSA``),
with ``untrusted_artifact_on_deployment = "Enforce"``: Lambda refuses ``CreateFunction`` and
``UpdateFunctionCode`` of any zip that profile did not sign, whoever calls it.

Two signers, one profile:

* **Terraform** signs each function's first code. With Enforce, ``CreateFunction`` of the
  plain asset zip would fail on AWS, so each asset is uploaded to the pipeline's artifact
  bucket (``initial/<function>.zip``, versioned, the pipeline key), an
  ``aws_signer_signing_job`` signs that object version into ``signed/initial/``, and the
  function's ``s3_bucket``/``s3_key`` name the signed object. A changed asset changes the
  object (``source_hash``), which replaces the job, which names a new signed key, which
  updates the function's code.
* **the pipeline's Package stage** signs what it packaged (``pipeline.py``: its role alone
  may ``signer:StartSigningJob`` on this profile); Deploy ships only those signed objects.

Without the pipeline (``DeploymentSettings.pipeline=False``: the generated Terraform module,
a platform's own CI) Terraform is the only deployer and ships the hash-pinned asset itself;
no signing resources are created there (they would need a bucket of their own).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from healstack.providers.aws import resources as aws
from healstack.providers.interfaces import DeploymentSettings

#: the Signer platform for Lambda zips
PLATFORM = "AWSLambda-SHA384-ECDSA"
#: Signer's default, stated: a signature older than this no longer deploys
SIGNATURE_VALIDITY = aws.SignerSigningProfileSignatureValidityPeriod(value=135, type="MONTHS")
#: artifact-bucket prefixes: Terraform's uploads of each function's first zip, the Package
#: stage's uploads of what it packaged, and every signed zip (Signer writes there)
INITIAL_PREFIX = "initial/"
UNSIGNED_PREFIX = "unsigned/"
SIGNED_PREFIX = "signed/"
INITIAL_SIGNED_PREFIX = SIGNED_PREFIX + "initial/"
#: Signer allows 38 characters before the 26 Terraform appends for a unique name
PROFILE_PREFIX_LENGTH = 38
CONSTRUCT_ID = "signing"


def profile_name_prefix(base_name: str) -> str:
    """Signer profile names are letters, digits and ``_``; a cancelled (destroyed) profile's
    name stays taken for years, so Terraform appends a unique suffix to this prefix."""
    return re.sub(r"[^A-Za-z0-9_]", "_", base_name)[: PROFILE_PREFIX_LENGTH - 1] + "_"


@dataclass(frozen=True)
class _Unsigned:
    key: str
    name: str
    function: Any
    #: the asset zip (a Terraform path) and its sha256 (base64), for the upload's source_hash
    source: str
    source_hash: str


class CodeSigning(Construct):
    """The recovery's Signer profile and code signing config, and the functions whose first
    code Terraform still has to sign (``sign_initial_code``, called by the pipeline)."""

    def __init__(self, scope: Construct, base_name: str, settings: DeploymentSettings) -> None:
        super().__init__(scope, CONSTRUCT_ID)
        self.base = base_name
        self.profile = aws.SignerSigningProfile(
            self,
            "profile",
            platform_id=PLATFORM,
            name_prefix=profile_name_prefix(base_name),
            signature_validity_period=SIGNATURE_VALIDITY,
        )
        self.config = aws.LambdaCodeSigningConfig(
            self,
            "config",
            description=f"healstack {base_name}: only code this recovery's profile signed"[:256],
            allowed_publishers={"signing_profile_version_arns": [self.profile.version_arn]},
            policies={"untrusted_artifact_on_deployment": "Enforce"},
        )
        self._unsigned: list[_Unsigned] = []
        self.signed_initial_code = False

    @property
    def config_arn(self) -> str:
        return str(self.config.arn)

    def add_function(
        self, key: str, name: str, function: Any, source: str, source_hash: str
    ) -> None:
        """``function`` (named ``name``, created from the asset ``source``) gets its first
        code signed."""
        self._unsigned.append(_Unsigned(key, name, function, source, source_hash))

    def sign_initial_code(
        self, scope: Construct, bucket: Any, kms_key_arn: str, depends_on: Sequence[Any]
    ) -> dict[str, Any]:
        """Upload, sign and deploy from the signed object each added function's first zip;
        ``depends_on``: what the bucket must have first (versioning, encryption, policy).
        Returns key -> the signing job."""
        jobs = {}
        for item in self._unsigned:
            upload = aws.S3Object(
                scope,
                f"initial-{item.key}",
                bucket=bucket.id,
                key=f"{INITIAL_PREFIX}{item.name}.zip",
                source=item.source,
                source_hash=item.source_hash,
                server_side_encryption="aws:kms",
                kms_key_id=kms_key_arn,
                depends_on=list(depends_on),
            )
            job = aws.SignerSigningJob(
                scope,
                f"sign-{item.key}",
                profile_name=self.profile.name,
                source={
                    "s3": {"bucket": bucket.id, "key": upload.key, "version": upload.version_id}
                },
                destination={"s3": {"bucket": bucket.id, "prefix": INITIAL_SIGNED_PREFIX}},
            )
            function = item.function
            function.filename = None
            # Lambda reports the signed zip's hash; Terraform's change signal is the s3_key
            function.source_code_hash = None
            function.s3_bucket = job.attr("signed_object[0].s3[0].bucket")
            function.s3_key = job.attr("signed_object[0].s3[0].key")
            jobs[item.key] = job
        self.signed_initial_code = True
        return jobs


def for_recovery(scope: Construct, base_name: str, settings: DeploymentSettings) -> CodeSigning:
    """The recovery's one ``CodeSigning`` (created on first use under ``scope``)."""
    found = scope.node.try_find_child(CONSTRUCT_ID)
    if found is None:
        return CodeSigning(scope, base_name, settings)
    assert isinstance(found, CodeSigning), found
    return found
