"""Acme's own ``providers`` package (healstack's is ``healstack.providers``)."""

REGION = "eu-west-1"
