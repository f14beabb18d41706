"""USCC (GB 32100-2015) validation: real published codes pass, every
single-character corruption of one fails, and each kind of mistake has its
own message."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.uscc import (
    ALPHABET,
    check_character,
    division_code,
    normalize_uscc,
    uscc_problem,
    validate_uscc,
)

REAL_CODES = {
    "Huawei": "914403001922038216",
    "Tencent": "9144030071526726XG",
    "Alibaba (China)": "91330100716105852F",
    "Baidu": "91110000802100433B",
    "Xiaomi": "91110108551385082Q",
}

# Characters that are not in the alphabet: the five excluded letters, lower
# case, punctuation, a full-width digit and a Chinese character.
OUTSIDE_ALPHABET = ["I", "O", "S", "V", "Z", "a", "x", "-", " ", ".", "*", "０", "中"]


@pytest.mark.parametrize("code", REAL_CODES.values(), ids=REAL_CODES.keys())
def test_real_published_codes_are_accepted(code: str) -> None:
    assert uscc_problem(code) is None
    validate_uscc(code)  # does not raise
    assert check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code", REAL_CODES.values(), ids=REAL_CODES.keys())
def test_every_single_character_substitution_is_rejected(code: str) -> None:
    accepted = []
    tried = 0
    for position in range(18):
        for ch in [*ALPHABET, *OUTSIDE_ALPHABET]:
            if ch == code[position]:
                continue
            corrupted = code[:position] + ch + code[position + 1 :]
            tried += 1
            if uscc_problem(corrupted) is None:
                accepted.append(corrupted)
    assert tried == 18 * (30 + len(OUTSIDE_ALPHABET))
    assert accepted == []


def test_every_corruption_is_also_refused_by_the_django_validator() -> None:
    code = REAL_CODES["Tencent"]
    for position in range(18):
        for ch in ALPHABET:
            if ch == code[position]:
                continue
            with pytest.raises(ValidationError) as info:
                validate_uscc(code[:position] + ch + code[position + 1 :])
            assert info.value.code == "invalid_uscc"


@pytest.mark.parametrize("code", REAL_CODES.values(), ids=REAL_CODES.keys())
def test_dropping_or_adding_a_character_is_rejected(code: str) -> None:
    for position in range(18):
        assert uscc_problem(code[:position] + code[position + 1 :]) is not None
    for position in range(19):
        assert uscc_problem(code[:position] + "0" + code[position:]) is not None


@pytest.mark.parametrize("code", REAL_CODES.values(), ids=REAL_CODES.keys())
def test_swapping_two_adjacent_different_characters_is_rejected(code: str) -> None:
    for position in range(17):
        a, b = code[position], code[position + 1]
        if a == b:
            continue
        swapped = code[:position] + b + a + code[position + 2 :]
        assert uscc_problem(swapped) is not None, swapped


# --- one message per kind of mistake --------------------------------------


def test_wrong_length_says_how_many_characters() -> None:
    assert uscc_problem("91110000802100433") == (
        "A Unified Social Credit Code has 18 characters; this one has 17."
    )
    assert "this one has 19" in (uscc_problem("91110000802100433B0") or "")
    assert "this one has 0" in (uscc_problem("") or "")


def test_characters_outside_the_alphabet_are_named() -> None:
    problem = uscc_problem("91110000802100433I") or ""
    assert problem.startswith("A Unified Social Credit Code uses only digits and the letters")
    assert problem.endswith("found: I.")
    problem = uscc_problem("9111000080210O4S3b") or ""
    assert problem.endswith("found: O S b.")


def test_unknown_registration_authority() -> None:
    first17 = "B1110000802100433"
    problem = uscc_problem(first17 + check_character(first17))
    assert problem == "The first character (B) is not a registration authority code."


def test_organisation_kind_that_the_authority_does_not_register() -> None:
    # Market regulation (9) registers kinds 1, 2 and 3 only.
    first17 = "9411000080210043"
    first17 = first17 + "3"
    problem = uscc_problem(first17 + check_character(first17))
    assert problem == (
        "The second character (4) is not an organisation kind that authority 9 registers."
    )


def test_division_code_must_be_six_digits() -> None:
    first17 = "9111A000802100433"
    problem = uscc_problem(first17 + check_character(first17))
    assert problem == (
        "Characters 3 to 8 (11A000) must be a six-digit administrative division code."
    )


def test_wrong_check_character_names_the_expected_one() -> None:
    problem = uscc_problem("91110000802100433C")
    assert problem == (
        "The check character does not match: the last character is C, but the first "
        "17 characters give B. Please check the code for a typing error."
    )


def test_each_kind_of_mistake_has_its_own_message() -> None:
    bad = [
        "9111000080210043",
        "91110000802100433I",
        "B1110000802100433" + check_character("B1110000802100433"),
        "94110000802100433" + check_character("94110000802100433"),
        "9111A000802100433" + check_character("9111A000802100433"),
        "91110000802100433C",
    ]
    messages = [uscc_problem(code) for code in bad]
    assert None not in messages
    assert len(set(messages)) == len(bad)


# --- helpers --------------------------------------------------------------


def test_normalize_strips_spaces_and_upper_cases() -> None:
    assert normalize_uscc(" 9144 0300 7152 6726xg ") == "9144030071526726XG"
    assert normalize_uscc("91330100716105852f\n") == "91330100716105852F"
    assert normalize_uscc("9111\t0108 5513 8508 2q") == "91110108551385082Q"
    assert uscc_problem(normalize_uscc(" 9144 0300 7152 6726xg ")) is None


def test_division_code_is_characters_three_to_eight() -> None:
    assert division_code(REAL_CODES["Huawei"]) == "440300"
    assert division_code(REAL_CODES["Alibaba (China)"]) == "330100"
    assert division_code(REAL_CODES["Xiaomi"]) == "110108"
    assert division_code(REAL_CODES["Baidu"]) == "110000"


@pytest.mark.django_db
def test_the_database_derives_the_division_code_from_the_uscc() -> None:
    from tests.accounts.factories import EnterpriseFactory

    enterprise = EnterpriseFactory(uscc=REAL_CODES["Xiaomi"])
    enterprise.refresh_from_db()
    assert enterprise.division_code == "110108"


def _with_division(division: str) -> str:
    first17 = f"91{division}MA4K3Q7R5"
    return first17 + check_character(first17)


def test_a_code_whose_characters_3_to_8_are_no_division_is_refused() -> None:
    # The reproduction: a valid check character, division 999999.
    assert check_character("91999999MA4K3Q7R5") == "3"
    problem = uscc_problem("91999999MA4K3Q7R53")
    assert problem is not None
    assert problem.startswith("Characters 3 to 8 (999999) are not the code of any")
    with pytest.raises(ValidationError):
        validate_uscc("91999999MA4K3Q7R53")


@pytest.mark.parametrize("division", ["990000", "420199", "420130", "000000", "810099"])
def test_codes_that_were_never_divisions_are_refused(division: str) -> None:
    assert uscc_problem(_with_division(division)) is not None


@pytest.mark.parametrize(
    "division",
    [
        "420103",  # Jianghan, in force
        "420000",  # a provincial authority registers too
        "100000",  # and the national one
        "110103",  # 崇文区, merged into 东城区 in 2010
        "110228",  # 密云县, renumbered 110118 as 密云区 in 2015
        "310108",  # 闸北区, merged into 静安区 in 2015
        "371202",  # 莱城区, became Jinan's 莱芜区 370116 in 2019
        "370116",  # ... and that new code
        "429004",  # 仙桃市, a county-level city directly under Hubei
    ],
)
def test_codes_in_force_when_the_enterprise_registered_are_accepted(division: str) -> None:
    assert uscc_problem(_with_division(division)) is None


def test_a_typo_in_the_division_is_reported_as_a_typo() -> None:
    code = _with_division("420103")
    typo = code[:2] + "999999" + code[8:]
    assert (uscc_problem(typo) or "").startswith("The check character does not match")
