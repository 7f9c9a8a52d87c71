"""Adapters for the services cyborg calls: Placement, Nova, Glance."""
