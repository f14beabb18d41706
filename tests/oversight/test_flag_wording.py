"""A flag reads in words: its subject key, the voucher kind and the unit of its
evidence are translated, never shown as the detectors' keys."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Membership
from audit.services import Actor
from oversight.flags import anomalies_detect
from oversight.models import AnomalyFlag
from oversight.subjects import subject_text
from tests.audit.factories import admin_client
from tests.oversight.detector_helpers import at, charge, normal_month, quiet_day, setup, today
from tests.oversight.test_flags_admin import staff

pytestmark = pytest.mark.django_db

USCC = "91420103MA4KD7X2QC"


@pytest.mark.parametrize(
    ("subject", "english", "chinese"),
    [
        (
            f"uscc:{USCC}/kind:compute",
            f"USCC {USCC} · Compute voucher",
            f"统一社会信用代码 {USCC} · 算力券",
        ),
        ("voucher:17/platform:2", "voucher #17 · platform #2", "券 #17 · 平台 #2"),
        ("legal_representative:陈立华", "legal representative 陈立华", "法定代表人 陈立华"),
    ],
)
def test_a_subject_key_reads_as_words(subject: str, english: str, chinese: str) -> None:
    with translation.override("en"):
        assert subject_text(subject) == english
    with translation.override("zh-hans"):
        assert subject_text(subject) == chinese


@pytest.fixture
def multi_district_flag() -> AnomalyFlag:
    voucher, platform = setup()
    normal_month(voucher, platform)
    charge(voucher, platform, at(quiet_day(), hour=11), billed="15000.00")
    anomalies_detect(day=today() - datetime.timedelta(days=1), days=30, actor=Actor.system("tests"))
    flag = AnomalyFlag.objects.get(detector=AnomalyFlag.Detector.USAGE_SPIKE)
    # Dressed as a multi-district flag: the words under test are the subject's,
    # the kind's and the unit's.
    AnomalyFlag.objects.filter(pk=flag.pk).update(
        subject=f"uscc:{USCC}/kind:compute",
        evidence={
            "measured": "2",
            "threshold": "2",
            "uscc": USCC,
            "kind": "compute",
            "vouchers": [{"voucher_id": 3, "face_value": "300000", "unit": "CNY"}],
        },
    )
    flag.refresh_from_db()
    return flag


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", ["Compute voucher", "yuan"]), ("zh-hans", ["算力券", "统一社会信用代码 " + USCC])],
)
def test_the_flag_page_shows_no_detector_keys(
    multi_district_flag: AnomalyFlag, language: str, words: list[str]
) -> None:
    user = staff(multi_district_flag.district, Membership.Role.AUDITOR)
    user.preferred_language = language
    user.save(update_fields=["preferred_language"])
    client = admin_client(user)
    url = reverse("admin:oversight_anomalyflag_change", args=[multi_district_flag.pk])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for word in words:
        assert word in html
    assert "uscc:" not in html
    assert "kind:compute" not in html
    assert ">compute<" not in html
    assert ">CNY<" not in html
