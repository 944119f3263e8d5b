"""Chilean RUT check digit (módulo 11), as typed on a keypad with * for K."""

from __future__ import annotations

import pytest

from acd.ivr.rut import check_digit, is_valid_rut, normalize_rut


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("123456785", "12345678-5"),
        ("12.345.678-5", "12345678-5"),
        ("111111111", "11111111-1"),
        ("76086428" + "5", "76086428-5"),
        ("10000013*", "10000013-K"),
        ("10000013k", "10000013-K"),
        ("10000013K", "10000013-K"),
        ("0123456785", "12345678-5"),  # a leading zero typed by habit is harmless
    ],
)
def test_valid_ruts_are_normalized(typed: str, normalized: str) -> None:
    assert normalize_rut(typed) == normalized


@pytest.mark.parametrize("typed", ["123456780", "123456789", "10000013" + "0", "111111112", "76086428K"])
def test_wrong_check_digit_is_rejected(typed: str) -> None:
    assert normalize_rut(typed) is None
    assert not is_valid_rut(typed)


@pytest.mark.parametrize("typed", ["", "*", "5", "1234*5678", "12345678#", "abc", "0-0", "1234567890123"])
def test_malformed_input_is_rejected(typed: str) -> None:
    assert normalize_rut(typed) is None


def test_star_stands_for_k_only_as_the_check_digit() -> None:
    assert check_digit("10000013") == "K"
    assert normalize_rut("10000013*") == "10000013-K"
    assert normalize_rut("1000001*3") is None


def test_check_digit_zero_when_remainder_is_eleven() -> None:
    body = next(str(n) for n in range(1_000_000, 1_100_000) if check_digit(str(n)) == "0")
    assert normalize_rut(body + "0") == f"{body}-0"
