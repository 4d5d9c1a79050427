"""Signing and verification, cosign-compatible. Imported only by commands that sign or verify."""
