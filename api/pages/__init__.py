"""Pages for people beside the API for machines: what they render on the server."""
