"""Whether a person may work as a junior registered safety engineer in a region on a day.

The rules, each stated to the HR officer as a reason in Chinese and English:

1. A qualification in the category asked about (any, if none is asked), issued by
   that day, not revoked by then, and issued by the region's authority or
   recognised there by an agreement in force that day.
2. A registration resting on such a qualification, in force that day (within its
   validity, not suspended, revoked or cancelled), of that category, and issued by
   the region's authority or recognised there by an agreement in force that day.
3. Continuing education, under the region's rule: the registration period is the
   registration's own, counted from its first day. The hours of the period under
   way are reported as progress (they are due by its end). A renewal or
   re-registration rests on the period before it: if that period's hours fall
   short, the person does not qualify.
4. No untrustworthiness listing against the person in force that day, in any
   province of the federation: joint punishment binds everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from registry.calendar import LeapDay, add_years
from registry.ce import Assessment, Credit, PolicyBook, assess, format_hours
from registry.credentials import CredentialType
from registry.enforcement import status_on
from registry.errors import NotFound
from registry.ids import Category, parse_category, province
from registry.issuing.duplicates import course_title_key
from registry.recognition import Agreement, Reason, RecordKind, recognise
from registry.verification.dossier import (
    Dossier,
    Held,
)

__all__ = ["Finding", "Judgement", "judge"]


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
class Judgement:
    """The answer and everything it rests on."""

    region: str
    on: date
    category: Category | None
    qualified: bool
    reasons: list[tuple[bool, Reason]]
    qualification: Finding | None = None
    registration: Finding | None = None
    ce: Assessment | None = None
    ce_previous: Assessment | None = None
    listings: list[Finding] = field(default_factory=list)
    agreements: list[str] = field(default_factory=list)
    credit_records: dict[str, Held] = field(default_factory=dict)

    def relied(self) -> list[Held]:
        """Every record the answer rests on: those found to count, every counted CE
        credit, and every listing in force."""
        found: dict[str, Held] = {}
        for finding in (self.qualification, self.registration):
            if finding is not None and finding.counts:
                found[finding.held.id] = finding.held
        for assessment in (self.ce_previous, self.ce):
            for counted in assessment.credits if assessment else ():
                if counted.counted:
                    found[counted.credit.id] = self.credit_records[counted.credit.id]
        for listing in self.listings:
            found[listing.held.id] = listing.held
        return list(found.values())


@dataclass(frozen=True)
class _Ask:
    region: str
    on: date
    category: Category | None
    agreements: Sequence[Agreement]


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
) -> Judgement:
    """Decide for ``dossier`` in ``region`` on ``on``; see the module's rules."""
    region = province(region).iso
    reasons: list[tuple[bool, Reason]] = []
    if not dossier.records:
        reasons.append((False, _NAME_MISMATCH if dossier.name_mismatch else _NO_RECORDS))
        return Judgement(region, on, category, False, reasons)
    ask = _Ask(region, on, category, agreements)
    qualifications = [_qualification(h, ask) for h in dossier.of_type(CredentialType.QUALIFICATION)]
    good = {f.held.id: f for f in qualifications if f.counts}
    registrations = [
        _registration(h, ask, good) for h in dossier.of_type(CredentialType.REGISTRATION)
    ]
    registration = _best(registrations)
    qualification = _best(qualifications)
    if registration is not None and registration.counts:
        qualification = good[_rests_on(registration.held, good)]
    # 1. The qualification.
    if qualification is None:
        reasons.append(
            (
                False,
                Reason(
                    "no-qualification",
                    "未查到该人员的初级注册安全工程师职业资格",
                    "no junior registered safety engineer qualification was found",
                ),
            )
        )
    else:
        reasons.append((qualification.counts, qualification.reason))
    # 2. The registration.
    if registration is None:
        reasons.append(
            (
                False,
                Reason(
                    "not-registered",
                    "未查到注册记录：取得职业资格但未注册的，不得以注册安全工程师名义执业",
                    "no registration was found: a qualification alone does not allow "
                    "practising as a registered safety engineer",
                ),
            )
        )
    else:
        reasons.append((registration.counts, registration.reason))
    # 3. Continuing education.
    ce = ce_previous = None
    if registration is not None and registration.counts:
        ce, ce_previous, ce_reasons = _continuing_education(
            dossier, registration.held, ask, policies
        )
        reasons.extend(ce_reasons)
    # 4. Listings.
    listings = [_listing(h, on) for h in dossier.of_type(CredentialType.LISTING)]
    listings = [f for f in listings if f.counts]
    reasons.extend((False, f.reason) for f in listings)
    qualified = all(holds for holds, _ in reasons)
    used = {
        f.agreement
        for f in (qualification, registration)
        if f is not None and f.counts and f.agreement
    }
    for assessment in (ce_previous, ce):
        used |= {c.agreement for c in (assessment.credits if assessment else ()) if c.agreement}
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
    )


def _best(findings: list[Finding]) -> Finding | None:
    # One that counts, the newest first; else the newest, whose reason is shown.
    if not findings:
        return None
    ordered = sorted(findings, key=lambda f: (f.counts, f.held.first_day, f.held.id))
    return ordered[-1]


_STATE_ZH = {
    "revoked": "已撤销",
    "superseded": "已被更正记录取代",
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
                "qualification-revoked",
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


def _continuing_education(
    dossier: Dossier, registration: Held, ask: _Ask, policies: PolicyBook
) -> tuple[Assessment | None, Assessment | None, list[tuple[bool, Reason]]]:
    region, on, agreements = ask.region, ask.on, ask.agreements
    start = registration.first_day
    category = parse_category(registration.subject["category"])
    try:
        policy = policies.for_cycle(region, start)
    except NotFound:
        return (
            None,
            None,
            [
                (
                    False,
                    Reason(
                        "no-ce-rule",
                        f"{province(region).name_zh}没有适用于 {start} 起注册周期的继续教育规定",
                        f"{province(region).name_en} has no continuing-education rule for a "
                        f"period starting {start}",
                    ),
                )
            ],
        )
    credits = _credits(dossier, on)
    current = assess(
        credits,
        policy=policy,
        region=region,
        cycle_start=start,
        on=on,
        agreements=agreements,
        category=category,
    )
    reasons: list[tuple[bool, Reason]] = []
    due = current.cycle_end - timedelta(days=1)
    required = format_hours(policy.min_hours_per_cycle)
    if current.satisfied:
        progress = Reason(
            "ce-current-met",
            f"本注册周期（{start} 至 {due}）继续教育已计入 {format_hours(current.total)} 学时，"
            f"已达到 {required} 学时的要求",
            f"continuing education in this registration period ({start} to {due}): "
            f"{format_hours(current.total)} hours counted, meeting the {required} required",
        )
    else:
        progress = Reason(
            "ce-current-in-progress",
            f"本注册周期（{start} 至 {due}）继续教育已计入 {format_hours(current.total)} 学时，"
            f"须在 {due} 前完成 {required} 学时（其中专业科目不少于 "
            f"{format_hours(policy.min_professional_hours)} 学时）",
            f"continuing education in this registration period ({start} to {due}): "
            f"{format_hours(current.total)} hours counted so far; {required} are due by {due}, "
            f"at least {format_hours(policy.min_professional_hours)} of them professional",
        )
    reasons.append((True, progress))
    previous = None
    if registration.subject.get("kind") in ("renewal", "re-registration"):
        years = policy.cycle_years
        before = add_years(start, -years, leap_day=LeapDay.FIRST_OF_MARCH)
        ended = start - timedelta(days=1)
        previous_policy = policies.for_cycle(region, before)
        previous = assess(
            credits,
            policy=previous_policy,
            region=region,
            cycle_start=before,
            on=ended,
            agreements=agreements,
            category=category,
        )
        if previous.satisfied:
            reasons.append(
                (
                    True,
                    Reason(
                        "ce-previous-met",
                        f"上一注册周期（{before} 至 {ended}）继续教育"
                        f"已计入 {format_hours(previous.total)} 学时，达到要求",
                        f"the previous registration period ({before} to {ended}) has "
                        f"{format_hours(previous.total)} hours counted, meeting its requirement",
                    ),
                )
            )
        else:
            for shortfall in previous.shortfalls:
                reasons.append(
                    (
                        False,
                        Reason(
                            f"ce-previous-{shortfall.code}",
                            f"上一注册周期（{before} 起）继续教育未达要求：{shortfall.zh}",
                            f"the previous registration period (from {before}) falls short: "
                            f"{shortfall.en}",
                        ),
                    )
                )
    return current, previous, reasons


def _listing(held: Held, on: date) -> Finding:
    subject = held.subject
    listed_on = date.fromisoformat(subject["listedOn"])
    state = held.state_on(on)
    in_force = status_on(subject, held.changes, on).in_force
    name = province(held.issuer)
    role = "" if held.role == "listed" else f"（作为{_ROLE_ZH.get(held.role, held.role)}）"
    role_en = "" if held.role == "listed" else f" (as {held.role.replace('-', ' ')})"
    return Finding(
        held,
        state,
        in_force,
        Reason(
            "listed-untrustworthy",
            f"被{name.name_zh}列入安全生产严重失信主体名单{role}（"
            f"{subject['listingDecisionNumber']}，{listed_on} 起），各地联合惩戒",
            f"listed as a seriously untrustworthy party in production safety by "
            f"{name.name_en}{role_en} (decision {subject['listingDecisionNumber']}, "
            f"from {listed_on}); joint punishment applies in every province",
        ),
    )


_ROLE_ZH = {
    "legal-representative": "法定代表人",
    "principal": "主要负责人",
    "safety-lead": "安全管理负责人",
    "directly-responsible": "直接责任人员",
}
