"""End-to-end test of a real ``terraform apply`` into an in-process moto server (see harness)."""
