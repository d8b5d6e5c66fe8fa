"""canonical_bytes gives exactly rfc8785's bytes, on whichever path it takes."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.crypto.jcs import (
    Splice,
    _in_fast_subset,
    canonical_bytes,
    canonical_members,
    join_members,
)
from registry.errors import InvalidInput

# Keys and strings from all of Unicode (surrogates excluded: they are not JSON text),
# with the characters where code-point and UTF-16 orders part ways made likely.
_tricky = st.sampled_from(["\ue000", "\uffff", "\U00010000", "\U0001f600", "\x00", "\x1f", "\x7f"])
_text = st.lists(st.characters(blacklist_categories=["Cs"]) | _tricky, max_size=8).map("".join)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_text, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=250, deadline=None)
@given(value=_values)
def test_same_bytes_as_rfc8785(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=100, deadline=None)
@given(value=st.dictionaries(_text, _text | st.integers(-(2**53) + 1, 2**53 - 1), max_size=8))
def test_fast_path_is_taken_and_agrees(value: dict[str, Any]) -> None:
    if all(max(k, default="a") <= "\uffff" for k in value):
        assert _in_fast_subset(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=150, deadline=None)
@given(value=st.dictionaries(_text, _values, max_size=8), extra=_values)
def test_an_object_joined_from_its_members_is_its_canonical_form(value: Any, extra: Any) -> None:
    members = canonical_members(value)
    assert join_members(members) == rfc8785.dumps(value)
    # One member more, written without canonicalising the others again.
    members["\U00010000proof"] = canonical_members({"\U00010000proof": extra})["\U00010000proof"]
    assert join_members(members) == rfc8785.dumps({**value, "\U00010000proof": extra})


@settings(max_examples=150, deadline=None)
@given(
    value=st.dictionaries(_text, _values, min_size=1, max_size=6),
    embedded=st.lists(_values, min_size=1, max_size=4),
    data=st.data(),
)
def test_spliced_texts_give_the_canonical_form_of_the_whole(
    value: dict[str, Any], embedded: list[Any], data: st.DataObject
) -> None:
    # Each embedded value replaces one member's value, or sits in a list under a new key.
    splice = Splice()
    whole = dict(value)
    with_placeholders = dict(value)
    keys = list(value)
    for n, item in enumerate(embedded):
        key = data.draw(st.sampled_from(keys)) if n < len(keys) else f"extra{n}"
        if key in keys:
            keys.remove(key)
        whole[key] = [item, n]
        with_placeholders[key] = [splice.embed(canonical_bytes(item)), n]
    members = splice.apply(canonical_members(with_placeholders))
    assert join_members(members) == rfc8785.dumps(whole)


def test_a_splice_refuses_a_text_placed_twice_or_not_at_all() -> None:
    splice = Splice()
    first = splice.embed('{"a":1}')
    second = splice.embed("[2]")
    assert splice.apply(canonical_members({"x": [first, second]})) == {"x": b'"x":[{"a":1},[2]]'}
    with pytest.raises(InvalidInput, match="exactly once"):
        splice.apply(canonical_members({"x": first}))
    with pytest.raises(InvalidInput, match="exactly once"):
        splice.apply(canonical_members({"x": [first, first, second]}))
    # A lookalike without the nonce is ordinary text.
    assert Splice().apply(canonical_members({"x": first})) == {"x": f'"x":"{first}"'.encode()}


@settings(max_examples=250, deadline=None)
@given(
    value=st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([8.5, 0.5, 44.5, 1e-4, 9.999e15, 1e16, 1e-5, 0.1, -0.0, 5e-324])
)
def test_floats_on_the_fast_path_agree(value: float) -> None:
    assert canonical_bytes({"hours": value}) == rfc8785.dumps({"hours": value})
    if 1e-4 <= abs(value) < 1e16 and not value.is_integer():
        assert _in_fast_subset({"hours": value})


def test_key_order_is_utf16_not_code_points() -> None:
    # By code point U+10000 comes after U+E000; in UTF-16 it is D800 DC00, which comes
    # before E000. JCS orders by UTF-16, so such keys must not take the fast path.
    value = {"\ue000": 1, "\U00010000": 2}
    assert not _in_fast_subset(value)
    assert canonical_bytes(value) == '{"\U00010000":2,"\ue000":1}'.encode()


def test_control_characters_are_escaped_as_jcs_says() -> None:
    value = {"s": '\b\t\n\f\r\x00\x1f"\\/\x7f\u2028'}
    assert _in_fast_subset(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert (
        canonical_bytes(value) == b'{"s":"\\b\\t\\n\\f\\r\\u0000\\u001f\\"\\\\/\x7f\xe2\x80\xa8"}'
    )


class _Kind(enum.StrEnum):
    A = "a"


@pytest.mark.parametrize(
    "value",
    [{"k": 1.5}, {"k": _Kind.A}, {"k": (1, 2)}, {"k": 2**53}],
)
def test_values_outside_the_subset_still_canonicalise_like_rfc8785(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(InvalidInput, match="no canonical JSON form"):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == expected


@pytest.mark.parametrize(
    "value", [{"k": float("nan")}, {"k": 2**60}, {"k": "\ud800"}, {1: "int key"}, {"k": object()}]
)
def test_no_canonical_form_is_an_error(value: Any) -> None:
    with pytest.raises(InvalidInput, match="no canonical JSON form"):
        canonical_bytes(value)
