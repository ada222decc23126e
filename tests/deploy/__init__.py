"""Deployment tier: s.yaml, RAM policies and the FC code packages, checked against the code."""
