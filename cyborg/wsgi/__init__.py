"""WSGI entry points for running cyborg services under a WSGI server."""
