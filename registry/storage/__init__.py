"""Persistence: tables, engines, migrations and queries."""

__all__: list[str] = []
