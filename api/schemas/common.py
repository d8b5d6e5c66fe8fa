"""What every part of the API shares on the wire: problem details, the proof bundle,
and a signed document served exactly as signed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from registry.ids import PROVINCE_CODE_JSON_SCHEMA, ProvinceCodeText

__all__ = [
    "PROVINCE_CODE_SCHEMA",
    "FieldProblem",
    "LogProofOut",
    "Problem",
    "ProofBundleOut",
    "ProvinceCode",
    "SignedDocument",
    "csv_header_schema",
    "one_way_of",
]

PROVINCE_CODE_SCHEMA = PROVINCE_CODE_JSON_SCHEMA


def _given(*fields: str) -> dict[str, Any]:
    return {"required": list(fields), "properties": {f: {"not": {"type": "null"}} for f in fields}}


def one_way_of(*ways: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    """A model's ``json_schema_extra`` saying that exactly one of ``ways`` is given: all
    of its fields present and not null, and no field of another way. What the model's
    own validator enforces, said where a client (or a fuzzer) can read it."""

    def extra(schema: dict[str, Any]) -> None:
        branches = []
        for way in ways:
            others = [f for other in ways if other is not way for f in other if f not in way]
            branches.append({**_given(*way), "not": {"anyOf": [_given(f) for f in others]}})
        schema["oneOf"] = branches

    return extra


def csv_header_schema(columns: tuple[str, ...]) -> dict[str, Any]:
    """The schema of a CSV body: a header line naming only ``columns`` (a UTF-8 BOM
    before it is read), then at least one row."""
    name = "(" + "|".join(columns) + ")"
    return {
        "type": "string",
        # The header, then at least one row with something in it.
        "pattern": f"^\\ufeff?{name}(,{name})*(\\r\\n|\\n|\\r)[\\s\\S]*[^\\s,]",
        "description": f"CSV with a header line naming some of: {', '.join(columns)}.",
    }


ProvinceCode = ProvinceCodeText
"""A province code as the API documents it; the routes read it with ``registry.ids.province``
(which also reads lower case and full-width forms, and refuses anything else with 422)."""


class FieldProblem(BaseModel):
    """One invalid field of a rejected request."""

    field: str = Field(description="Dotted path of the field, e.g. `items[3].hours`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response carries them: `title`,
    `detail` and each field's `message` in Chinese or English by `Accept-Language`
    (see the API's description); `type` is stable in every language."""

    type: str = Field(examples=["urn:yrd-registry:problem:not-found"])
    title: str = Field(examples=["Not found", "未找到"])
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
    witnessed: bool = Field(
        description=(
            "Whether the checkpoint carries the cosignatures the trust list's witness "
            "policy requires (`registry verify` refuses one that does not)."
        )
    )
    cosignatures: int = Field(description="How many witnesses' cosignatures it carries.")
    cosignatures_required: int | None = Field(
        description="How many the policy requires (`cosignaturesRequired`; null: no trust list)."
    )


class SignedDocument(BaseModel):
    """A W3C Verifiable Credential with its embedded Data Integrity proof(s), served
    byte for byte as signed (RFC 8785 canonical JSON)."""

    model_config = ConfigDict(extra="allow")

    context: list[Any] = Field(alias="@context")
    id: str | None = None
    type: list[str]
    issuer: str | dict[str, Any]
    proof: dict[str, Any] | list[dict[str, Any]]
