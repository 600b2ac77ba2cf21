"""healstack: recovery playbooks compiled into Step Functions workflows through cdktf."""

#: the one place the version lives (pyproject.toml reads it); see docs/development.md, Versioning, and
#: CHANGELOG.md. Breaking: a construct API change or a changed resource address.
__version__ = "0.1.0"
