"""Acme's platform stack (its own cdktf app) with healstack's recovery added as a construct.

The platform already owns a KMS key and an alerts topic; the recovery uses both instead of
creating its own. Run ``python main.py`` (or ``cdktf synth``) in this folder, with healstack
installed (``pip install healstack`` from a path or a git URL). ``STAGE`` picks the stage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# the platform's own AWS provider bindings, of whatever version it uses: healstack brings
# none (its resources are its own layer on cdktf core), and references between the two are
# ordinary tokens
from cdktf import App, LocalBackend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from constructs import Construct

import healstack.providers.aws.provider as healstack_aws
from healstack.loader import load_playbook
from healstack.modules.recovery_workflow import RecoveryWorkflow
from healstack.providers.interfaces import DeploymentSettings
from modules import PLATFORM, platform_tags  # Acme's own packages, not healstack's
from providers import REGION

HERE = Path(__file__).resolve().parent


def key_policy(account: str) -> str:
    """Acme's key policy, including what a recovery needs from a key it is given: CloudWatch
    Logs encrypts the log groups, CloudWatch alarms publish to the encrypted topic, and IAM
    policies (the recovery's roles) may use the key."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncrypts",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:aws:logs:{REGION}:{account}:log-group:*"
                            )
                        }
                    },
                },
                {
                    "Sid": "AlarmsAndEventsUseTopicAndQueue",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                },
            ],
        },
        indent=2,
    )


class PlatformStack(TerraformStack):
    def __init__(self, scope: Construct, stage: str) -> None:
        name = f"{PLATFORM}-platform-{stage}"
        super().__init__(scope, name)
        # Acme's own state, beside cdktf.out (a team would use S3BackendConfig here)
        LocalBackend(self, path=f"../../../terraform.{name}.tfstate")
        AwsProvider(self, "aws", region=REGION, default_tags=[{"tags": platform_tags(stage)}])

        # what the platform already owns
        account = DataAwsCallerIdentity(self, "account").account_id
        key = KmsKey(
            self,
            "platform-key",
            description="acme platform key",
            enable_key_rotation=True,
            policy=key_policy(account),
        )
        alerts = SnsTopic(
            self, "alerts", name=f"{PLATFORM}-alerts-{stage}", kms_master_key_id=key.arn
        )
        SnsTopicPolicy(  # the platform's topic policy: CloudWatch alarms may publish
            self,
            "alerts-policy",
            arn=alerts.arn,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": alerts.arn,
                            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                        }
                    ],
                }
            ),
        )

        # healstack's recovery, with Acme's playbook and settings
        recovery = RecoveryWorkflow(
            self,
            "web-recovery",  # part of every Terraform address: never rename it
            playbook=load_playbook(HERE / "playbooks" / "web-instance-recovery.yaml"),
            provider=healstack_aws.AwsProvider(),
            settings=DeploymentSettings(
                name_prefix=PLATFORM,
                stage=stage,
                region=REGION,
                tags={"team": "platform", "cost-center": "ops-42"},
                log_retention_days=400,
                existing_notifier_id=alerts.arn,
                encryption_key_id=key.arn,
                pipeline=False,  # terraform apply ships the functions; Acme has its own CI
            ),
        )

        # the platform's own on-call role may start the recovery by hand (game days, replays)
        oncall = IamRole(
            self,
            "oncall",
            name=f"{PLATFORM}-oncall-{stage}",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        recovery.grant_start(oncall)
        # ... and is paged, by the platform's own alarm, when recoveries give up
        gave_up = recovery.metric_gave_up()
        CloudwatchMetricAlarm(
            self,
            "recoveries-giving-up",
            alarm_name=f"{PLATFORM}-recoveries-giving-up-{stage}",
            namespace=gave_up.namespace,
            metric_name=gave_up.name,
            dimensions=dict(gave_up.dimensions),
            statistic=gave_up.statistic,
            period=gave_up.period_seconds,
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[alerts.arn],
        )

        # what the platform wires downstream
        TerraformOutput(self, "recovery_state_machine_arn", value=recovery.workflow_id)
        TerraformOutput(self, "recovery_rule_name", value=recovery.trigger_name)
        TerraformOutput(self, "recovery_dlq_url", value=recovery.dead_letter_id)
        TerraformOutput(self, "recovery_workflow_role", value=recovery.workflow_role.name)
        TerraformOutput(self, "recovery_function_arns", value=dict(recovery.function_ids))


def main() -> None:
    app = App()  # cdktf synth sets CDKTF_OUTDIR; plain `python main.py` writes cdktf.out
    PlatformStack(app, os.environ.get("STAGE", "sandbox"))
    app.synth()


if __name__ == "__main__":
    main()
