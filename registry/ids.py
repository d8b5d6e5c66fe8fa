"""Identifiers: resident ID numbers, unified social credit codes, provinces, categories.

Every parser normalises first (full-width characters to ASCII through NFKC, spaces
removed, lower case to upper case), then validates, and raises an
``InvalidIdentifier`` subclass whose message a clerk can act on.

Personal identifiers never leave this module in clear: a credential carries a masked
form, a binding under a salt it does not carry (the holder's disclosure), and the
HMAC-SHA256 look-up key under the federation's secret (``PersonIdentifier``,
``LookupSecrets``); nothing in it can be tested against a guessed number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, NewType

from pydantic import WithJsonSchema

from registry.calendar import china_today
from registry.errors import (
    InvalidCategory,
    InvalidCreditCode,
    InvalidInput,
    InvalidProvinceCode,
    InvalidResidentId,
)
from registry.labels import CATEGORY
from registry.text import Printable

__all__ = [
    "CREDIT_CODE_JSON_SCHEMA",
    "DISCLOSURE_BYTES",
    "PROVINCES",
    "PROVINCE_CODE_JSON_SCHEMA",
    "RESIDENT_ID_BINDING",
    "RESIDENT_ID_JSON_SCHEMA",
    "Category",
    "CreditCode",
    "CreditCodeText",
    "LookupSecrets",
    "PersonIdentifier",
    "Province",
    "ProvinceCodeText",
    "ResidentId",
    "ResidentIdText",
    "binding_of",
    "credit_code_check_character",
    "disclosure_text",
    "lookup_key",
    "mask_resident_id",
    "name_core",
    "name_key",
    "parse_category",
    "parse_credit_code",
    "parse_disclosure",
    "parse_resident_id",
    "province",
    "province_short_name",
    "resident_id_check_character",
]

ResidentId = NewType("ResidentId", str)
"""An 18-character resident ID number that passed every check."""

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)

_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_CREDIT_BODY = re.compile(rf"^[{_CREDIT_ALPHABET}]{{2}}[0-9]{{6}}[{_CREDIT_ALPHABET}]{{9}}$")
_ASCII_DIGITS = frozenset("0123456789")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MASKED = re.compile(r"^[0-9]{4}\*{10}[0-9]{3}[0-9X]$")
# Residence permits use 81 (Hong Kong), 82 (Macao) and 83 (Taiwan residents); 81 and 82
# are province prefixes already, 83 is not.
_RESIDENCE_PERMIT_PREFIXES = frozenset({"83"})


def _digits(value: str) -> bool:
    # str.isdigit() accepts Arabic-Indic, Devanagari... digits; identifiers use ASCII only.
    return bool(value) and all(char in _ASCII_DIGITS for char in value)


def _normalise(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).upper()


@dataclass(frozen=True)
class Province:
    """A provincial-level division: ISO 3166-2 code, GB/T 2260 code and names."""

    iso: str
    gb: str
    name_zh: str
    name_en: str


PROVINCES: tuple[Province, ...] = tuple(
    Province(iso, gb, zh, en)
    for iso, gb, zh, en in (
        ("CN-BJ", "110000", "北京市", "Beijing"),
        ("CN-TJ", "120000", "天津市", "Tianjin"),
        ("CN-HE", "130000", "河北省", "Hebei"),
        ("CN-SX", "140000", "山西省", "Shanxi"),
        ("CN-NM", "150000", "内蒙古自治区", "Inner Mongolia"),
        ("CN-LN", "210000", "辽宁省", "Liaoning"),
        ("CN-JL", "220000", "吉林省", "Jilin"),
        ("CN-HL", "230000", "黑龙江省", "Heilongjiang"),
        ("CN-SH", "310000", "上海市", "Shanghai"),
        ("CN-JS", "320000", "江苏省", "Jiangsu"),
        ("CN-ZJ", "330000", "浙江省", "Zhejiang"),
        ("CN-AH", "340000", "安徽省", "Anhui"),
        ("CN-FJ", "350000", "福建省", "Fujian"),
        ("CN-JX", "360000", "江西省", "Jiangxi"),
        ("CN-SD", "370000", "山东省", "Shandong"),
        ("CN-HA", "410000", "河南省", "Henan"),
        ("CN-HB", "420000", "湖北省", "Hubei"),
        ("CN-HN", "430000", "湖南省", "Hunan"),
        ("CN-GD", "440000", "广东省", "Guangdong"),
        ("CN-GX", "450000", "广西壮族自治区", "Guangxi"),
        ("CN-HI", "460000", "海南省", "Hainan"),
        ("CN-CQ", "500000", "重庆市", "Chongqing"),
        ("CN-SC", "510000", "四川省", "Sichuan"),
        ("CN-GZ", "520000", "贵州省", "Guizhou"),
        ("CN-YN", "530000", "云南省", "Yunnan"),
        ("CN-XZ", "540000", "西藏自治区", "Tibet"),
        ("CN-SN", "610000", "陕西省", "Shaanxi"),
        ("CN-GS", "620000", "甘肃省", "Gansu"),
        ("CN-QH", "630000", "青海省", "Qinghai"),
        ("CN-NX", "640000", "宁夏回族自治区", "Ningxia"),
        ("CN-XJ", "650000", "新疆维吾尔自治区", "Xinjiang"),
        ("CN-TW", "710000", "台湾省", "Taiwan"),
        ("CN-HK", "810000", "香港特别行政区", "Hong Kong"),
        ("CN-MO", "820000", "澳门特别行政区", "Macao"),
    )
)
_BY_ISO = {p.iso: p for p in PROVINCES}
_BY_GB = {p.gb: p for p in PROVINCES}
_BY_GB_PREFIX = {p.gb[:2]: p for p in PROVINCES}


def province_short_name(found: Province) -> str:
    """The name people write without the division's kind: 上海 for 上海市, 广西 for
    广西壮族自治区, 内蒙古 for 内蒙古自治区."""
    name = found.name_zh
    if name.endswith("自治区"):
        return name[:3] if name.startswith("内蒙古") else name[:2]
    for suffix in ("特别行政区", "省", "市"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


_BY_NAME = {p.name_zh: p for p in PROVINCES} | {province_short_name(p): p for p in PROVINCES}


def province(code: str) -> Province:
    """Look a province up by ISO 3166-2 (``CN-SH``) or GB/T 2260 (``310000``) code, or by
    its Chinese name, in full or short (``上海市``, ``上海``).

    Raises ``InvalidProvinceCode`` for anything else.
    """
    normal = _normalise(code) if isinstance(code, str) else ""
    found = _BY_ISO.get(normal) or _BY_GB.get(normal) or _BY_NAME.get(normal)
    if found is None:
        raise InvalidProvinceCode(
            f"{code!r} is not a province code: use ISO 3166-2 (CN-SH), GB/T 2260 (310000) "
            "or its name (上海市)"
        )
    return found


class Category(StrEnum):
    """The seven professional categories (专业类别) of registered safety engineers."""

    COAL_MINE = "coal-mine"
    METAL_NONMETAL_MINE = "metal-nonmetal-mine"
    CHEMICAL = "chemical"
    METALLURGY = "metallurgy"
    CONSTRUCTION = "construction"
    ROAD_TRANSPORT = "road-transport"
    OTHER = "other"

    @property
    def name_zh(self) -> str:
        """The category's official Chinese name."""
        return CATEGORY.label(self.value)


def parse_category(value: str) -> Category:
    """Parse a category code, its Chinese name or a short form of it (``化工``), full-width
    or spaced as typed (``registry.labels.CATEGORY``); raises ``InvalidCategory``."""
    try:
        return Category(CATEGORY.parse(value))
    except InvalidInput as exc:
        raise InvalidCategory(exc.message) from None


def _id_check_character(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def resident_id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not _digits(first17):
        raise InvalidResidentId("the first 17 characters of an ID number are digits")
    return _id_check_character(first17)


def _birth_date(digits: str, *, today: date) -> date:
    # Messages name the position, never the value: they reach responses and logs.
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as exc:
        raise InvalidResidentId("the birth date (characters 7 to 14) is not a real date") from exc
    if born < _EARLIEST_BIRTH or born > today:
        raise InvalidResidentId(
            "the birth date (characters 7 to 14) is before 1900 or in the future"
        )
    return born


def parse_resident_id(value: str, *, today: date | None = None) -> ResidentId:
    """Validate a resident ID number (GB 11643) and return its 18-character form.

    Checks the length and characters, the province of the area code, the birth
    date (a real date, not in the future) and the ISO 7064 MOD 11-2 check
    character. A legacy 15-digit number is converted to 18 digits (century 19,
    computed check character). Raises ``InvalidResidentId`` naming the problem.
    """
    today = today or china_today()  # the date in China, whatever the server's zone
    number = _normalise(value) if isinstance(value, str) else ""
    if len(number) == 15:
        if not _digits(number):
            raise InvalidResidentId("a 15-digit legacy ID number has digits only")
        body = number[:6] + "19" + number[6:]
        number = body + _id_check_character(body)
    elif len(number) != 18:
        raise InvalidResidentId(
            f"a resident ID number has 18 characters (or 15 for a legacy one), not {len(number)}"
        )
    if not _digits(number[:17]) or not (number[17] in _ASCII_DIGITS or number[17] == "X"):
        raise InvalidResidentId("a resident ID number is 17 digits and a digit or X")
    if number[:2] not in _BY_GB_PREFIX and number[:2] not in _RESIDENCE_PERMIT_PREFIXES:
        raise InvalidResidentId("the area code (characters 1 to 6) is in no province")
    _birth_date(number[6:14], today=today)
    expected = _id_check_character(number[:17])
    if number[17] != expected:
        raise InvalidResidentId(
            "the check character (the last one) does not match the first 17 digits: "
            "the number was probably mistyped"
        )
    return ResidentId(number)


def mask_resident_id(number: ResidentId) -> str:
    """The displayable form: first four and last four characters (``3101**********123X``)."""
    return f"{number[:4]}{'*' * 10}{number[-4:]}"


RESIDENT_ID_BINDING = "ResidentIdBinding"
"""The ``type`` of the identifier a credential carries for a person."""

DISCLOSURE_BYTES = 16
"""The length of a disclosure: the salt of a person's binding in one credential."""

_HEX8 = re.compile(r"^[0-9a-f]{8}$")


def binding_of(number: ResidentId, salt: bytes) -> str:
    """Hex SHA-256(salt || UTF-8 number): what a credential binds a person with."""
    return hashlib.sha256(salt + number.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class PersonIdentifier:
    """What a credential carries instead of an ID number, and nothing to test a guess on.

    ``masked`` is for display only. ``binding`` is hex SHA-256(salt || number) under a
    salt the credential does not carry: the issuing authority keeps it and hands it
    to the person as their *disclosure*, with which the number from an ID card can
    be checked against the credential. ``lookup_key`` is hex HMAC-SHA256 of the number
    under the federation's look-up secret of version ``lookup_secret``
    (``LookupSecrets``), by which every member node finds the person's records.
    """

    masked: str
    binding: str
    lookup_key: str
    lookup_secret: str

    def __post_init__(self) -> None:
        if not _MASKED.match(self.masked):
            raise InvalidResidentId("a masked ID number reads 1234**********567X")
        if not _HEX64.match(self.binding) or not _HEX64.match(self.lookup_key):
            raise InvalidResidentId("binding and lookupKey are 64 lower-case hex characters")
        if not _HEX8.match(self.lookup_secret):
            raise InvalidResidentId("lookupSecret is a version: 8 lower-case hex characters")

    @classmethod
    def of(
        cls, number: ResidentId, lookup: LookupSecrets, *, salt: bytes | None = None
    ) -> tuple[PersonIdentifier, bytes]:
        """Identify ``number`` under a fresh (or the given) salt and the current look-up
        secret; returns the identifier and the salt, which is the person's disclosure."""
        salt = salt if salt is not None else secrets.token_bytes(DISCLOSURE_BYTES)
        if len(salt) < DISCLOSURE_BYTES:
            raise InvalidInput(f"a binding's salt has at least {DISCLOSURE_BYTES} bytes")
        version, key = lookup.key(number)
        return cls(mask_resident_id(number), binding_of(number, salt), key, version), salt

    def json(self) -> dict[str, str]:
        """The identifier as the credential writes it."""
        return {
            "type": RESIDENT_ID_BINDING,
            "masked": self.masked,
            "binding": self.binding,
            "lookupKey": self.lookup_key,
            "lookupSecret": self.lookup_secret,
        }

    @classmethod
    def from_json(cls, value: object) -> PersonIdentifier:
        """Read ``json()``'s form; raises ``InvalidResidentId`` for anything else."""
        fields = ("type", "masked", "binding", "lookupKey", "lookupSecret")
        if not isinstance(value, dict) or sorted(value) != sorted(fields):
            raise InvalidResidentId(f"a person's identifier has exactly {', '.join(fields)}")
        if value["type"] != RESIDENT_ID_BINDING or not all(
            isinstance(value[f], str) for f in fields
        ):
            raise InvalidResidentId(f"a person's identifier is a {RESIDENT_ID_BINDING}")
        return cls(value["masked"], value["binding"], value["lookupKey"], value["lookupSecret"])

    def binds(self, number: ResidentId, salt: bytes) -> bool:
        """Whether ``number`` under the disclosure ``salt`` is the one this binds
        (constant-time comparison)."""
        return hmac.compare_digest(binding_of(number, salt), self.binding)


def disclosure_text(salt: bytes) -> str:
    """A disclosure as a person is given it: the salt in unpadded base64url (22
    characters for 16 bytes)."""
    return base64.urlsafe_b64encode(salt).rstrip(b"=").decode("ascii")


def parse_disclosure(text: str) -> bytes:
    """Read ``disclosure_text``'s form (spaces ignored: it may be printed in groups);
    raises ``InvalidInput``."""
    cleaned = re.sub(r"[\s]", "", unicodedata.normalize("NFKC", text))
    if not re.fullmatch(r"[A-Za-z0-9_-]{22,}", cleaned):
        raise InvalidInput("a disclosure is at least 22 characters of base64url (A-Z a-z 0-9 - _)")
    try:
        salt = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidInput("a disclosure is base64url") from exc
    if len(salt) < DISCLOSURE_BYTES:
        raise InvalidInput(f"a disclosure is at least {DISCLOSURE_BYTES} bytes")
    return salt


def lookup_key(identifier: ResidentId | str, *, secret: bytes) -> str:
    """The look-up key of an identifier: hex HMAC-SHA256 under ``secret`` (a version of
    the federation's look-up secret).

    ``identifier`` must be normalised (a ``ResidentId``, or ``CreditCode.code``), so
    that every spelling of one number finds the same records.
    """
    return hmac.new(secret, identifier.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class CreditCode:
    """A unified social credit code (GB 32100), validated when built.

    Length, alphabet (no I, O, S, V or Z) and the digit-only region are errors
    (``InvalidCreditCode``). A wrong check character is not: some early pilot codes
    are like that, so ``check_ok`` is false and ``warning`` says so.
    """

    code: str

    def __post_init__(self) -> None:
        if len(self.code) != 18:
            raise InvalidCreditCode(
                f"a unified social credit code has 18 characters, not {len(self.code)}"
            )
        if not _CREDIT_BODY.match(self.code[:17]) or self.code[17] not in _CREDIT_ALPHABET:
            raise InvalidCreditCode(
                f"{self.code} uses characters outside GB 32100 (digits and capitals except "
                "I, O, S, V, Z; characters 3 to 8 are the region's digits)"
            )

    @property
    def check_ok(self) -> bool:
        """Whether the check character matches the first 17 characters."""
        return _credit_check_character(self.code[:17]) == self.code[17]

    @property
    def region(self) -> str:
        """The six-digit administrative division code (characters 3 to 8)."""
        return self.code[2:8]

    @property
    def warning(self) -> str | None:
        """A sentence for the user when the check character fails, else ``None``."""
        if self.check_ok:
            return None
        return (
            f"the check character of {self.code} does not match; "
            "accepted as an early pilot code, please confirm it with the registration authority"
        )


def _credit_check_character(first17: str) -> str:
    total = sum(
        _CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in _CREDIT_ALPHABET for c in first17):
        raise InvalidCreditCode("the first 17 characters of a credit code use its alphabet")
    return _credit_check_character(first17)


def parse_credit_code(value: str) -> CreditCode:
    """Normalise and validate a unified social credit code; raises ``InvalidCreditCode``."""
    return CreditCode(_normalise(value) if isinstance(value, str) else "")


# Legal forms at the end of an organisation's name, longest first.
_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "集团", "公司")
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕")


def name_key(name: str) -> str:
    """A name as exact matching compares it: width folded (NFKC), spaces removed,
    case folded. ``张 伟`` and ``张伟``, ``ＡＢＣ有限公司`` and ``abc有限公司``
    are the same name."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def name_core(name: str) -> str:
    """A name as near matching compares it: ``name_key``, then bracketed parts,
    punctuation and a legal form at the end (有限公司, 股份有限公司, ...) set aside.
    ``江苏盐城某化工有限公司`` and ``江苏盐城某化工股份有限公司`` share a core, as do
    names with and without a bracketed part, full-width or not; two names that do
    are possibly the same party, never surely."""
    key = _BRACKETED.sub("", name_key(name))  # NFKC made full-width brackets ASCII
    core = "".join(char for char in key if char.isalnum())
    stripped = True
    while stripped:
        stripped = False
        for form in _LEGAL_FORMS:
            if core.endswith(form) and len(core) > len(form):
                core, stripped = core[: -len(form)], True
    return core


PROVINCE_CODE_JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": [p.iso for p in PROVINCES]
    + [p.gb for p in PROVINCES]
    + [p.name_zh for p in PROVINCES]
    + [province_short_name(p) for p in PROVINCES],
    "description": "A province: its ISO 3166-2 code (`CN-SH`), its GB/T 2260 code "
    "(`310000`) or its Chinese name (`上海市`, `上海`). Lower case and full-width forms "
    "are read too.",
}

ProvinceCodeText = Annotated[Printable, WithJsonSchema(PROVINCE_CODE_JSON_SCHEMA)]
"""A province code as an input carries it, documented by ``PROVINCE_CODE_JSON_SCHEMA``;
read with ``province`` (which also reads lower case and full-width forms)."""

RESIDENT_ID_JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "gb11643-resident-id",
    # 18 characters (area, birth date, sequence, check character) or a legacy 15 digits.
    # The format adds what a pattern cannot say: the area is in a province, the birth
    # date is a real day from 1900 to today, the check character is ISO 7064 MOD 11-2.
    "pattern": r"^([1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9X]|[0-9]{15})$",
    "description": "Resident ID number (GB 11643): never stored, answered or logged in clear.",
}

CREDIT_CODE_JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "gb32100-credit-code",
    # GB 32100's alphabet has no I, O, S, V or Z; characters 3 to 8 are the region's
    # digits. A wrong check character is read (early pilot codes) with a warning.
    "pattern": r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    "description": "Unified social credit code (GB 32100).",
}

ResidentIdText = Annotated[Printable, WithJsonSchema(RESIDENT_ID_JSON_SCHEMA)]
"""A resident ID number as an input carries it, documented by ``RESIDENT_ID_JSON_SCHEMA``;
read with ``parse_resident_id``."""

CreditCodeText = Annotated[Printable, WithJsonSchema(CREDIT_CODE_JSON_SCHEMA)]
"""A credit code as an input carries it, documented by ``CREDIT_CODE_JSON_SCHEMA``; read
with ``parse_credit_code``."""


_LOOKUP_LINE = "yrd-lookup-secret"
_MIN_LOOKUP_SECRET = 32


@dataclass(frozen=True)
class LookupSecrets:
    """The federation's look-up secrets, oldest first.

    Every member node finds a person's records by ``HMAC-SHA256(secret, number)``, so
    that records of every authority are indexed alike. The newest secret keys new
    records; every version still finds the records keyed under it. A version is named
    by the first 8 hex digits of the secret's SHA-256, which a credential carries beside
    its key. Whoever lacks the secrets cannot test a guess against a key.
    """

    versions: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.versions:
            raise InvalidInput("there is no look-up secret")
        if any(len(secret) < _MIN_LOOKUP_SECRET for secret in self.versions):
            raise InvalidInput(f"a look-up secret has at least {_MIN_LOOKUP_SECRET} bytes")
        if len({self.version_of(secret) for secret in self.versions}) != len(self.versions):
            raise InvalidInput("a look-up secret is listed twice")

    @staticmethod
    def version_of(secret: bytes) -> str:
        """A secret's version id: the first 8 hex digits of its SHA-256."""
        return hashlib.sha256(secret).hexdigest()[:8]

    @classmethod
    def generate(cls) -> LookupSecrets:
        """A first secret, as the federation's genesis makes it."""
        return cls((secrets.token_bytes(_MIN_LOOKUP_SECRET),))

    @property
    def current(self) -> str:
        """The version new records are keyed under."""
        return self.version_of(self.versions[-1])

    def key(self, number: ResidentId) -> tuple[str, str]:
        """The current version and the number's key under it."""
        return self.current, lookup_key(number, secret=self.versions[-1])

    def keys(self, number: ResidentId) -> dict[str, str]:
        """The number's key under every version (version -> key)."""
        return {self.version_of(s): lookup_key(number, secret=s) for s in self.versions}

    def rotated(self) -> LookupSecrets:
        """These versions and a new, current one."""
        return LookupSecrets((*self.versions, secrets.token_bytes(_MIN_LOOKUP_SECRET)))

    def merged(self, other: LookupSecrets) -> LookupSecrets:
        """These versions and those of ``other`` not yet here, in ``other``'s order after
        them: what a member node imports from the federation."""
        known = {self.version_of(s) for s in self.versions}
        added = tuple(s for s in other.versions if self.version_of(s) not in known)
        return LookupSecrets((*self.versions, *added))

    def text(self) -> str:
        """The export form: one line per version, oldest first
        (``yrd-lookup-secret <version> <base64url secret>``)."""
        return "".join(
            f"{_LOOKUP_LINE} {self.version_of(s)} "
            f"{base64.urlsafe_b64encode(s).decode('ascii').rstrip('=')}\n"
            for s in self.versions
        )

    @classmethod
    def parse(cls, text: str) -> LookupSecrets:
        """Read ``text()``'s form; raises ``InvalidInput`` naming the line that is wrong."""
        versions = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3 or parts[0] != _LOOKUP_LINE:
                raise InvalidInput(f"line {number} is not `{_LOOKUP_LINE} <version> <secret>`")
            try:
                secret = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
            except ValueError as exc:
                raise InvalidInput(f"line {number}: the secret is not base64url") from exc
            if cls.version_of(secret) != parts[1]:
                raise InvalidInput(f"line {number}: the secret is not of version {parts[1]}")
            versions.append(secret)
        return cls(tuple(versions))
