"""Step handlers that run inside the recovery Lambdas (stdlib + boto3 only).

Entry points (``module.function``, each ``f(event, context) -> dict``):

- ``healstack_lambda.events.resolve_target``: raw EventBridge event -> target resource id.
- ``healstack_lambda.ec2.check`` / ``reboot`` / ``stop`` / ``start``.
- ``healstack_lambda.ecs.check`` / ``force_redeploy``.
- ``healstack_lambda.rds.check`` / ``reboot``.
- ``healstack_lambda.notify.notify``: one structured SNS message per workflow outcome.

Failures raise the classes in ``healstack_lambda.errors``; their class names are the
Lambda ``errorType`` values the state machine routes on.

Layout: the five handler modules (``events``, ``ec2``, ``ecs``, ``rds``, ``notify``) never
import one another, only the library modules (``aws``, ``errors``, ``ids``, ``jsonpath``,
``log``, ``step``), so each function's package can hold its own handler module plus the
library alone.
"""
