"""Transparency logs: C2SP signed notes and the keys that sign them."""
