"""Rigging indexer: crawls OCI registries into PostgreSQL (SQLite embedded) for search and stats."""
