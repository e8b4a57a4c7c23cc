"""Persistence: SQLModel tables, queries, locks, the unit of work and the outbox."""
