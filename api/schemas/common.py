"""What every part of the API shares on the wire: problem details, the proof bundle,
and a signed document served exactly as signed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = ["FieldProblem", "LogProofOut", "Problem", "ProofBundleOut", "SignedDocument"]


class FieldProblem(BaseModel):
    """One invalid field of a rejected request."""

    field: str = Field(description="Dotted path of the field, e.g. `items[3].hours`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response carries them."""

    type: str = Field(examples=["urn:yrd-registry:problem:not-found"])
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="Every invalid field, when the input was rejected."
    )


class LogProofOut(BaseModel):
    """What proves a credential is in its authority's log: the one spelling of a proof,
    as each credential in a verification report's evidence carries it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    authority: str = Field(description="Whose log holds it.", examples=["CN-SH"])
    leaf_index: int = Field(description="Its index in the log (`leafIndex`).")
    tree_size: int = Field(description="The log's size at `checkpoint` (`treeSize`).")
    inclusion_proof: list[str] = Field(
        description="The RFC 9162 inclusion proof, standard base64 (`inclusionProof`)."
    )
    checkpoint: str = Field(description="The C2SP signed checkpoint at `treeSize`.")


class ProofBundleOut(LogProofOut):
    """A credential with the proof that its authority's log holds it, checkable offline
    (``registry verify``)."""

    credential: dict[str, Any] = Field(description="The signed credential.")


class SignedDocument(BaseModel):
    """A W3C Verifiable Credential with its embedded Data Integrity proof(s), served
    byte for byte as signed (RFC 8785 canonical JSON)."""

    model_config = ConfigDict(extra="allow")

    context: list[Any] = Field(alias="@context")
    id: str | None = None
    type: list[str]
    issuer: str | dict[str, Any]
    proof: dict[str, Any] | list[dict[str, Any]]
