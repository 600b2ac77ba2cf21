"""CodeBuild: projects a pipeline drives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

#: source and artifact types that carry no location on AWS (CodePipeline supplies them)
_LOCATIONLESS_SOURCES = frozenset({"CODEPIPELINE", "NO_SOURCE"})
_LOCATIONLESS_ARTIFACTS = frozenset({"CODEPIPELINE", "NO_ARTIFACTS"})


@contextmanager
def codebuild_pipeline_projects() -> Iterator[None]:
    """CodeBuild ``CreateProject`` demands a ``location`` for ``CODEPIPELINE`` projects.

    moto: ``codebuild/responses.py`` ``_validate_required_params_source`` requires
    ``source.location`` for every source type and ``_validate_required_params_artifacts``
    requires ``artifacts.location`` for ``CODEPIPELINE`` artifacts; AWS requires neither for a
    project that a pipeline drives (the pipeline hands it the input and output artifacts), and
    the provider sends none.

    Shim: skip the location check for ``CODEPIPELINE``/``NO_SOURCE`` sources and
    ``CODEPIPELINE``/``NO_ARTIFACTS`` artifacts; every other case keeps moto's validation.
    """
    from moto.codebuild import responses as codebuild

    original_source = codebuild._validate_required_params_source
    original_artifacts = codebuild._validate_required_params_artifacts

    def validate_source(source: dict[str, Any]) -> None:
        if source.get("type") not in _LOCATIONLESS_SOURCES:
            original_source(source)

    def validate_artifacts(artifacts: dict[str, Any]) -> None:
        if artifacts.get("type") not in _LOCATIONLESS_ARTIFACTS:
            original_artifacts(artifacts)

    with (
        mock.patch.object(codebuild, "_validate_required_params_source", validate_source),
        mock.patch.object(codebuild, "_validate_required_params_artifacts", validate_artifacts),
    ):
        yield


@contextmanager
def codebuild_encryption_key() -> Iterator[None]:
    """CodeBuild ignores a project's ``encryptionKey``.

    moto: ``codebuild/responses.py`` ``CodeBuildResponse.create_project`` does not pass
    ``encryptionKey`` on, and ``codebuild/models.py`` ``CodeBuild.__init__`` always sets the
    AWS-managed ``alias/aws/s3``; the provider reads that back and the next plan wants to set
    the customer-managed key again.

    Shim: after CreateProject, store the requested ``encryptionKey`` in the project's metadata
    (what ``BatchGetProjects`` returns).
    """
    from moto.codebuild.responses import CodeBuildResponse

    original = CodeBuildResponse.create_project

    def create_project(response: CodeBuildResponse) -> Any:
        result = original(response)
        key = response._get_param("encryptionKey")
        if key:
            project = response.codebuild_backend.codebuild_projects[response._get_param("name")]
            project.project_metadata["encryptionKey"] = key
        return result

    with mock.patch.object(CodeBuildResponse, "create_project", create_project):
        yield


#: UpdateProject fields that replace the project's (the API's own names; moto keeps them so)
_UPDATABLE = (
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "logsConfig",
    "concurrentBuildLimit",
)


@contextmanager
def codebuild_update_project() -> Iterator[None]:
    """CodeBuild has no ``UpdateProject``.

    moto: ``codebuild/responses.py`` ``CodeBuildResponse`` implements create, list, batch-get
    and delete but not ``update_project`` (its dispatcher raises NotImplementedError, a 500);
    the provider calls UpdateProject for any in-place change of a project, e.g. new tags.

    Shim: ``update_project`` replaces each field the request carries in the project's
    metadata (what ``BatchGetProjects`` returns) and answers ``{"project": metadata}``, as AWS
    does; an unknown project is ``ResourceNotFoundException``.
    """
    from moto.codebuild.exceptions import ResourceNotFoundException
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.responses import ActionResult
    from moto.core.utils import unix_time

    def update_project(response: CodeBuildResponse) -> Any:
        name = response._get_param("name")
        project = response.codebuild_backend.codebuild_projects.get(name)
        if project is None:
            raise ResourceNotFoundException(f"Project cannot be found: {name}")
        metadata = project.project_metadata
        for field in _UPDATABLE:
            value = response._get_param(field)
            if value is not None:
                metadata[field] = value
        metadata["lastModifiedDate"] = unix_time()
        return ActionResult({"project": metadata})

    with mock.patch.object(CodeBuildResponse, "update_project", update_project, create=True):
        yield
