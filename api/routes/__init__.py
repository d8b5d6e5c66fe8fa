"""Route modules, one per feature."""

__all__: list[str] = []
