"""Districts: GB/T 2260 codes, the prefix that says which divisions lie
inside, and names in both languages."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import translation

from accounts.models import District
from tests.accounts.factories import DistrictFactory, EnterpriseFactory


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("420000", "42"),  # Hubei province
        ("420100", "4201"),  # Wuhan
        ("420103", "420103"),  # Jianghan
        ("520100", "5201"),  # Guiyang
        ("130600", "1306"),  # Baoding
        ("110000", "11"),  # Beijing
    ],
)
def test_division_prefix_drops_trailing_zero_pairs(code: str, prefix: str) -> None:
    assert District(code=code).division_prefix == prefix


def test_covers_divisions_inside_and_not_outside() -> None:
    wuhan = District(code="420100")
    jianghan = District(code="420103")
    assert wuhan.covers("420103")
    assert wuhan.covers("420102")
    assert wuhan.covers("420100")
    assert not wuhan.covers("420200")  # Huangshi
    assert not wuhan.covers("520100")
    assert jianghan.covers("420103")
    assert not jianghan.covers("420102")
    assert not jianghan.covers("420100")  # the city is not inside the district


@pytest.mark.parametrize("code", ["42010", "4201033", "42O103", "abcdef", ""])
def test_a_division_code_has_exactly_six_digits(code: str) -> None:
    with pytest.raises(ValidationError) as info:
        District(name="x", code=code).full_clean()
    assert "code" in info.value.message_dict


def test_display_name_follows_the_active_language() -> None:
    district = District(name="江汉区", name_en="Jianghan District", code="420103")
    with translation.override("en"):
        assert district.display_name == "Jianghan District"
        assert str(district) == "Jianghan District"
    with translation.override("zh-hans"):
        assert district.display_name == "江汉区"


def test_display_name_falls_back_to_chinese_without_an_english_name() -> None:
    district = District(name="江汉区", name_en="", code="420103")
    with translation.override("en"):
        assert district.display_name == "江汉区"


@pytest.mark.django_db
def test_district_codes_are_unique() -> None:
    DistrictFactory(code="420103")
    with pytest.raises(IntegrityError):
        District.objects.create(name="again", code="420103")


@pytest.mark.django_db
def test_enterprise_usccs_are_unique_across_the_system() -> None:
    enterprise = EnterpriseFactory(division="420103")
    with pytest.raises(IntegrityError):
        EnterpriseFactory(uscc=enterprise.uscc)


@pytest.mark.django_db
def test_an_enterprise_with_an_invalid_uscc_fails_model_validation() -> None:
    enterprise = EnterpriseFactory.build(uscc="91110000802100433C")
    with pytest.raises(ValidationError) as info:
        enterprise.full_clean(exclude=["division_code"])
    assert "uscc" in info.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("999999", "is no GB/T 2260 administrative division"),
        # Chongwen was merged into Dongcheng in 2010: old USCCs keep 110103,
        # a district set up today takes the code in force.
        ("110103", "was abolished; use the code in force, 110101"),
    ],
)
def test_a_district_is_set_up_only_under_a_division_in_force(code: str, problem: str) -> None:
    from django.test import Client

    from tests.accounts.factories import UserFactory, add_totp

    root = UserFactory(email="root@platform.test", is_superuser=True)
    add_totp(root)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(root)
    response = client.post(
        "/admin/accounts/district/add/", {"code": code, "name": "测试区", "name_en": "Test"}
    )
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not District.objects.filter(code=code).exists()
    # A division in force is accepted.
    response = client.post(
        "/admin/accounts/district/add/",
        {"code": "110101", "name": "东城区", "name_en": "Dongcheng"},
    )
    assert response.status_code == 302
    assert District.objects.filter(code="110101").exists()
