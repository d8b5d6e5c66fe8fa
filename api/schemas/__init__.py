"""What goes over the wire, by feature. Tables stay in ``registry.storage``; these are
the API's own: ``common`` (problems, proof bundles, signed documents), ``federation``,
``records``, ``recognition``, ``verification`` and ``enforcement``."""
