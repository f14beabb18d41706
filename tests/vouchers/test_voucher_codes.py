"""Voucher codes: random enough, readable, and typos caught before a lookup."""

from __future__ import annotations

import math

from vouchers.codes import ALPHABET, RANDOM_LENGTH, check_character, generate_code, normalize_code


def test_a_code_carries_at_least_80_bits_of_randomness() -> None:
    assert RANDOM_LENGTH * math.log2(len(ALPHABET)) >= 80


def test_a_code_is_grouped_in_threes_of_six_and_checks_itself() -> None:
    code = generate_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [6, 6, 6]
    assert normalize_code(code) == code


def test_codes_do_not_repeat() -> None:
    assert len({generate_code() for _ in range(2000)}) == 2000


def test_every_single_mistyped_character_is_caught() -> None:
    code = generate_code().replace("-", "")
    for i in range(len(code)):
        for ch in ALPHABET:
            if ch != code[i]:
                assert normalize_code(code[:i] + ch + code[i + 1 :]) is None


def test_every_swap_of_two_different_neighbours_is_caught() -> None:
    for _ in range(200):
        code = generate_code().replace("-", "")
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                assert normalize_code(swapped) is None, (code, i)


def test_input_forgives_case_spaces_and_look_alike_letters() -> None:
    payload = "0" * 16 + "1"
    code = payload + check_character(payload)
    typed = " " + code.lower().replace("0", "o").replace("1", "l") + " "
    assert normalize_code(typed) == "-".join([code[0:6], code[6:12], code[12:18]])


def test_wrong_lengths_and_foreign_characters_are_refused() -> None:
    assert normalize_code("") is None
    assert normalize_code("ABC") is None
    assert normalize_code(generate_code() + "X") is None
    assert normalize_code(generate_code().replace("-", "")[:-1] + "U") is None
