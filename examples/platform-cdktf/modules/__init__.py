"""Acme's own ``modules`` package: it shares its name with healstack's top-level folder,
and nothing collides, because installed healstack is ``healstack.modules``."""

PLATFORM = "acme"


def platform_tags(stage: str) -> dict[str, str]:
    """The tags every Acme resource carries (through the provider's default tags)."""
    return {"owner": "platform-team", "stage": stage}
