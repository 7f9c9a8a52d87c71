"""Pecan controllers of the REST API; root.py mounts them all."""
