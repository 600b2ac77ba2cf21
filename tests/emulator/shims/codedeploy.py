"""CodeDeploy: deployment group reads, and deletes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.core.responses import ActionResult


@contextmanager
def codedeploy_deployment_group_info() -> Iterator[None]:
    """CodeDeploy ``GetDeploymentGroup`` drops the alarm configuration and invents a load
    balancer.

    moto: ``codedeploy/responses.py`` ``_deployment_group_info`` answers
    ``"alarmConfiguration": {}`` (a ``# TODO``) although ``DeploymentGroup`` keeps what
    CreateDeploymentGroup sent, and answers ``"loadBalancerInfo": {}`` for a group without
    one (AWS omits it). The provider then plans to add the alarms and remove an empty
    ``load_balancer_info`` block on every plan.

    Shim: answer the stored alarm configuration and omit an empty ``loadBalancerInfo``.
    """
    from moto.codedeploy import responses as codedeploy

    original = codedeploy._deployment_group_info

    def deployment_group_info(group: Any) -> dict[str, Any]:
        info: dict[str, Any] = original(group)
        if group.alarm_configuration:
            info["alarmConfiguration"] = group.alarm_configuration
        if not info.get("loadBalancerInfo"):
            info.pop("loadBalancerInfo", None)
        return info

    with mock.patch.object(codedeploy, "_deployment_group_info", deployment_group_info):
        yield


@contextmanager
def codedeploy_deletes() -> Iterator[None]:
    """CodeDeploy cannot delete deployment groups or applications.

    moto: ``codedeploy/responses.py`` ``CodeDeployResponse`` has no
    ``delete_deployment_group`` and no ``delete_application`` (``codedeploy/models.py``
    ``CodeDeployBackend`` neither), so ``terraform destroy`` fails with a 500.

    Shim: both operations, on the backend's ``applications`` / ``deployment_groups`` maps and
    its tagger; DeleteApplication also drops the application's groups (as AWS does); deleting
    something that does not exist succeeds (as AWS does for DeleteApplication).
    """
    from moto.codedeploy.responses import CodeDeployResponse

    def delete_deployment_group(response: CodeDeployResponse) -> ActionResult:
        backend = response.codedeploy_backend
        application = response._get_param("applicationName")
        group = response._get_param("deploymentGroupName")
        if backend.deployment_groups.get(application, {}).pop(group, None) is not None:
            backend.tagger.delete_all_tags_for_resource(
                backend._deployment_group_arn(application, group)
            )
        return ActionResult({"hooksNotCleanedUp": []})

    def delete_application(response: CodeDeployResponse) -> ActionResult:
        backend = response.codedeploy_backend
        application = response._get_param("applicationName")
        for group in backend.deployment_groups.pop(application, {}):
            backend.tagger.delete_all_tags_for_resource(
                backend._deployment_group_arn(application, group)
            )
        if backend.applications.pop(application, None) is not None:
            backend.tagger.delete_all_tags_for_resource(backend._application_arn(application))
        return ActionResult({})

    with (
        mock.patch.object(
            CodeDeployResponse, "delete_deployment_group", delete_deployment_group, create=True
        ),
        mock.patch.object(
            CodeDeployResponse, "delete_application", delete_application, create=True
        ),
    ):
        yield
