"""Verifiable Credentials: the envelope every record shares, and the record types."""

from registry.credentials.envelope import (
    CREDENTIAL_TYPES,
    VC_CONTEXT,
    CredentialType,
    authority_id,
    authority_of,
    credential_type,
    new_credential,
)

__all__ = [
    "CREDENTIAL_TYPES",
    "VC_CONTEXT",
    "CredentialType",
    "authority_id",
    "authority_of",
    "credential_type",
    "new_credential",
]
