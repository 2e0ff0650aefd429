"""The database: SQLAlchemy 2 models, Alembic migrations, idempotent batch upserts, queries.

Uniqueness lives in constraints, never in memory: several runs (or workers) may write at once, and every
write is an upsert keyed on a natural key, so a rerun converges to the same rows.
"""
