"""Canonical bytes, Ed25519 keys and ``eddsa-jcs-2022`` Data Integrity proofs."""

__all__: list[str] = []
