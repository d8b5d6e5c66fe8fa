"""Backups of a node and their restore: ``archive`` (what a backup holds and how it is
written and restored), ``snapshot`` (the database's rows from one consistent state)
and ``sealed`` (the passphrase encryption, in authenticated chunks)."""

from registry.backup.archive import (
    FORMAT,
    Manifest,
    Restored,
    read_backup,
    restore_backup,
    write_backup,
)
from registry.backup.sealed import MIN_PASSPHRASE

__all__ = [
    "FORMAT",
    "MIN_PASSPHRASE",
    "Manifest",
    "Restored",
    "read_backup",
    "restore_backup",
    "write_backup",
]
