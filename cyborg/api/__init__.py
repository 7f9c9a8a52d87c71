"""The cyborg-api service: the Acceleration v2 REST API (see app.py)."""
