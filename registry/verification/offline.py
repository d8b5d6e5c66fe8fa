"""Checking a credential, a proof bundle or a verification report without the server.

Everything is judged against a trust list the caller passes in (a chain of versions
walked from a pinned genesis): each signature and its key's authority and validity
at signing time, each checkpoint against its log's key, each inclusion proof
against its checkpoint, the status bits of any status list given, and, for a
report, that every credential it names is in its evidence, that each agreement
it cites makes the record count as it says, and that each log it names is the one
its evidence proves against, stated current exactly when its confirmation is within
the report's bound (and said, ``mirror-stale``, where it is not). The answer is a
tree of ``Check``s; ``Check.holds`` is true only when nothing failed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from registry.calendar import parse_aware
from registry.credentials import CredentialType, authority_of, credential_type
from registry.credentials.keys import verify_signed
from registry.credentials.records import named_people
from registry.credentials.status_list import StatusBits, entry_index
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.enforcement.measures import RESTRICT_PRACTICE
from registry.errors import RegistryError, ReportError
from registry.ids import ResidentId, parse_category
from registry.recognition import Agreement, RecordKind, recognise
from registry.recognition.document import (
    parse_agreement,
    verify_agreement,
)
from registry.tlog.checkpoint import Checkpoint, open_note, parse_checkpoint
from registry.tlog.merkle import leaf_hash, verify_inclusion
from registry.tlog.note import parse_verifier_key
from registry.trust.chain import verify_chain
from registry.trust.document import TrustListContent, digest_of
from registry.trust.witnesses import Witnessing, witnessing
from registry.verification.freshness import MIRROR_STALE
from registry.verification.qr import QrPayload
from registry.verification.witnessed import NOT_YET_WITNESSED

__all__ = ["Check", "check_file"]


@dataclass
class Check:
    """One check: what was checked, whether it held (``None``: not checked), why."""

    name: str
    ok: bool | None = True
    detail: str = ""
    children: list[Check] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """Whether this check and every check under it held (unchecked ones aside)."""
        return self.ok is not False and all(c.holds for c in self.children)

    def add(self, check: Check) -> Check:
        """Add ``check`` under this one; returns it."""
        self.children.append(check)
        return check


def _attempt(parent: Check, name: str, action: Callable[[], str | None]) -> bool:
    """Run one check under ``parent``; a ``RegistryError`` fails it with its message."""
    try:
        detail = action() or ""
    except RegistryError as exc:
        parent.add(Check(name, False, exc.message))
        return False
    parent.add(Check(name, True, detail))
    return True


@dataclass(frozen=True)
class _Context:
    trust: TrustListContent
    at: datetime
    status_lists: Mapping[str, Mapping[str, Any]]
    demo: bool = False


def check_file(
    document: object,
    *,
    trust_lists: Sequence[Mapping[str, Any]],
    genesis: str | None = None,
    status_lists: Sequence[Mapping[str, Any]] = (),
    at: datetime | None = None,
    qr: QrPayload | None = None,
    holder: tuple[bytes, ResidentId] | None = None,
    unsafe_genesis_from_file: bool = False,
    demo: bool = False,
) -> Check:
    """Check a credential, a proof bundle or a ``VerificationReport``; see the module.

    With ``qr``, the file must also hold the credential the QR code names. With
    ``holder`` (a disclosure and an ID number), the credential must name the person
    whose number that is, bound under that disclosure.

    Fails closed: without a pinned ``genesis`` digest the trust list does not hold,
    unless ``unsafe_genesis_from_file`` takes the file's own version 1 as the genesis
    (which anyone who made the file chose), and the check then says so. A report
    relying on a demonstration agreement (one the demo publishes, citing a synthetic
    document) holds only with ``demo``."""
    at = at or datetime.now(UTC)
    root = Check("verification")
    trust = _trust(root, trust_lists, genesis, at, unsafe_genesis_from_file)
    if not isinstance(document, Mapping):
        root.add(Check("file", False, "the file is not a JSON object"))
        return root
    if trust is None:
        return root
    lists = {str(doc.get("id")): doc for doc in status_lists}
    context = _Context(trust, at, lists, demo)
    if "credential" in document and "checkpoint" in document:
        _bundle(root, document, context)
    elif _type(document) == CredentialType.VERIFICATION_REPORT:
        _report(root, document, context)
    else:
        _credential(
            root.add(Check("credential", None, str(document.get("id", "")))), document, context
        )
    if qr is not None:
        _attempt(root, "QR code", partial(_matches_qr, document, qr))
    if holder is not None:
        _attempt(root, "holder", partial(_names_holder, document, *holder))
    root.ok = None if root.children else False
    return root


def _matches_qr(document: Mapping[str, Any], qr: QrPayload) -> str:
    credential = document.get("credential", document)
    if not isinstance(credential, Mapping):
        raise ReportError("the file holds no credential to compare with the QR code")
    digest = sha256_hex(canonical_bytes(credential))
    if credential.get("id") != qr.credential_id or _issuer(credential) != qr.authority:
        raise ReportError(f"the QR code names {qr.credential_id} of {qr.authority}, not this")
    if digest != qr.digest:
        raise ReportError("the credential's digest is not the one the QR code carries")
    return f"{qr.credential_id} of {qr.authority}, digest {digest[:16]}..."


def _names_holder(document: Mapping[str, Any], disclosure: bytes, number: ResidentId) -> str:
    credential = document.get("credential", document)
    if not isinstance(credential, Mapping):
        raise ReportError("the file holds no credential to check the ID number against")
    people = named_people(_type(credential) or "", credential)
    if not people:
        raise ReportError("the credential names no person")
    for position, identifier in sorted(people.items()):
        if identifier.binds(number, disclosure):
            return (
                f"the ID number is that of the person it names (#{position}, {identifier.masked})"
            )
    raise ReportError(
        "the ID number and the disclosure do not match anyone the credential names: "
        "check the number against the ID card, and that the disclosure is this "
        "credential's"
    )


def _type(document: Mapping[str, Any]) -> str | None:
    try:
        return credential_type(document)
    except RegistryError:
        return None


def _trust(
    root: Check,
    documents: Sequence[Mapping[str, Any]],
    genesis: str | None,
    at: datetime,
    unsafe_genesis_from_file: bool,
) -> TrustListContent | None:
    node = root.add(Check("trust list", None))
    if not documents:
        node.ok = False
        node.detail = "no trust list given: pass --trust-list FILE"
        return None
    pin = genesis
    if pin is None:
        if not unsafe_genesis_from_file:
            # Whoever wrote the file chose its genesis: a chain that walks from it
            # proves nothing about the federation's.
            node.ok = False
            node.detail = (
                "no genesis digest pinned: pass --genesis DIGEST (the digest the "
                "federation published), or --unsafe-genesis-from-file to trust the file's"
            )
            return None
        first = [d for d in documents if d.get("credentialSubject", {}).get("version") == 1]
        if not first:
            node.ok = False
            node.detail = "the trust-list file has no version 1 and no --genesis was given"
            return None
        pin = digest_of(first[0])
        node.add(Check("genesis", None, f"NOT PINNED: taken from the file itself ({pin}); unsafe"))
    try:
        chain = verify_chain(documents, genesis_digest=pin, at=at)
    except RegistryError as exc:
        node.ok = False
        node.detail = exc.message
        return None
    current = chain.current
    if current is None:
        node.ok = False
        node.detail = "the chain is empty"
        return None
    node.ok = True
    node.detail = f"version {current.version}, chain from genesis {pin[:16]}... holds"
    return current.content


def _credential(
    node: Check,
    document: Mapping[str, Any],
    context: _Context,
    witnessed_at: datetime | None = None,
) -> bool:
    """Check one credential's signature(s) and status; returns whether it held.

    A key since reported compromised vouches for it only if a checkpoint including it
    was witnessed before the compromise (``witnessed_at``: when the checkpoint it is
    proven against had the policy's number of cosignatures; ``None``: never)."""
    kind = _type(document)
    node.detail = f"{kind or 'unknown type'} {document.get('id', '')}"
    if kind is None:
        node.add(Check("type", False, "not a credential type of the registry"))
        return False
    if kind == CredentialType.RECOGNITION_AGREEMENT:
        ok = _attempt(
            node,
            "signatures of every party",
            lambda: _agreement_signed(document, context, witnessed_at),
        )
    else:
        ok = _attempt(
            node, "signature and key", lambda: _signed(document, kind, context, witnessed_at)
        )
    _status(node, document, context)
    return ok and node.holds


def _signed(
    document: Mapping[str, Any],
    kind: str,
    context: _Context,
    witnessed_at: datetime | None = None,
    *,
    logged: bool = True,
) -> str:
    issuer = authority_of(document.get("issuer"))
    verified, key = verify_signed(
        document,
        directory=context.trust.key,
        credential_type=kind,
        authority=issuer,
        at=context.at,
        logged_at=witnessed_at,
        needs_log=logged,
    )
    return (
        f"{issuer}'s key {key.verification_method[-12:]} could sign {kind} "
        f"at {verified.created.isoformat() if verified.created else '?'}"
    )


def _agreement_signed(
    document: Mapping[str, Any], context: _Context, witnessed_at: datetime | None
) -> str:
    agreement = verify_agreement(
        document,
        directory=context.trust.key,
        at=context.at,
        logged_at=witnessed_at,
        needs_log=True,
    )
    return f"signed by {', '.join(sorted(agreement.parties))}"


def _status(node: Check, document: Mapping[str, Any], context: _Context) -> None:
    entries = document.get("credentialStatus")
    if entries is None:
        return
    listed = entries if isinstance(entries, list) else [entries]
    for entry in listed:
        if not isinstance(entry, Mapping):
            node.add(Check("status", False, "a credentialStatus entry is not an object"))
            continue
        purpose = str(entry.get("statusPurpose", "?"))
        list_id = str(entry.get("statusListCredential", ""))
        status_list = _list_for(context.status_lists, list_id)
        if status_list is None:
            node.add(Check(f"status ({purpose})", None, "not checked: no status list given"))
            continue
        _attempt(
            node,
            f"status ({purpose})",
            partial(_bit, entry, status_list, purpose, document, context),
        )


def _list_for(lists: Mapping[str, Mapping[str, Any]], url: str) -> Mapping[str, Any] | None:
    # An entry names the list's current URL; a saved list names its version under it
    # (".../suspension/3"). The newest version given decides.
    if url in lists:
        return lists[url]
    versions = [doc for key, doc in lists.items() if key.startswith(url + "/")]
    return max(versions, key=lambda doc: str(doc.get("validFrom", "")), default=None)


def _bit(
    entry: Mapping[str, Any],
    status_list: Mapping[str, Any],
    purpose: str,
    document: Mapping[str, Any],
    context: _Context,
) -> str:
    issuer = authority_of(document.get("issuer"))
    verify_signed(
        status_list,
        directory=context.trust.key,
        credential_type=CredentialType.STATUS_LIST,
        authority=issuer,
        at=context.at,
    )
    subject = status_list.get("credentialSubject", {})
    if subject.get("statusPurpose") != purpose:
        raise ReportError(
            f"the status list given is for {subject.get('statusPurpose')}, not {purpose}"
        )
    bits = StatusBits.decode(str(subject.get("encodedList", "")))
    index = entry_index(entry)
    if bits.get(index):
        raise ReportError(f"bit {index} is set: the credential is {_SET[purpose]}")
    return f"bit {index} is clear in the list signed {status_list.get('validFrom', '')}"


# The revocation bit says a final state: revoked, but also cancelled, withdrawn or
# superseded by a correction, which the bit alone does not tell apart.
_SET = {
    "revocation": "no longer valid (revoked, cancelled, withdrawn or superseded)",
    "suspension": "suspended",
}


@dataclass(frozen=True)
class _Logged:
    """A checkpoint that verified with its log's key, and who witnessed it."""

    checkpoint: Checkpoint
    witnessing: Witnessing


def _checkpoint(node: Check, authority: str, note: str, context: _Context) -> _Logged | None:
    """Check a checkpoint's signature with the log key the trust list names and read
    its witnesses' cosignatures (a named witness's line that does not verify fails)."""
    member = context.trust.member(authority)
    found: list[_Logged] = []

    def check() -> str:
        if member is None:
            raise ReportError(f"{authority} is not a member of the trust list")
        verifier = parse_verifier_key(member.log.verifier_key)
        opened = open_note(note, [verifier])
        checkpoint = parse_checkpoint(opened.text)
        if checkpoint.origin != member.log.origin:
            raise ReportError(f"the checkpoint is of {checkpoint.origin}, not {member.log.origin}")
        witnessed = witnessing(context.trust, authority, note)
        found.append(_Logged(checkpoint, witnessed))
        return (
            f"{checkpoint.origin} at size {checkpoint.size}, signed by its log key; "
            f"{witnessed.describe()}"
        )

    _attempt(node, f"checkpoint of {authority}", check)
    return found[0] if found else None


def _witnessed(node: Check, logged: _Logged | None, *, declared: bool) -> None:
    """A checkpoint must be witnessed under the trust list's policy, unless the file
    says it is not yet (``declared``), which is then shown, not passed over."""
    if logged is None:
        return
    checkpoint, found = logged.checkpoint, logged.witnessing
    name = f"witnessed ({checkpoint.size} entries)"
    if found.witnessed:
        at = found.witnessed_at.isoformat() if found.witnessed_at else "?"
        node.add(Check(name, True, f"{found.describe()}, the policy's number by {at}"))
    elif declared:
        node.add(Check(name, None, f"NOT YET WITNESSED, as it says: {found.describe()}"))
    else:
        node.add(
            Check(
                name,
                False,
                f"below the witness policy: {found.describe()}; a checkpoint only its "
                "own log signed can show different histories to different people",
            )
        )


def _included(
    node: Check,
    document: Mapping[str, Any],
    *,
    index: object,
    size: object,
    hashes: object,
    logged: _Logged | None,
) -> None:
    def check() -> str:
        if logged is None:
            raise ReportError("no valid checkpoint of its log to check against")
        checkpoint = logged.checkpoint
        if not isinstance(index, int) or not isinstance(size, int):
            raise ReportError("leaf index and tree size must be integers")
        if size != checkpoint.size:
            raise ReportError(f"the proof is for size {size}, the checkpoint for {checkpoint.size}")
        if not isinstance(hashes, list):
            raise ReportError("the inclusion proof must be a list of base64 hashes")
        try:
            proof = [base64.b64decode(h, validate=True) for h in hashes]
        except (binascii.Error, TypeError, ValueError) as exc:
            raise ReportError("an inclusion-proof hash is not base64") from exc
        leaf = leaf_hash(canonical_bytes(document))
        verify_inclusion(leaf, index, size, proof, checkpoint.root)
        return f"leaf {index} of {size} leads to the checkpoint's root"

    _attempt(node, "inclusion in its log", check)


def _bundle(root: Check, bundle: Mapping[str, Any], context: _Context) -> None:
    document = bundle.get("credential")
    node = root.add(Check("credential", None))
    if not isinstance(document, Mapping):
        node.ok = False
        node.detail = "the bundle's credential is not an object"
        return
    logged = _checkpoint(node, str(bundle.get("authority")), str(bundle.get("checkpoint")), context)
    _witnessed(node, logged, declared=False)
    _credential(node, document, context, _witnessed_at(logged))
    _included(
        node,
        document,
        # A bundle saved before the API spelled proofs as reports do is read too.
        index=bundle.get("leafIndex", bundle.get("leaf_index")),
        size=bundle.get("treeSize", bundle.get("tree_size")),
        hashes=bundle.get("inclusionProof", bundle.get("hashes")),
        logged=logged,
    )


def _witnessed_at(logged: _Logged | None) -> datetime | None:
    return logged.witnessing.witnessed_at if logged is not None else None


def _report(root: Check, report: Mapping[str, Any], context: _Context) -> None:
    node = root.add(Check("report", None, str(report.get("id", ""))))
    # 1. The node's signature on the whole report.
    if not _attempt(
        node,
        "report signature",
        lambda: _signed(report, CredentialType.VERIFICATION_REPORT, context, logged=False),
    ):
        return
    subject = report.get("credentialSubject")
    evidence = subject.get("evidence") if isinstance(subject, Mapping) else None
    if not isinstance(subject, Mapping) or not isinstance(evidence, Mapping):
        node.add(Check("evidence", False, "the report carries no evidence"))
        return
    # 2. Each log's checkpoints: its newest, and an earlier one where a credential of
    # a key since reported compromised is proven at a checkpoint witnessed before.
    found, newest = _evidence_checkpoints(node, evidence, subject, context)
    # 3. Each credential relied on: signed, logged, in its state.
    held_on = node.add(Check("credentials relied on", None))
    documents: dict[str, Mapping[str, Any]] = {}
    for item in evidence.get("credentials", []):
        document = item.get("credential")
        if not isinstance(document, Mapping):
            held_on.add(Check("credential", False, "an evidence credential is not an object"))
            continue
        child = held_on.add(Check("credential", None))
        authority = str(item.get("authority"))
        size = item.get("treeSize")
        logged = found.get((authority, size)) if isinstance(size, int) else None
        if _credential(child, document, context, _witnessed_at(logged)):
            documents[str(document.get("id"))] = document
        _included(
            child,
            document,
            index=item.get("leafIndex"),
            size=size,
            hashes=item.get("inclusionProof"),
            logged=logged if logged is not None else newest.get(authority),
        )
        if authority != _issuer(document):
            child.add(
                Check("log", False, f"the credential is {_issuer(document)}'s, not {authority}'s")
            )
    # 4. Each log relied on: the tree the evidence proves against, whether the node
    # says it confirmed it within its bound, and whether it is witnessed (a report
    # from before reports named their logs names none).
    if "logs" in subject:
        _logs(node.add(Check("logs relied on", None)), report, subject, newest)
    # 5. What the report says against what it carries.
    claims = node.add(Check("claims", None))
    _claims(claims, subject, documents)
    for identifier, document in documents.items():
        if _demonstration(document):
            _attempt(
                claims,
                f"demonstration agreement {identifier[-12:]}",
                partial(_demo_only, demo=context.demo),
            )


def _evidence_checkpoints(
    node: Check, evidence: Mapping[str, Any], subject: Mapping[str, Any], context: _Context
) -> tuple[dict[tuple[str, int], _Logged], dict[str, _Logged | None]]:
    """Each checkpoint in a report's evidence checked, by authority and size, and each
    log's newest; each must be witnessed unless the report says its log's newest is
    not yet."""
    logs = node.add(Check("checkpoints", None))
    found: dict[tuple[str, int], _Logged] = {}
    newest: dict[str, _Logged | None] = {}
    for item in evidence.get("checkpoints", []):
        authority = str(item.get("authority"))
        logged = _checkpoint(logs, authority, str(item.get("checkpoint")), context)
        newest.setdefault(authority, None)
        if logged is None:
            continue
        found[(authority, logged.checkpoint.size)] = logged
        held = newest[authority]
        if held is None or held.checkpoint.size < logged.checkpoint.size:
            newest[authority] = logged
    declared = _declared_unwitnessed(subject)
    for (authority, _size), logged in sorted(found.items()):
        _witnessed(logs, logged, declared=authority in declared and newest[authority] is logged)
    return found, newest


def _declared_unwitnessed(subject: Mapping[str, Any]) -> set[str]:
    """The logs the report says are not yet witnessed."""
    logs = subject.get("logs")
    if not isinstance(logs, list):
        return set()
    return {
        str(item.get("authority"))
        for item in logs
        if isinstance(item, Mapping) and item.get("witnessed") is False
    }


def _logs(
    node: Check,
    report: Mapping[str, Any],
    subject: Mapping[str, Any],
    checkpoints: Mapping[str, _Logged | None],
) -> None:
    logs = subject.get("logs")
    items = [i for i in logs if isinstance(i, Mapping)] if isinstance(logs, list) else []
    if not isinstance(logs, list) or len(items) != len(logs):
        node.add(Check("logs", False, "the logs relied on are not a list of objects"))
        return
    created = str(report.get("validFrom"))
    for item in items:
        authority = str(item.get("authority"))
        _attempt(
            node, f"log of {authority}", partial(_log, item, checkpoints.get(authority), created)
        )
    unnamed = sorted(set(checkpoints) - {str(i.get("authority")) for i in items})
    if unnamed:
        node.add(Check("logs", False, f"evidence from {', '.join(unnamed)} names no log"))
    stale = sum(1 for item in items if item.get("current") is not True)
    said = sum(
        1
        for r in subject.get("reasons", [])
        if isinstance(r, Mapping) and r.get("code") == MIRROR_STALE and r.get("decides") is False
    )
    if stale != said:
        node.add(
            Check(
                "logs not current",
                False,
                f"{stale} log(s) not confirmed within the bound, {said} {MIRROR_STALE} reason(s)",
            )
        )
    unwitnessed = len(_declared_unwitnessed(subject))
    told = sum(
        1
        for r in subject.get("reasons", [])
        if isinstance(r, Mapping)
        and r.get("code") == NOT_YET_WITNESSED
        and r.get("decides") is False
    )
    if unwitnessed != told:
        node.add(
            Check(
                "logs not witnessed",
                False,
                f"{unwitnessed} log(s) not yet witnessed, {told} {NOT_YET_WITNESSED} reason(s)",
            )
        )


def _log(item: Mapping[str, Any], logged: _Logged | None, created: str) -> str:
    """A log the report names: the newest checkpoint its evidence carries, whether
    that is witnessed as it says, and whether its confirmation is within the bound
    the report states, as of the report's time."""
    if logged is None:
        raise ReportError("no verified checkpoint of this log is in the evidence")
    checkpoint, found = logged.checkpoint, logged.witnessing
    said = (item.get("witnessed"), item.get("cosignatures"), item.get("cosignaturesRequired"))
    if said != (found.witnessed, len(found.cosigners), found.required):
        raise ReportError(
            f"the report says witnessed {said[0]} with {said[1]} of {said[2]} cosignatures, "
            f"its checkpoint has {found.describe()}"
        )
    root = base64.b64encode(checkpoint.root).decode("ascii")
    named = (item.get("origin"), item.get("treeSize"), item.get("rootHash"))
    if named != (checkpoint.origin, checkpoint.size, root):
        raise ReportError(
            f"the report names {named[0]} at size {named[1]}, its checkpoint "
            f"{checkpoint.origin} at size {checkpoint.size} (or another root)"
        )
    confirmed = item.get("confirmedAt")
    within = item.get("currentWithinSeconds")
    if not isinstance(within, int) or isinstance(within, bool):
        raise ReportError("the log's bound (currentWithinSeconds) is not a whole number")
    current = confirmed is not None and parse_aware(created, "validFrom") - parse_aware(
        str(confirmed), "confirmedAt"
    ) <= timedelta(seconds=within)
    if item.get("current") is not current:
        raise ReportError(f"confirmed at {confirmed}: current is {current}, not as it says")
    state = "current" if current else f"not confirmed within {within} s, as its reasons say"
    witnessed = "witnessed" if found.witnessed else "not yet witnessed, as its reasons say"
    return (
        f"{checkpoint.origin} at size {checkpoint.size}, confirmed {confirmed or 'never'}: "
        f"{state}; {witnessed}"
    )


def _issuer(document: Mapping[str, Any]) -> str:
    try:
        return authority_of(document.get("issuer"))
    except RegistryError:
        return "?"


def _claims(
    node: Check, subject: Mapping[str, Any], documents: Mapping[str, Mapping[str, Any]]
) -> None:
    query = subject.get("query", {})
    region = str(query.get("region", ""))
    on = date.fromisoformat(str(query.get("date")))
    agreements: dict[str, Agreement] = {}
    for identifier, document in documents.items():
        if _type(document) == CredentialType.RECOGNITION_AGREEMENT:
            agreements[identifier] = parse_agreement(document)
    relied: list[tuple[str, Mapping[str, Any], RecordKind | None, date]] = []
    for label, record_kind in (
        ("qualification", RecordKind.QUALIFICATION),
        ("registration", RecordKind.REGISTRATION),
    ):
        finding = subject.get(label)
        if isinstance(finding, Mapping) and finding.get("counts"):
            relied.append((label, finding, record_kind, on))
    # Continuing-education hours count where the registering authority's rule
    # applies: the rule's own region, not the region asked about.
    relied_in: dict[int, str] = {}
    ce = subject.get("continuingEducation")
    periods = [ce, ce.get("previousPeriod")] if isinstance(ce, Mapping) else []
    for period in periods:
        if not isinstance(period, Mapping):
            continue
        rule = period.get("rule", {})
        rule_region = str(rule.get("authority", "")) if isinstance(rule, Mapping) else ""
        for credit in period.get("credits", []):
            if credit.get("counts"):
                day = date.fromisoformat(str(credit.get("completedOn")))
                relied_in[len(relied)] = rule_region
                relied.append(
                    ("continuing-education credit", credit, RecordKind.CONTINUING_EDUCATION, day)
                )
    for listing in subject.get("listings", []):
        relied.append(("listing", listing, None, on))
    for index, (name, finding, kind, day) in enumerate(relied):
        identifier = str(finding.get("id"))
        _attempt(
            node,
            f"{name} {identifier[-12:]}",
            partial(
                _claim,
                identifier,
                finding,
                kind=kind,
                day=day,
                region=relied_in.get(index, region),
                documents=documents,
                agreements=agreements,
            ),
        )
    if subject.get("verdict") == "qualified" and not any(
        k is RecordKind.REGISTRATION for _, _, k, _ in relied
    ):
        node.add(Check("verdict", False, "qualified, yet no registration is relied on"))
    _attempt(node, "verdict", partial(_verdict, subject, documents))


def _verdict(subject: Mapping[str, Any], documents: Mapping[str, Mapping[str, Any]]) -> str:
    """The verdict is what its deciding reasons say, and no listing in the evidence
    that restricts practice, nor a registration to another employer, is passed over."""
    reasons = [r for r in subject.get("reasons", []) if isinstance(r, Mapping)]
    deciding = [r for r in reasons if r.get("decides", True)]
    qualified = subject.get("verdict") == "qualified"
    if qualified != all(r.get("holds") is True for r in deciding):
        raise ReportError(f"the verdict is {subject.get('verdict')}, its deciding reasons differ")
    if not qualified:
        return "not qualified, as its deciding reasons say"
    ce = subject.get("continuingEducation")
    previous = ce.get("previousPeriod") if isinstance(ce, Mapping) else None
    if (
        isinstance(previous, Mapping)
        and previous.get("shortfallEndsPractice") is True
        and previous.get("met") is False
    ):
        raise ReportError("qualified, yet the previous term fell short under a rule it ends")
    for listing in subject.get("listings", []):
        document = documents.get(str(listing.get("id")), {})
        codes = document.get("credentialSubject", {}).get("measureCodes", ())
        if listing.get("counts") and RESTRICT_PRACTICE in codes:
            raise ReportError(f"qualified, yet listing {listing.get('id')} restricts practice")
    employer = subject.get("query", {}).get("employer")
    registration = subject.get("registration", {})
    if employer:
        document = documents.get(str(registration.get("id")), {})
        code = document.get("credentialSubject", {}).get("employer", {}).get("creditCode")
        if str(code).upper() != str(employer).upper():
            raise ReportError(f"qualified for {employer}, yet the registration is to {code}")
    return "qualified, as every deciding reason holds"


def _demonstration(document: Mapping[str, Any]) -> bool:
    """Whether ``document`` is an agreement marked as the demo's (its other fields are
    checked with the claims that cite it)."""
    subject = document.get("credentialSubject")
    return (
        _type(document) == CredentialType.RECOGNITION_AGREEMENT
        and isinstance(subject, Mapping)
        and subject.get("demonstration") is True
    )


def _demo_only(*, demo: bool) -> str:
    """Raises ``ReportError`` for a demonstration agreement a report relies on (its
    evidence holds only what it relies on), unless checking the demo's report."""
    if not demo:
        raise ReportError(
            "relies on a demonstration agreement, which cites a synthetic document: "
            "it counts only in the demo (--demo)"
        )
    return "a demonstration agreement, accepted: checking the demo (--demo)"


def _claim(
    identifier: str,
    finding: Mapping[str, Any],
    *,
    kind: RecordKind | None,
    day: date,
    region: str,
    documents: Mapping[str, Mapping[str, Any]],
    agreements: Mapping[str, Agreement],
) -> str:
    document = documents.get(identifier)
    if document is None:
        raise ReportError("named in the report but not in its verified evidence")
    issuer = _issuer(document)
    if finding.get("issuer") != issuer:
        raise ReportError(f"the report says {finding.get('issuer')}, the credential {issuer}")
    if kind is None:
        return "in the evidence"
    cited = finding.get("agreement")
    if issuer == region:
        return f"issued by {region} itself"
    if not cited:
        raise ReportError(f"issued by {issuer}, yet no agreement is cited for {region}")
    agreement = agreements.get(str(cited))
    if agreement is None:
        raise ReportError(f"the agreement {cited} is not in the verified evidence")
    category = document.get("credentialSubject", {}).get("category")
    recognition = recognise(
        [agreement],
        issuer=issuer,
        region=region,
        kind=kind,
        category=parse_category(category) if category else None,
        level="junior",
        on=day,
    )
    if not recognition.recognised:
        raise ReportError(recognition.reason.en)
    return f"counts in {region} under {agreement.basis_number}"
