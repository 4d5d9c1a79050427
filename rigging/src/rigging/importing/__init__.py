"""`rigging import`: what a repository already holds for its agents, turned into a package."""
