"""The pages, one module a group: who may open each is in its dependencies."""
