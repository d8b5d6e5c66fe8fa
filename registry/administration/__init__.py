"""Administering a node: people's accounts and API tokens as an administrator sees and
changes them (``accounts``, ``tokens``), and the node's health at a glance
(``health``). Built on ``registry.accounts``, ``registry.tokens``, the logs, the
federation and the access audit; the pages under ``/admin`` call these."""
