"""What each coding agent reads, rendered from a package: one module per agent, plus the shared parts."""
