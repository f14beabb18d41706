"""Audit events read as translated labels, never as their stable keys."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import strip_tags

from accounts.models import Membership
from audit import events
from audit.event_labels import EVENT_LABELS, event_label
from audit.services import Actor, audit_record
from oversight import flags
from tests.accounts.factories import DistrictFactory, EnterpriseFactory
from tests.audit.factories import admin_client, official

pytestmark = pytest.mark.django_db

EVENT_TYPES = sorted(
    {
        value
        for module in (events, flags)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and "." in value and " " not in value
        if name not in {"ANOMALY_OBJECT_TYPE"}
    }
)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_has_a_label_in_both_languages(event_type: str) -> None:
    assert event_type in EVENT_LABELS
    for language in ("en", "zh-hans"):
        with translation.override(language):
            label = event_label(event_type)
        assert label and label != event_type
        assert "." not in label


def test_the_labels_are_translated() -> None:
    with translation.override("zh-hans"):
        assert event_label(events.CATALOG_ENTRY_CREATED) == "新增模型目录条目"
    with translation.override("en"):
        assert event_label(events.CATALOG_ENTRY_CREATED) == "Model catalog entry created"


@pytest.mark.parametrize(
    ("language", "label"), [("en", "Enterprise updated"), ("zh-hans", "企业信息更新")]
)
def test_the_list_the_event_page_and_the_timeline_show_labels_not_keys(
    language: str, label: str
) -> None:
    jianghan = DistrictFactory(code="420103")
    enterprise = EnterpriseFactory(district=jianghan)
    event = audit_record(
        actor=Actor.system("seed"),
        event_type=events.ENTERPRISE_UPDATED,
        obj=enterprise,
        before={"headcount": 10},
        after={"headcount": 11},
        district_id=jianghan.pk,
    )
    client = admin_client(official(jianghan, Membership.Role.AUDITOR, preferred_language=language))
    pages = [
        reverse("admin:audit_auditevent_changelist"),
        reverse("admin:audit_auditevent_change", args=[event.pk]),
        reverse(
            "admin:audit_auditevent_timeline", args=["accounts", "enterprise", str(enterprise.pk)]
        ),
    ]
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        # What the official reads: the page's text (links may carry the key).
        text = strip_tags(response.content.decode())
        assert label in text, url
        assert events.ENTERPRISE_UPDATED not in text, url
