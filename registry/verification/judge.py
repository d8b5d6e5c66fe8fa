"""Whether a person may work as a junior registered safety engineer in a region on a day.

An employer reads the verdict as the rules' answer, so it decides only what the rules
and the authorities' own signed decisions decide, and reports the rest. Every reason
says whether it *decides* (the verdict is "qualified" exactly when every deciding
reason holds) or *informs* (stated beside the verdict, never against it). The table
of reasons with their sources is in ``docs/verification.md``.

Deciding:

1. A qualification in the category asked about (any, if none is asked), issued by
   that day, not revoked by then, and issued by the region's authority or
   recognised there by an agreement in force that day.
2. A registration resting on such a qualification, in force that day (within its
   term, not suspended, revoked, cancelled or superseded), of that category, and
   issued by the region's authority or recognised there by an agreement in force
   that day. A registration the authority granted stands until it ends or a signed
   decision ends it (《注册安全工程师职业资格制度规定》, 2019).
3. With an employer asked about (its credit code): the registration is to that
   employer. An engineer practises for the one employer they are registered to
   (不得同时受聘于两个或两个以上单位, 《注册安全工程师分类管理办法》).
4. A listing in force that names the person decides only through its own coded
   measure ``restrict-practice``; the reason says so. No rule makes a listing as
   such end or suspend a registration (《安全生产严重失信主体名单管理办法》,
   应急管理部令第11号).

Informing:

- Continuing education, under the rule of the registering authority, over the
  registration's own term (a 变更注册 keeps the term it changes): hours by kind, the
  rule and its legal source. Under a provisional rule the hours are not assessed.
  Continuing education is a condition the registering authority checks when it
  grants a renewal (延续注册); a shortfall of the term before a renewal decides only
  where that authority's official rule says that a shortfall itself ends the right
  to practise (``shortfall_ends_practice``).
- Every listing in force that names the person, with its measures.
- Any other registration of the person in force on the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from registry.calendar import add_years
from registry.ce import Assessment, CePolicy, Credit, PolicyBook, assess, format_hours
from registry.credentials import CredentialType
from registry.enforcement import restricts_practice, status_on
from registry.errors import NotFound
from registry.ids import Category, parse_category, province
from registry.issuing.duplicates import course_title_key
from registry.recognition import Agreement, Reason, RecordKind, recognise
from registry.verification.dossier import (
    Dossier,
    Held,
)

__all__ = ["Finding", "Judgement", "Said", "judge"]


@dataclass(frozen=True)
class Finding:
    """One record weighed: its state on the day, whether it counts, why, and under
    which agreement."""

    held: Held
    state: str
    counts: bool
    reason: Reason
    agreement: str | None = None


@dataclass(frozen=True)
class Said:
    """One reason of the answer: whether it holds, and whether it decides the verdict
    or only informs beside it."""

    reason: Reason
    holds: bool
    decides: bool = True


@dataclass(frozen=True)
class Term:
    """A registration's term as continuing education counts it, and its assessment."""

    registration: Held
    first_day: date
    last_day: date
    assessment: Assessment


@dataclass(frozen=True)
class Judgement:
    """The answer and everything it rests on."""

    region: str
    on: date
    category: Category | None
    qualified: bool
    reasons: list[Said]
    qualification: Finding | None = None
    registration: Finding | None = None
    ce: Term | None = None
    ce_previous: Term | None = None
    listings: list[Finding] = field(default_factory=list)
    agreements: list[str] = field(default_factory=list)
    credit_records: dict[str, Held] = field(default_factory=dict)
    employer: str | None = None
    other_registrations: list[Finding] = field(default_factory=list)

    def relied(self) -> list[Held]:
        """Every record the answer rests on: those found to count, every counted CE
        credit, and every listing in force."""
        found: dict[str, Held] = {}
        for finding in (self.qualification, self.registration):
            if finding is not None and finding.counts:
                found[finding.held.id] = finding.held
        for term in (self.ce_previous, self.ce):
            if term is not None and term.registration.id not in found:
                found[term.registration.id] = term.registration
            for counted in term.assessment.credits if term else ():
                if counted.counted:
                    found[counted.credit.id] = self.credit_records[counted.credit.id]
        for listing in (*self.listings, *self.other_registrations):
            found[listing.held.id] = listing.held
        return list(found.values())


@dataclass(frozen=True)
class _Ask:
    region: str
    on: date
    category: Category | None
    agreements: Sequence[Agreement]
    employer: str | None = None


_NO_RECORDS = Reason(
    "no-records",
    "未查到该人员的注册安全工程师记录",
    "the registry holds no safety-engineer record for this person",
)
# The number exists, under another name: said so, and nothing of whose it is.
_NAME_MISMATCH = Reason(
    "name-mismatch",
    "姓名与该注册编号登记的姓名不符",
    "the name does not match this registration",
)


def judge(
    dossier: Dossier,
    *,
    region: str,
    on: date,
    agreements: Sequence[Agreement],
    policies: PolicyBook,
    category: Category | None = None,
    employer: str | None = None,
) -> Judgement:
    """Decide for ``dossier`` in ``region`` on ``on`` (for ``employer``, a credit code,
    if given); see the module's rules."""
    region = province(region).iso
    reasons: list[Said] = []
    if not dossier.records:
        reasons.append(Said(_NAME_MISMATCH if dossier.name_mismatch else _NO_RECORDS, False))
        return Judgement(region, on, category, False, reasons, employer=employer)
    ask = _Ask(region, on, category, agreements, employer)
    qualifications = [_qualification(h, ask) for h in dossier.of_type(CredentialType.QUALIFICATION)]
    good = {f.held.id: f for f in qualifications if f.counts}
    registrations = [
        _registration(h, ask, good) for h in dossier.of_type(CredentialType.REGISTRATION)
    ]
    registration = _best(registrations, employer)
    qualification = _best(qualifications)
    if registration is not None and registration.counts:
        qualification = good[_rests_on(registration.held, good)]
    # 1. The qualification.
    if qualification is None:
        reasons.append(
            Said(
                Reason(
                    "no-qualification",
                    "未查到该人员的初级注册安全工程师职业资格",
                    "no junior registered safety engineer qualification was found",
                ),
                False,
            )
        )
    else:
        reasons.append(Said(qualification.reason, qualification.counts))
    # 2. The registration.
    if registration is None:
        reasons.append(
            Said(
                Reason(
                    "not-registered",
                    "未查到注册记录：取得职业资格但未注册的，不得以注册安全工程师名义执业",
                    "no registration was found: a qualification alone does not allow "
                    "practising as a registered safety engineer",
                ),
                False,
            )
        )
    else:
        reasons.append(Said(registration.reason, registration.counts))
    # 3. The employer asked about; any other registration in force.
    others: list[Finding] = []
    if registration is not None and registration.counts:
        if employer is not None:
            reasons.append(_employer(registration.held, employer))
        # Suspended, a registration still holds its post (one employer at a time).
        others = [
            f
            for f in registrations
            if f.held.id != registration.held.id
            and _in_term(f.held, on)
            and f.state in ("active", "suspended")
        ]
        reasons.extend(_other_registration(f.held) for f in others)
    # 4. Continuing education: information, unless the registering authority's
    # official rule says a shortfall ends the right to practise.
    ce = ce_previous = None
    if registration is not None and registration.counts:
        ce, ce_previous, ce_reasons = _continuing_education(
            dossier, registration.held, ask, policies
        )
        reasons.extend(ce_reasons)
    # 5. Listings: reported; decisive only through a measure restricting practice.
    listings = [_listing(h, on) for h in dossier.of_type(CredentialType.LISTING)]
    listings = [f for f in listings if f.counts]
    reasons.extend(Said(f.reason, False, _restricts_practice(f.held)) for f in listings)
    qualified = all(said.holds for said in reasons if said.decides)
    used = {
        f.agreement
        for f in (qualification, registration)
        if f is not None and f.counts and f.agreement
    }
    for term in (ce_previous, ce):
        used |= {c.agreement for c in (term.assessment.credits if term else ()) if c.agreement}
    return Judgement(
        region=region,
        on=on,
        category=category,
        qualified=qualified,
        reasons=reasons,
        qualification=qualification,
        registration=registration,
        ce=ce,
        ce_previous=ce_previous,
        listings=listings,
        agreements=sorted(a for a in used if a),
        credit_records={h.id: h for h in dossier.of_type(CredentialType.CE_CREDIT)},
        employer=employer,
        other_registrations=others,
    )


def _in_term(held: Held, on: date) -> bool:
    return held.first_day <= on and (held.last_day is None or on <= held.last_day)


def _employer_code(held: Held) -> str:
    return str(held.subject.get("employer", {}).get("creditCode", "")).upper()


def _employer(held: Held, employer: str) -> Said:
    subject = held.subject
    number = subject["registrationNumber"]
    name = subject.get("employer", {}).get("name", "")
    if _employer_code(held) == employer.upper():
        return Said(
            Reason(
                "registered-to-employer",
                f"注册证书 {number} 的聘用单位即所查询的单位（{name}）",
                f"registration {number} is to the employer asked about ({name})",
            ),
            True,
        )
    return Said(
        Reason(
            "registered-to-other-employer",
            f"注册证书 {number} 的聘用单位为{name}（{_employer_code(held)}），不是所查询的单位"
            f"（{employer}）：注册安全工程师只能在其注册的聘用单位执业，不得同时受聘于两个"
            "或两个以上单位，到新单位执业须办理变更注册",
            f"registration {number} is to {name} ({_employer_code(held)}), not to the employer "
            f"asked about ({employer}): an engineer practises for the one employer registered, "
            "and working for another needs a change of registration (变更注册)",
        ),
        False,
    )


def _other_registration(held: Held) -> Said:
    subject = held.subject
    number = subject["registrationNumber"]
    name = subject.get("employer", {}).get("name", "")
    issuer = province(held.issuer)
    last = held.last_day
    period = f"{held.first_day} 至 {last}" if last else f"{held.first_day} 起"
    period_en = f"{held.first_day} to {last}" if last else f"from {held.first_day}"
    return Said(
        Reason(
            "other-active-registration",
            f"该人员另有注册证书 {number}（{issuer.name_zh}，聘用单位{name}，有效期 {period}）"
            "同时有效：同一时间只能受聘于一个单位，请向注册机关核实",
            f"the person holds another registration in force, {number} ({issuer.name_en}, "
            f"employer {name}, valid {period_en}): one employer at a time is the rule, so "
            "check with the registering authority",
        ),
        False,
        decides=False,
    )


def _restricts_practice(held: Held) -> bool:
    return restricts_practice(held.subject)


def _best(findings: list[Finding], employer: str | None = None) -> Finding | None:
    # One that counts (to the employer asked about, if any, first), the newest first;
    # else the newest, whose reason is shown.
    if not findings:
        return None
    ordered = sorted(
        findings,
        key=lambda f: (
            f.counts,
            employer is not None and _employer_code(f.held) == employer.upper(),
            f.held.first_day,
            f.held.id,
        ),
    )
    return ordered[-1]


_STATE_ZH = {
    "revoked": "已撤销",
    "superseded": "已由其后的记录取代（更正或变更注册）",
    "suspended": "已暂停执业",
    "cancelled": "已注销",
}


def _qualification(held: Held, ask: _Ask) -> Finding:
    on, category = ask.on, ask.category
    subject = held.subject
    number = subject["certificateNumber"]
    state = held.state_on(on)
    own = parse_category(subject["category"])
    if held.first_day > on:
        return Finding(
            held,
            state,
            False,
            Reason(
                "qualification-not-yet-issued",
                f"职业资格证书 {number} 于 {held.first_day} 取得，晚于查询日期",
                f"qualification {number} was issued on {held.first_day}, after the day asked about",
            ),
        )
    if state != "active":
        return Finding(
            held,
            state,
            False,
            Reason(
                f"qualification-{state}",
                f"职业资格证书 {number} {_STATE_ZH.get(state, state)}",
                f"qualification {number} is {state}",
            ),
        )
    if category is not None and own is not category:
        return _other_category(held, state, number, own, category)
    return _recognised(
        held,
        state,
        ask,
        RecordKind.QUALIFICATION,
        own,
        level=str(subject.get("level", "junior")),
        zh=f"职业资格证书 {number}（{own.name_zh}）",
        en=f"qualification {number} ({own.value})",
    )


_RECORD_NAMES = {
    CredentialType.QUALIFICATION: ("qualification", "职业资格证书"),
    CredentialType.REGISTRATION: ("registration", "注册证书"),
}


def _other_category(held: Held, state: str, number: str, own: Category, asked: Category) -> Finding:
    what, what_zh = _RECORD_NAMES[CredentialType(held.type)]
    return Finding(
        held,
        state,
        False,
        Reason(
            f"{what}-other-category",
            f"{what_zh} {number} 的专业类别为“{own.name_zh}”，不是“{asked.name_zh}”",
            f"{what} {number} is in the {own.value} category, not {asked.value}",
        ),
    )


def _recognised(
    held: Held,
    state: str,
    ask: _Ask,
    kind: RecordKind,
    category: Category,
    *,
    level: str,
    zh: str,
    en: str,
) -> Finding:
    """Whether the record counts in the region on the day, its reason prefixed with
    what the record is (``zh``, ``en``)."""
    recognition = recognise(
        ask.agreements,
        issuer=held.issuer,
        region=ask.region,
        kind=kind,
        category=category,
        level=level,
        on=ask.on,
    )
    return Finding(
        held,
        state,
        recognition.recognised,
        Reason(
            recognition.reason.code,
            f"{zh}：{recognition.reason.zh}",
            f"{en}: {recognition.reason.en}",
        ),
        recognition.agreement.id if recognition.agreement else None,
    )


def _rests_on(held: Held, good: dict[str, Finding]) -> str:
    reference = str(held.subject.get("qualification", ""))
    if reference in good:
        return reference
    for finding in good.values():
        if finding.held.subject.get("certificateNumber") == reference:
            return finding.held.id
    return ""


def _registration(held: Held, ask: _Ask, good: dict[str, Finding]) -> Finding:
    on, category = ask.on, ask.category
    subject = held.subject
    number = subject["registrationNumber"]
    state = held.state_on(on)
    own = parse_category(subject["category"])
    last = held.last_day
    if held.first_day > on or (last is not None and on > last):
        until = f"{held.first_day} 至 {last}" if last else f"{held.first_day} 起"
        return Finding(
            held,
            state,
            False,
            Reason(
                "registration-not-in-force",
                f"注册证书 {number} 的有效期为 {until}，查询日期不在其内",
                f"registration {number} is valid from {held.first_day}"
                + (f" to {last}" if last else "")
                + ", which does not cover the day asked about",
            ),
        )
    if state != "active":
        return Finding(
            held,
            state,
            False,
            Reason(
                f"registration-{state}",
                f"注册证书 {number} {_STATE_ZH.get(state, state)}，不得执业",
                f"registration {number} is {state}: the engineer may not practise on it",
            ),
        )
    if category is not None and own is not category:
        return _other_category(held, state, number, own, category)
    if not _rests_on(held, good):
        return Finding(
            held,
            state,
            False,
            Reason(
                "registration-qualification-does-not-count",
                f"注册证书 {number} 所依据的职业资格在本地不被认可或已失效",
                f"the qualification registration {number} rests on does not count here",
            ),
        )
    employer = subject.get("employer", {}).get("name", "")
    period = f"{held.first_day} 至 {last}" if last else f"{held.first_day} 起"
    period_en = f"{held.first_day} to {last}" if last else f"from {held.first_day}"
    return _recognised(
        held,
        state,
        ask,
        RecordKind.REGISTRATION,
        own,
        level="junior",
        zh=f"注册证书 {number}（{employer}，有效期 {period}）",
        en=f"registration {number} ({employer}, valid {period_en})",
    )


def _credits(dossier: Dossier, on: date) -> list[Credit]:
    credits = []
    for held in dossier.of_type(CredentialType.CE_CREDIT):
        subject = held.subject
        credits.append(
            Credit(
                id=held.id,
                issuer=held.issuer,
                hours=Fraction(str(subject["hours"])),
                kind=str(subject["kind"]),
                completed_on=date.fromisoformat(subject["completedOn"]),
                in_force=held.state_on(on) == "active",
                course=(
                    str(subject["provider"]["creditCode"]).upper(),
                    course_title_key(str(subject["course"]["title"])),
                    str(subject["completedOn"]),
                ),
            )
        )
    return credits


def _term_of(registration: Held) -> tuple[date, date]:
    """The term continuing education counts over: the registration's own, or, for a
    变更注册 that keeps the term of the one it changes, from that term's first day."""
    kept = registration.subject.get("termStartsOn")
    first = date.fromisoformat(kept) if isinstance(kept, str) else registration.first_day
    last = registration.last_day or add_years(first, 5)
    return first, last


def _previous(dossier: Dossier, registration: Held) -> Held | None:
    """The registration a renewal follows: the person's latest whose term ended
    before this one's began, neither superseded (the correction or the change
    registration that replaced it is found instead) nor revoked by its end, of the
    same authority and category where there is one."""
    first, _ = _term_of(registration)
    subject = registration.subject
    before = [
        h
        for h in dossier.of_type(CredentialType.REGISTRATION)
        if h.id != registration.id
        and h.last_day is not None
        and h.last_day < first
        # Superseded whenever (a correction replaces it whole), or revoked by its end.
        and h.state_on(date.max) != "superseded"
        and h.state_on(h.last_day) != "revoked"
    ]
    return max(
        before,
        key=lambda h: (
            h.issuer == registration.issuer,
            h.subject.get("category") == subject.get("category"),
            h.last_day or first,
            h.first_day,
            h.id,
        ),
        default=None,
    )


def _kind(dossier: Dossier, registration: Held) -> str:
    """What the registration's term is: a change registration keeps the term of the
    registration it changes, so it is a renewal's term if that was a renewal."""
    by_id = {h.id: h for h in dossier.of_type(CredentialType.REGISTRATION)}
    held, seen = registration, set()
    # Only a change that kept the term (it starts later than the term) follows it.
    while (
        held.subject.get("kind") == "change"
        and str(held.subject.get("termStartsOn", "9999")) < held.first_day.isoformat()
    ):
        changed = by_id.get(str(held.subject.get("changes", "")))
        if changed is None or changed.id in seen:
            break
        seen.add(changed.id)
        held = changed
    return str(held.subject.get("kind", ""))


def _term(dossier: Dossier, registration: Held, ask: _Ask, policies: PolicyBook) -> Term | Reason:
    """The registration's term assessed under its registering authority's rule, or
    the reason there is no rule for it."""
    first, last = _term_of(registration)
    authority = province(registration.issuer)
    try:
        policy = policies.for_term(authority.iso, first)
    except NotFound:
        return Reason(
            "no-ce-rule",
            f"{authority.name_zh}没有适用于 {first} 起注册周期的继续教育规定，学时未评估",
            f"{authority.name_en} has no continuing-education rule for a term starting "
            f"{first}; the hours were not assessed",
        )
    assessment = assess(
        _credits(dossier, ask.on),
        policy=policy,
        region=authority.iso,
        term=(first, last),
        on=min(ask.on, last),
        agreements=ask.agreements,
        category=parse_category(registration.subject["category"]),
    )
    return Term(registration, first, last, assessment)


def _hours_text(assessment: Assessment) -> tuple[str, str]:
    h = format_hours
    return (
        f"{h(assessment.total)} 学时（公需科目 {h(assessment.general)}，"
        f"专业科目 {h(assessment.professional)}）",
        f"{h(assessment.total)} hours ({h(assessment.general)} general, "
        f"{h(assessment.professional)} professional)",
    )


def _rule_text(policy: CePolicy) -> tuple[str, str]:
    authority = province(policy.authority)
    if policy.official:
        return (
            f"依据{authority.name_zh}继续教育规定（第 {policy.version} 版）",
            f"under {authority.name_en}'s continuing-education rule (version {policy.version})",
        )
    return (
        f"{authority.name_zh}尚未发布正式的继续教育规定，学时未按正式规定评估，不据此提出要求",
        f"{authority.name_en} has published no official continuing-education rule here: the "
        "hours were not assessed under an official rule, and no requirement is stated",
    )


def _continuing_education(
    dossier: Dossier, registration: Held, ask: _Ask, policies: PolicyBook
) -> tuple[Term | None, Term | None, list[Said]]:
    reasons: list[Said] = []
    found_current = _term(dossier, registration, ask, policies)
    current: Term | None = None
    if isinstance(found_current, Reason):
        reasons.append(Said(found_current, True, decides=False))
    else:
        current = found_current
        reasons.append(_current(current))
    previous: Term | None = None
    if _kind(dossier, registration) in ("renewal", "re-registration"):
        before = _previous(dossier, registration)
        if before is None:
            reasons.append(
                Said(
                    Reason(
                        "ce-previous-term-not-held",
                        "本注册为延续注册或重新注册，本系统未保存其之前的注册；继续教育由注册机关"
                        "在准予注册时审核，准予的注册有效",
                        "this registration is a renewal or re-registration and the registry "
                        "holds no earlier registration: the registering authority checked "
                        "continuing education when it granted it, and the registration stands",
                    ),
                    True,
                    decides=False,
                )
            )
        else:
            found = _term(dossier, before, ask, policies)
            if isinstance(found, Reason):
                reasons.append(Said(found, True, decides=False))
            else:
                previous = found
                reasons.append(_previous_term(found))
    return current, previous, reasons


def _current(term: Term) -> Said:
    assessment, policy = term.assessment, term.assessment.policy
    first, last = term.first_day, term.last_day
    hours_zh, hours_en = _hours_text(assessment)
    rule_zh, rule_en = _rule_text(policy)
    zh = f"本注册周期（{first} 至 {last}）已登记继续教育 {hours_zh}；{rule_zh}"
    en = f"continuing education in this registration term ({first} to {last}): {hours_en} " + (
        f"counted {rule_en}" if policy.official else f"recorded; {rule_en}"
    )
    if not policy.official:
        return Said(Reason("ce-term-hours", zh, en), True, decides=False)
    required = format_hours(policy.min_hours_per_term)
    if assessment.satisfied:
        return Said(
            Reason(
                "ce-term-met",
                f"{zh}，已达到本周期 {required} 学时的要求",
                f"{en}, meeting the {required} hours the term requires",
            ),
            True,
            decides=False,
        )
    return Said(
        Reason(
            "ce-term-in-progress",
            f"{zh}，本周期须在 {last} 前完成 {required} 学时（由注册机关在延续注册时审核）",
            f"{en}; the term requires {required} hours by {last}, which the registering "
            "authority checks at renewal",
        ),
        True,
        decides=False,
    )


def _previous_term(term: Term) -> Said:
    assessment, policy = term.assessment, term.assessment.policy
    first, last = term.first_day, term.last_day
    number = term.registration.subject["registrationNumber"]
    hours_zh, hours_en = _hours_text(assessment)
    rule_zh, rule_en = _rule_text(policy)
    zh = f"上一注册周期（注册证书 {number}，{first} 至 {last}）已登记继续教育 {hours_zh}；{rule_zh}"
    en = (
        f"the previous registration term (registration {number}, {first} to {last}): "
        f"{hours_en}; {rule_en}"
    )
    if not policy.official:
        return Said(Reason("ce-previous-hours", zh, en), True, decides=False)
    if assessment.satisfied:
        return Said(
            Reason("ce-previous-met", f"{zh}，达到要求", f"{en}, meeting its requirement"),
            True,
            decides=False,
        )
    short_zh = "；".join(r.zh for r in assessment.shortfalls)
    short_en = "; ".join(r.en for r in assessment.shortfalls)
    if policy.shortfall_ends_practice:
        return Said(
            Reason(
                "ce-previous-shortfall-ends-practice",
                f"{zh}，未达要求（{short_zh}）；依该规定，继续教育未达要求的不得执业",
                f"{en}, short of its requirement ({short_en}); under this rule a shortfall "
                "ends the right to practise",
            ),
            False,
        )
    return Said(
        Reason(
            "ce-previous-shortfall",
            f"{zh}，本系统登记的学时未达要求（{short_zh}）；继续教育由注册机关在准予延续注册时"
            "审核，准予的注册有效，本项仅供参考",
            f"{en}, short of its requirement by the hours the registry holds ({short_en}); "
            "the registering authority checks continuing education when it grants a renewal, "
            "so the registration it granted stands and this is information only",
        ),
        False,
        decides=False,
    )


def _listing(held: Held, on: date) -> Finding:
    subject = held.subject
    listed_on = date.fromisoformat(subject["listedOn"])
    state = held.state_on(on)
    in_force = status_on(subject, held.changes, on).in_force
    name = province(held.issuer)
    role = "" if held.role == "listed" else f"（作为{_ROLE_ZH.get(held.role, held.role)}）"
    role_en = "" if held.role == "listed" else f" (as {held.role.replace('-', ' ')})"
    measures = "；".join(str(m) for m in subject.get("measures", ()))
    listed_zh = (
        f"被{name.name_zh}列入安全生产严重失信主体名单{role}（"
        f"{subject['listingDecisionNumber']}，{listed_on} 起），管理措施：{measures}"
    )
    listed_en = (
        f"listed as a seriously untrustworthy party in production safety by "
        f"{name.name_en}{role_en} (decision {subject['listingDecisionNumber']}, "
        f"from {listed_on}); measures: {measures}"
    )
    if _restricts_practice(held):
        reason = Reason(
            "listing-restricts-practice",
            f"{listed_zh}；该决定的措施限制其执业，在名单期内不得执业",
            f"{listed_en}; the decision's measures restrict the person's practice, so they "
            "may not practise while listed",
        )
    else:
        reason = Reason(
            "listed-untrustworthy",
            f"{listed_zh}；该决定的措施不限制执业，本结论不以此为据，仅供参考",
            f"{listed_en}; the decision's measures do not restrict practice, so the verdict "
            "does not rest on it: information only",
        )
    return Finding(held, state, in_force, reason)


_ROLE_ZH = {
    "principal": "主要负责人",
    "responsible": "有关责任人员",
    "directly-responsible": "直接责任人员",
    "other-responsible": "其他负有责任的人员",
    # Taken before Order 11's terms; stored credentials still carry them.
    "legal-representative": "法定代表人",
    "safety-lead": "安全负责人",
}
