"""Use cases. Each runs in one transaction through a unit of work."""
