"""What a verification report's PDF says, in Chinese and in English: one table of its
labels, and the values of a report (verdicts, regions, states, hours, times) put into
words. Only what the report states is said: it carries masked ID numbers, never
whole ones, and so does the PDF."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from registry.calendar import CHINA
from registry.errors import InvalidInput, RegistryError
from registry.ids import province
from registry.labels import CATEGORY, CE_KIND, MEASURE, RELATED_ROLE, STATE, Enumeration
from registry.verification.batch import verdict_label

__all__ = [
    "Language",
    "category",
    "ce_kind",
    "hours",
    "language_of",
    "measure",
    "moment",
    "region",
    "role",
    "say",
    "state",
    "verdict_kind",
    "verdict_label",
]

Language = Literal["zh", "en"]

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("工程师核验报告", "Engineer verification report"),
    "subtitle": (
        "初级注册安全工程师 · 长三角注册安全工程师登记系统",
        "Junior registered safety engineer · Yangtze River Delta registry",
    ),
    "verdict": ("核验结论", "Verdict"),
    "person": ("被核验人员", "Person verified"),
    "name": ("姓名", "Name"),
    "masked": ("公民身份号码（脱敏）", "Resident ID (masked)"),
    "asked-by": ("查询依据", "Asked by"),
    "by-resident-id": ("公民身份号码", "resident ID number"),
    "by-registration-number": ("注册编号及姓名", "registration number and name"),
    "region": ("执业地区", "Region"),
    "date": ("核验日期", "Day judged"),
    "category": ("专业类别", "Category"),
    "employer": ("拟聘用单位（统一社会信用代码）", "Employer asked about (credit code)"),
    "reasons": ("核验理由", "Reasons"),
    "met": ("符合", "met"),
    "not-met": ("不符合", "not met"),
    "note": ("注意", "note"),
    "info": ("说明", "info"),
    "reasons-key": (
        "“符合”“不符合”决定结论；“注意”“说明”仅供参考，不影响结论。",
        "“met” and “not met” decide the verdict; “note” and “info” are stated beside it.",
    ),
    "records": ("所依据的记录", "Records relied on"),
    "record": ("记录", "Record"),
    "issuer": ("签发机关", "Issued by"),
    "number": ("编号", "Number"),
    "valid": ("有效期", "Valid"),
    "state": ("状态", "State"),
    "counts": ("是否采信", "Counts"),
    "qualification": ("职业资格证书", "Qualification"),
    "registration": ("注册证书", "Registration"),
    "other-registration": ("其他注册", "Other registration"),
    "lifelong": ("{day} 起长期有效", "from {day}, lifelong"),
    "from-until": ("{start} 至 {end}", "{start} to {end}"),
    "from-open": ("{start} 起", "from {start}"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "by-agreement": ("是（依据互认协议）", "yes (under an agreement)"),
    "no-records": ("未查到该人员的记录。", "The registry holds no record of this person."),
    "agreements": ("所依据的互认协议", "Recognition agreements relied on"),
    "agreement": (
        "{title}（{number}），协议方：{parties}",
        "{title} ({number}), between {parties}",
    ),
    "ce": ("继续教育学时", "Continuing education"),
    "ce-term": ("本注册周期", "This registration term"),
    "ce-previous": ("上一注册周期", "The previous term"),
    "period": ("周期", "Period"),
    "rule": ("学时规定", "Rule"),
    "official": (
        "{authority}正式规定（第 {version} 版）",
        "{authority}'s official rule (v{version})",
    ),
    "provisional": (
        "{authority}尚未发布正式规定，学时仅作记录（第 {version} 版）",
        "{authority} has no official rule: hours are reported only (v{version})",
    ),
    "counted": ("已计入学时", "Hours counted"),
    "counted-hours": (
        "共 {total} 学时（公需 {general}，专业 {professional}）",
        "{total} hours ({general} general, {professional} professional)",
    ),
    "required": ("要求学时", "Hours required"),
    "required-hours": (
        "不少于 {hours} 学时，其中专业不少于 {professional} 学时，每年不少于 {year} 学时",
        "at least {hours} hours, {professional} of them professional, {year} a year",
    ),
    "ce-met": ("是否达到要求", "Requirement met"),
    "credits": ("学时记录", "Credits"),
    "completed": ("完成日期", "Completed"),
    "kind": ("类型", "Kind"),
    "hours": ("学时", "Hours"),
    "credit-counts": ("是否计入", "Counted"),
    "listings": ("安全生产严重失信主体名单", "Untrustworthiness listings"),
    "no-listings": (
        "核验日无在效的失信名单记录涉及此人。",
        "No listing in force on the day names this person.",
    ),
    "listing": ("名单记录 {n}", "Listing {n}"),
    "listed-by": ("列入机关", "Listed by"),
    "listing-decision": ("列入决定书", "Listing decision"),
    "penalty-decision": ("行政处罚决定书", "Penalty decision"),
    "role": ("身份", "Named as"),
    "listed-party": ("被列入主体", "the listed party"),
    "listed-on": ("列入日期", "Listed on"),
    "earliest-removal": ("最早可申请信用修复", "Earliest removal"),
    "expires": ("期满日期", "Expires on"),
    "measures": ("管理措施", "Measures"),
    "measure-codes": ("措施类别", "Measures by code"),
    "restricts": ("是否限制执业", "Restricts practice"),
    "legal-basis": ("依据", "Legal basis"),
    "explanation": ("说明", "Explanation"),
    "logs": ("核验所依据的日志", "Logs checked against"),
    "log": ("日志", "Log"),
    "tree-size": ("记录数", "Tree size"),
    "root": ("根哈希（前 12 位）", "Root hash (first 12)"),
    "witnessed": ("见证", "Witnessed"),
    "confirmed": ("与源节点确认于", "Confirmed with origin"),
    "cosigned": ("{n} 个见证签名（需 {required} 个）", "{n} cosignatures ({required} required)"),
    "stale": ("（已超过时限）", "(stale)"),
    "evidence": (
        "报告附有 {checkpoints} 个签名检查点及 {credentials} 份凭证的包含证明。",
        "The report carries {checkpoints} signed checkpoints and inclusion proofs "
        "for {credentials} credentials.",
    ),
    "about": ("报告信息", "About this report"),
    "report-id": ("报告编号", "Report id"),
    "report-issuer": ("出具机关", "Issued by"),
    "report-time": ("出具时间", "Issued at"),
    "key": ("签名密钥", "Signing key"),
    "authoritative": (
        "本文件是签名核验报告的打印件，以签名的电子报告为准。扫描二维码打开报告网页即可核验签名；"
        "也可用 registry verify 离线核验电子报告。",
        "This is a print of a signed verification report; the signed report is what counts. "
        "Scan the QR code to open the report's page, which checks its signature, or check "
        "the signed file offline with registry verify.",
    ),
    "scan": ("扫码核验", "Scan to verify"),
    "page": ("第 {n} 页", "Page {n}"),
    "beijing": ("{time}（北京时间）", "{time} (Beijing time)"),
    "list": ("；", "; "),
    "because": ("{answer}：{why}", "{answer}: {why}"),
    "parties": ("、", ", "),
}


def language_of(language: str) -> Language:
    """``language`` as one of the two the report is written in; raises ``InvalidInput``
    for any other."""
    if language == "zh":
        return "zh"
    if language == "en":
        return "en"
    raise InvalidInput("a report is printed in zh or en")


def say(key: str, lang: Language, **values: object) -> str:
    """The label ``key`` in ``lang``, its ``{placeholders}`` filled from ``values``."""
    zh, en = _TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def verdict_kind(subject: Mapping[str, Any]) -> str:
    """What the verdict means for the person asked about: ``qualified``,
    ``not-qualified``, or (when nothing was found) ``not-found`` or ``name-mismatch``."""
    codes = {r.get("code") for r in subject.get("reasons", ()) if isinstance(r, Mapping)}
    if subject.get("verdict") == "qualified":
        return "qualified"
    if "name-mismatch" in codes:
        return "name-mismatch"
    if "no-records" in codes:
        return "not-found"
    return "not-qualified"


def region(code: object, lang: Language, *, coded: bool = True) -> str:
    """A province by name, with its code unless ``coded`` is false (``浙江省 (CN-ZJ)``);
    an unknown code as given."""
    try:
        found = province(str(code))
    except RegistryError:
        return str(code)
    name = found.name_zh if lang == "zh" else found.name_en
    return f"{name} ({found.iso})" if coded else name


def _label(table: Enumeration, code: object, lang: Language) -> str:
    text = str(code)
    if lang == "en":
        return text
    try:
        return table.label(text)
    except KeyError:
        return text


def category(code: object, lang: Language) -> str:
    """A category's Chinese label (``化工安全``), or its code in English."""
    return _label(CATEGORY, code, lang)


def ce_kind(code: object, lang: Language) -> str:
    """A kind of hours: ``公需`` or ``专业``; ``general`` or ``professional``."""
    return _label(CE_KIND, code, lang)


def state(code: object, lang: Language) -> str:
    """Where a record stands: ``有效``, ``暂停执业``...; the code in English."""
    return _label(STATE, code, lang)


def role(code: object, lang: Language) -> str:
    """Whom a listing names the person as."""
    if code == "listed":
        return say("listed-party", lang)
    return _label(RELATED_ROLE, code, lang)


def measure(code: object, lang: Language) -> str:
    """A listing's coded measure."""
    return _label(MEASURE, code, lang)


def hours(value: object) -> str:
    """Hours as the report states them (``44.5``, ``12``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def moment(stamp: object, lang: Language) -> str:
    """A report's UTC timestamp in Beijing time, to the second; as given if it is not
    a timestamp."""
    try:
        parsed = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    local = parsed.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    return say("beijing", lang, time=local)
