"""The ``VerificationReport`` credential: the answer, its reasons, and its evidence.

The report is issued by the authority whose node key signs it (a key the trust list
allows to sign ``VerificationReport`` only). Its subject states the question, the
verdict with every reason in Chinese and English, each record relied on with its
state on the day and the agreement that made it count, the continuing-education
count credit by credit, every listing in force, each log relied on with when this
node last confirmed it with its origin, and the evidence: each log's signed
checkpoint and, for every credential relied on, the credential itself with its
inclusion proof at that checkpoint. ``registry verify`` checks all of it offline.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from registry.credentials import CredentialType, authority_of, new_credential
from registry.crypto.eddsa_jcs_2022 import format_datetime
from registry.crypto.jcs import Splice
from registry.enforcement import listing_terms, measure_codes, restricts_practice
from registry.ids import province
from registry.recognition import Reason
from registry.tlog.proofs import Evidence
from registry.verification.dossier import Dossier
from registry.verification.freshness import LogRelied
from registry.verification.judge import Finding, Judgement, Said, Term

__all__ = ["report_document"]


def reason_of(reason: Reason, holds: bool | None = None) -> dict[str, Any]:
    """A reason as the report states it."""
    value: dict[str, Any] = {"code": reason.code}
    if holds is not None:
        value["holds"] = holds
    value["zh"] = reason.zh
    value["en"] = reason.en
    return value


def said_of(said: Said) -> dict[str, Any]:
    """One of the verdict's reasons: whether it holds, and whether it decides the
    verdict (``decides``) or informs beside it."""
    value = reason_of(said.reason, said.holds)
    value["decides"] = said.decides
    return value


def _hours(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _finding(finding: Finding, fields: Mapping[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": finding.held.id,
        "issuer": finding.held.issuer,
        **fields,
        "state": finding.state,
        "counts": finding.counts,
        "reason": reason_of(finding.reason),
    }
    if finding.agreement:
        value["agreement"] = finding.agreement
    return value


def _qualification(finding: Finding) -> dict[str, Any]:
    subject = finding.held.subject
    return _finding(
        finding,
        {
            "certificateNumber": subject["certificateNumber"],
            "category": subject["category"],
            "level": subject.get("level", "junior"),
            "issuedOn": subject["issuedOn"],
        },
    )


def _registration(finding: Finding) -> dict[str, Any]:
    held = finding.held
    subject = held.subject
    fields: dict[str, Any] = {
        "registrationNumber": subject["registrationNumber"],
        "category": subject["category"],
        "kind": subject["kind"],
        "employer": subject["employer"],
        "validFrom": held.first_day.isoformat(),
    }
    if held.last_day is not None:
        fields["validUntil"] = held.last_day.isoformat()
    for kept in ("changes", "termStartsOn"):
        if kept in subject:
            fields[kept] = subject[kept]
    return _finding(finding, fields)


def _term(term: Term) -> dict[str, Any]:
    assessment = term.assessment
    policy = assessment.policy
    credits = []
    for counted in assessment.credits:
        credit = counted.credit
        entry: dict[str, Any] = {
            "id": credit.id,
            "issuer": credit.issuer,
            "hours": _hours(credit.hours),
            "kind": credit.kind,
            "completedOn": credit.completed_on.isoformat(),
            "counts": counted.counted,
            "reason": reason_of(counted.reason),
        }
        if counted.agreement:
            entry["agreement"] = counted.agreement
        if counted.duplicate_of:
            entry["duplicateOf"] = counted.duplicate_of
        credits.append(entry)
    value: dict[str, Any] = {
        "registration": term.registration.id,
        "rule": {
            "authority": policy.authority,
            "version": policy.version,
            "standing": policy.standing.value,
            "source": policy.source.strip(),
        },
        "period": {"from": term.first_day.isoformat(), "until": term.last_day.isoformat()},
    }
    if policy.official:
        # A provisional rule states no requirement: the hours are reported only.
        value["required"] = {
            "hours": _hours(policy.min_hours_per_term),
            "professionalHours": _hours(policy.min_professional_hours),
            "hoursPerYear": _hours(policy.min_hours_per_year),
        }
        value["shortfallEndsPractice"] = policy.shortfall_ends_practice
    value["counted"] = {
        "general": _hours(assessment.general),
        "professional": _hours(assessment.professional),
        "total": _hours(assessment.total),
    }
    if policy.official:
        value["met"] = assessment.satisfied
        value["shortfalls"] = [reason_of(r) for r in assessment.shortfalls]
    value["credits"] = credits
    # One course counts once: the credits set aside as the same course as one that
    # counts (the same provider, title and completion date).
    value["duplicates"] = [
        {"id": c.credit.id, "sameAs": c.duplicate_of} for c in assessment.duplicates
    ]
    return value


def _listing(finding: Finding) -> dict[str, Any]:
    subject = finding.held.subject
    fields: dict[str, Any] = {"role": finding.held.role, **listing_terms(subject)}
    codes = measure_codes(subject)
    if codes:
        fields["measureCodes"] = codes
    # Whether the decision's own measures restrict practice: only then does the
    # listing decide the verdict.
    fields["restrictsPractice"] = restricts_practice(subject)
    return _finding(finding, fields)


def _query(dossier: Dossier, judgement: Judgement) -> dict[str, Any]:
    asked = dossier.subject
    query: dict[str, Any]
    if asked.masked is not None:
        query = {"by": "resident-id", "residentIdMasked": asked.masked}
    else:
        query = {
            "by": "registration-number",
            "registrationNumber": asked.registration_number,
            "name": asked.name,
        }
    query["region"] = judgement.region
    if judgement.employer is not None:
        query["employer"] = judgement.employer
    if judgement.category is not None:
        query["category"] = judgement.category.value
    query["date"] = judgement.on.isoformat()
    return query


def _verdict_text(judgement: Judgement) -> dict[str, str]:
    region = province(judgement.region)
    day = judgement.on.isoformat()
    if judgement.qualified:
        return {
            "zh": f"{day}，可以在{region.name_zh}以初级注册安全工程师身份执业",
            "en": f"on {day}, may practise as a junior registered safety engineer in "
            f"{region.name_en}",
        }
    return {
        "zh": f"{day}，不能在{region.name_zh}以初级注册安全工程师身份执业，原因见下",
        "en": f"on {day}, may not practise as a junior registered safety engineer in "
        f"{region.name_en}; the reasons follow",
    }


def _evidence(evidence: Evidence, splice: Splice) -> dict[str, Any]:
    return {
        "checkpoints": [
            {"authority": authority, "checkpoint": note}
            for (authority, _size), note in sorted(evidence.checkpoints.items())
        ],
        "credentials": [
            {
                "credential": splice.embed(logged.canonical),
                "authority": logged.authority,
                "leafIndex": logged.leaf_index,
                "treeSize": logged.tree_size,
                "inclusionProof": [base64.b64encode(h).decode("ascii") for h in logged.hashes],
            }
            for logged in evidence.credentials
        ],
    }


def _log(log: LogRelied) -> dict[str, Any]:
    value: dict[str, Any] = {
        "authority": log.authority,
        "origin": log.origin,
        "mirrored": log.mirrored,
        "treeSize": log.size,
        "rootHash": base64.b64encode(log.root).decode("ascii"),
    }
    if log.confirmed_at is not None:
        value["confirmedAt"] = format_datetime(log.confirmed_at)
    value["currentWithinSeconds"] = int(log.bound.total_seconds())
    value["current"] = log.current
    if log.witnessing is not None:
        value["cosignatures"] = len(log.witnessing.cosigners)
        value["cosignaturesRequired"] = log.witnessing.required
        value["witnessed"] = log.witnessing.witnessed
    return value


def report_document(
    dossier: Dossier,
    judgement: Judgement,
    evidence: Evidence,
    *,
    issuer: str,
    created: datetime,
    agreements: Sequence[Mapping[str, Any]] = (),
    logs: Sequence[LogRelied] = (),
    splice: Splice,
) -> dict[str, Any]:
    """The unsigned report; ``agreements`` are the agreements relied on, ``logs`` the
    logs the answer rests on (every log the node holds), with when this node last
    confirmed each. Each evidence credential is a placeholder of ``splice`` for its
    stored canonical text: the report's canonical form is written without parsing them."""
    subject: dict[str, Any] = {"query": _query(dossier, judgement)}
    if dossier.records:
        subject["holder"] = {"name": dossier.name, "residentIdMasked": dossier.masked}
    subject["verdict"] = "qualified" if judgement.qualified else "not-qualified"
    subject["verdictText"] = _verdict_text(judgement)
    subject["reasons"] = [said_of(said) for said in judgement.reasons]
    if judgement.qualification is not None:
        subject["qualification"] = _qualification(judgement.qualification)
    if judgement.registration is not None:
        subject["registration"] = _registration(judgement.registration)
    if judgement.other_registrations:
        subject["otherRegistrations"] = [_registration(f) for f in judgement.other_registrations]
    if judgement.ce is not None or judgement.ce_previous is not None:
        # The term's own hours (none where its authority has no rule for it), and the
        # previous term's for a renewal.
        ce = _term(judgement.ce) if judgement.ce is not None else {}
        if judgement.ce_previous is not None:
            ce["previousPeriod"] = _term(judgement.ce_previous)
        subject["continuingEducation"] = ce
    subject["listings"] = [_listing(f) for f in judgement.listings]
    subject["agreements"] = [
        {
            "id": a["id"],
            "issuer": authority_of(a["issuer"]),
            "parties": a["credentialSubject"]["parties"],
            "legalBasis": a["credentialSubject"]["legalBasis"],
        }
        for a in agreements
    ]
    subject["logs"] = [_log(log) for log in logs]
    subject["evidence"] = _evidence(evidence, splice)
    return new_credential(
        type_=CredentialType.VERIFICATION_REPORT,
        issuer_code=issuer,
        subject=subject,
        valid_from=created,
    )
