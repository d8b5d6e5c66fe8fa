"""The web pages people use, beside the JSON API for machines (``web.app``)."""
