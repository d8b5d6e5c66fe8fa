"""Identifiers: known-good numbers and mutations of them."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from registry.errors import (
    InvalidCategory,
    InvalidCreditCode,
    InvalidInput,
    InvalidProvinceCode,
    InvalidResidentId,
)
from registry.ids import (
    Category,
    LookupSecrets,
    PersonIdentifier,
    ResidentId,
    disclosure_text,
    lookup_key,
    mask_resident_id,
    name_core,
    name_key,
    parse_category,
    parse_credit_code,
    parse_disclosure,
    parse_resident_id,
    province,
)

GOOD_ID = "11010519491231002X"
GOOD_CODE = "91350100M000100Y43"
TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(
    "raw",
    [
        GOOD_ID,
        "11010519491231002x",
        " 110105 19491231 002X ",
        "１１０１０５１９４９１２３１００２Ｘ",
    ],
)
def test_resident_id_normalises(raw: str) -> None:
    assert parse_resident_id(raw, today=TODAY) == GOOD_ID


def test_messages_do_not_echo_the_number() -> None:
    for raw in ("110105194902300021", "11010519491231002Y", "99010519491231002X"):
        with pytest.raises(InvalidResidentId) as caught:
            parse_resident_id(raw, today=TODAY)
        assert "1949" not in caught.value.message
        assert "110105" not in caught.value.message
        assert "990105" not in caught.value.message


def test_taiwan_residence_permit_area_code() -> None:
    # Residence permits of Taiwan residents use area code 830000 (worked by hand:
    # the weighted sum of the first 17 digits is 153, 153 mod 11 = 10, check "2").
    assert parse_resident_id("830000199001010012", today=TODAY) == "830000199001010012"


@given(position=st.integers(min_value=0, max_value=17), digit=st.sampled_from("0123456789"))
def test_any_single_digit_substitution_is_caught(position: int, digit: str) -> None:
    mutated = GOOD_ID[:position] + digit + GOOD_ID[position + 1 :]
    assume(mutated != GOOD_ID)
    # MOD 11-2 catches every single substitution; a few also break the area or date first.
    with pytest.raises(InvalidResidentId):
        parse_resident_id(mutated, today=TODAY)


@given(position=st.integers(min_value=14, max_value=17), digit=st.sampled_from("0123456789"))
def test_substitution_in_sequence_or_check_names_the_check_character(
    position: int, digit: str
) -> None:
    mutated = GOOD_ID[:position] + digit + GOOD_ID[position + 1 :]
    assume(mutated != GOOD_ID)
    with pytest.raises(InvalidResidentId, match="check character"):
        parse_resident_id(mutated, today=TODAY)


def test_adjacent_transposition_is_caught() -> None:
    mutated = GOOD_ID[:15] + GOOD_ID[16] + GOOD_ID[15] + GOOD_ID[17]
    assert mutated != GOOD_ID
    with pytest.raises(InvalidResidentId, match="check character"):
        parse_resident_id(mutated, today=TODAY)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1101051949123100", "18 characters"),
        ("11010519491231002XX", "18 characters"),
        ("1101051949123100AX", "17 digits and a digit or X"),
        ("99010519491231002X", "area code .* is in no province"),
        ("110105194902300021", "birth date .* is not a real date"),
        ("110105189912310021", "before 1900 or in the future"),
        ("110105203001010021", "before 1900 or in the future"),
        ("11\u0661\u0661\u0660\u066519491231002X", "17 digits"),
        ("\u1369\u1369010519491231002X", "17 digits"),
        ("11010549123100X", "legacy ID number has digits only"),
        ("110105491332002", "not a real date"),
    ],
)
def test_resident_id_rejections(raw: str, message: str) -> None:
    with pytest.raises(InvalidResidentId, match=message):
        parse_resident_id(raw, today=TODAY)


def test_legacy_fifteen_digits_convert() -> None:
    assert parse_resident_id("110105491231002", today=TODAY) == GOOD_ID


def test_masking() -> None:
    assert mask_resident_id(ResidentId(GOOD_ID)) == "1101**********002X"
    assert mask_resident_id(ResidentId("31010120000101123X")) == "3101**********123X"


SECRETS = LookupSecrets((b"f" * 32,))


def test_an_identifier_binds_the_number_under_a_salt_it_does_not_carry() -> None:
    number = parse_resident_id(GOOD_ID, today=TODAY)
    identifier, salt = PersonIdentifier.of(number, SECRETS, salt=bytes(16))
    assert salt == bytes(16)
    assert identifier.masked == "1101**********002X"
    assert identifier.binding == hashlib.sha256(bytes(16) + GOOD_ID.encode()).hexdigest()
    assert (identifier.lookup_secret, identifier.lookup_key) == SECRETS.key(number)
    written = identifier.json()
    assert written == {
        "type": "ResidentIdBinding",
        "masked": "1101**********002X",
        "binding": identifier.binding,
        "lookupKey": identifier.lookup_key,
        "lookupSecret": SECRETS.current,
    }
    assert PersonIdentifier.from_json(written) == identifier
    assert GOOD_ID not in repr(identifier)
    assert salt.hex() not in json.dumps(written)
    assert identifier.binds(number, salt)
    assert not identifier.binds(ResidentId("31010120000101123X"), salt)
    assert not identifier.binds(number, bytes(15) + b"\x01")
    # Fresh salts give unlinkable bindings for the same person; the look-up key is the
    # same on every record, which is what lets a member node find them.
    first, _ = PersonIdentifier.of(number, SECRETS)
    second, _ = PersonIdentifier.of(number, SECRETS)
    assert first.binding != second.binding
    assert first.lookup_key == second.lookup_key


def test_lookup_key_depends_on_the_secret() -> None:
    first = lookup_key(GOOD_ID, secret=b"a" * 32)
    assert len(first) == 64
    assert first == lookup_key(GOOD_ID, secret=b"a" * 32)
    assert first != lookup_key(GOOD_ID, secret=b"b" * 32)
    assert first != lookup_key("31010120000101123X", secret=b"a" * 32)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "ResidentIdBinding", "masked": GOOD_ID, "binding": "0" * 64,
          "lookupKey": "0" * 64, "lookupSecret": "0" * 8}, "masked"),
        ({"type": "ResidentIdBinding", "masked": "1101**********002X", "binding": "zz",
          "lookupKey": "0" * 64, "lookupSecret": "0" * 8}, "hex"),
        ({"type": "ResidentIdBinding", "masked": "1101**********002X", "binding": "0" * 64,
          "lookupKey": "0" * 64, "lookupSecret": "v1"}, "version"),
        # The earlier form, which carried its salt: refused, not read.
        ({"type": "SaltedSha256ResidentId", "masked": "1101**********002X",
          "salt": "00" * 16, "digest": "0" * 64}, "exactly"),
        ({"type": "SaltedSha256ResidentId", "masked": "1101**********002X",
          "binding": "0" * 64, "lookupKey": "0" * 64, "lookupSecret": "0" * 8},
         "ResidentIdBinding"),
        ("1101**********002X", "exactly"),
    ],
)  # fmt: skip
def test_an_identifier_is_validated_when_read(value: object, message: str) -> None:
    with pytest.raises(InvalidResidentId, match=message):
        PersonIdentifier.from_json(value)


def test_a_disclosure_reads_as_printed() -> None:
    salt = bytes(range(16))
    text = disclosure_text(salt)
    assert len(text) == 22
    assert parse_disclosure(text) == salt
    assert parse_disclosure(f" {text[:11]} {text[11:]} ") == salt  # printed in groups
    for bad in ("", "abc", "!" * 22, text[:21]):
        with pytest.raises(InvalidInput, match="disclosure"):
            parse_disclosure(bad)


def test_credit_code_known_good() -> None:
    code = parse_credit_code(GOOD_CODE)
    assert code.check_ok
    assert code.warning is None
    assert code.region == "350100"
    assert parse_credit_code(" 91350100m000100y43 ").code == GOOD_CODE


@given(
    position=st.integers(min_value=8, max_value=17),
    char=st.sampled_from("0123456789ABCDEFGHJKLMNPQRTUWXY"),
)
def test_credit_code_substitution_only_warns(position: int, char: str) -> None:
    mutated = GOOD_CODE[:position] + char + GOOD_CODE[position + 1 :]
    code = parse_credit_code(mutated)
    assert code.code == mutated
    assert code.check_ok == (mutated == GOOD_CODE)
    if mutated != GOOD_CODE:
        assert code.warning is not None
        assert "does not match" in code.warning


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100YI3", "outside GB 32100"),
        ("9135A100M000100Y43", "outside GB 32100"),
        ("91350100M00010OY43", "outside GB 32100"),
        ("9135\u0661\u066000M000100Y43", "outside GB 32100"),
    ],
)
def test_credit_code_rejections(raw: str, message: str) -> None:
    with pytest.raises(InvalidCreditCode, match=message):
        parse_credit_code(raw)


@pytest.mark.parametrize(
    ("code", "iso", "gb"),
    [
        ("CN-SH", "CN-SH", "310000"),
        ("cn-js", "CN-JS", "320000"),
        ("330000", "CN-ZJ", "330000"),
        ("CN-AH", "CN-AH", "340000"),
        ("CN-GD", "CN-GD", "440000"),
    ],
)
def test_province_codes(code: str, iso: str, gb: str) -> None:
    found = province(code)
    assert (found.iso, found.gb) == (iso, gb)


@pytest.mark.parametrize("code", ["CN-XX", "SH", "310100", "", "CN-31"])
def test_unknown_province(code: str) -> None:
    with pytest.raises(InvalidProvinceCode, match="not a province code"):
        province(code)


def test_seven_categories() -> None:
    assert [c.value for c in Category] == [
        "coal-mine",
        "metal-nonmetal-mine",
        "chemical",
        "metallurgy",
        "construction",
        "road-transport",
        "other",
    ]
    assert parse_category("chemical") is Category.CHEMICAL
    assert parse_category("化工安全") is Category.CHEMICAL
    with pytest.raises(InvalidCategory, match="expected one of"):
        parse_category("fire")


@pytest.mark.parametrize(
    ("first", "second"),
    [("张伟", "张 伟"), ("ＡＢＣ有限公司", "abc有限公司"), ("钱某某", "钱\u3000某某")],
)
def test_names_that_are_the_same_have_one_key(first: str, second: str) -> None:
    assert name_key(first) == name_key(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("江苏盐城某化工有限公司", "江苏盐城某化工股份有限公司"),
        ("江苏盐城某化工有限公司", "江苏盐城某化工（有限责任公司）"),
        ("上海临港危险品仓储有限公司", "上海临港危险品仓储有限公司(上海)"),
        ("浙江台州某烟花爆竹有限公司", "浙江台州某烟花爆竹集团有限公司"),
    ],
)
def test_names_that_may_be_the_same_share_a_core_but_not_a_key(first: str, second: str) -> None:
    assert name_core(first) == name_core(second)
    assert name_key(first) != name_key(second)


def test_a_core_keeps_the_name_itself() -> None:
    assert name_core("公司") == "公司"  # nothing but a legal form: kept
    assert name_core("有限公司")
    assert name_core("江苏盐城某化工有限公司") != name_core("江苏盐城某农药有限公司")
