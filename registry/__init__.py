"""The Yangtze River Delta safety-engineer registry: the domain, free of any web framework."""

__all__: list[str] = []
