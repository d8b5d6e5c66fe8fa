"""The HTTP API: a FastAPI application built by ``create_app(settings)``."""

from api.app import create_app

__all__ = ["create_app"]
