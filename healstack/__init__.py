"""healstack: recovery playbooks compiled into Step Functions workflows through cdktf."""

__version__ = "0.1.0"
