"""Rigging web portal: search, package pages, publisher console, reviewer queue."""
