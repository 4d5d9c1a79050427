"""Turning untrusted package content (Markdown, dependency graphs) into safe HTML and SVG."""
