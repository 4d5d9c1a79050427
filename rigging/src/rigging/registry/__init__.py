"""A client of the OCI distribution API (1.1), with docker-compatible auth."""
