"""Composition layer: the RecoveryWorkflow construct, built only on neutral interfaces."""
