"""Field-level authorization, through real HTTP requests: fields a person may
not set stay as they were, whatever extra fields the request carries.

- an enterprise cannot give itself a status (verified) on the registration
  page, nor reach the admin's enterprise form;
- an enterprise cannot set its application's status or approved amount;
- a reviewer cannot change an approved amount once it is approved (nor the
  second official the amount of the first approval);
- an auditor changes nothing in any admin page they can see;
- a platform never reads another platform's redemptions, holds or vouchers.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import District, Enterprise, Membership
from accounts.scoping import scoped
from applications.models import Application
from audit.models import AuditEvent
from oversight.models import AnomalyFlag, DetectorSettings
from programs.models import Program
from tests.accounts.factories import (
    DistrictFactory,
    EnterpriseFactory,
    UserFactory,
    add_totp,
    make_uscc,
)
from tests.accounts.factories import official as district_official
from tests.applications.factories import PDF_BYTES, application
from tests.eligibility.factories import rule_set
from tests.platforms.conftest import SigningKey, error_of, register_key, send, sign
from tests.platforms.factories import glm5_catalog_entry
from tests.programs.factories import bind, open_program
from tests.vouchers.factories import client_for, issue, member, official, platform_actor, with_mfa
from tests.world import World, build_world
from vouchers.models import Hold, Receivable, Redemption, Voucher
from vouchers.services import hold_create, voucher_redeem

pytestmark = pytest.mark.django_db

S = Application.Status
Role = Membership.Role


@pytest.fixture(autouse=True)
def _private_media(private_media: Any) -> None:
    """Uploads go to a temporary folder (``private_media`` in tests/conftest.py)."""


def jianghan() -> District:
    """District X: the enterprises below are registered in it (420103)."""
    return DistrictFactory(code="420103", name="江汉区", name_en="Jianghan")


def stored(obj: models.Model) -> dict[str, Any]:
    """Every column of ``obj`` as the database holds it now."""
    fresh = type(obj)._default_manager.get(pk=obj.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


# --- 1. An enterprise's own status ------------------------------------------------

STATUS_FIELDS = {
    "status": Enterprise.Status.VERIFIED,
    "division_code": "110101",
    "created_at": "2020-01-01 00:00",
    "id": "999",
}


def registration(**extra: Any) -> dict[str, Any]:
    return {
        "name": "武汉字段测试科技有限公司",
        "uscc": make_uscc("420103"),
        "legal_representative": "陈立华",
        "contact_name": "周敏",
        "contact_phone": "027-0000-0000",
        "contact_email": "contact@example.com",
        "address": "武汉市江汉区",
        "industry": Enterprise.Industry.INFORMATION,
        "founded_on": "2019-05-14",
        "headcount": "30",
        "prior_year_revenue": "8000000",
        "local_tax_paid": "400000",
        **extra,
    }


def test_a_registering_enterprise_cannot_make_itself_verified() -> None:
    client = client_for(UserFactory())
    response = client.post(reverse("enterprise_register"), registration(**STATUS_FIELDS))
    assert response.status_code == 302, response.content.decode()[:2000]
    enterprise = Enterprise.objects.get()
    assert enterprise.status == Enterprise.Status.PENDING
    assert enterprise.division_code == "420103"
    assert enterprise.pk != 999


@pytest.mark.parametrize("role", [Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER])
def test_an_enterprise_cannot_change_its_status_on_the_registration_page(role: str) -> None:
    enterprise = EnterpriseFactory(division="420103", status=Enterprise.Status.PENDING)
    person = UserFactory()
    Membership.objects.create(user=person, role=role, enterprise=enterprise)
    before = stored(enterprise)
    data = registration(uscc=enterprise.uscc, name="改过的名字", **STATUS_FIELDS)
    response = client_for(person).post(reverse("enterprise_register"), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal")
    assert stored(enterprise) == before
    assert Enterprise.objects.count() == 1


@pytest.mark.parametrize("role", [Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_MEMBER])
def test_an_enterprise_cannot_post_to_the_admins_enterprise_form(role: str) -> None:
    enterprise = EnterpriseFactory(division="420103", status=Enterprise.Status.PENDING)
    person = with_mfa(UserFactory())
    Membership.objects.create(user=person, role=role, enterprise=enterprise)
    before = stored(enterprise)
    url = reverse("admin:accounts_enterprise_change", args=[enterprise.pk])
    response = client_for(person).post(url, registration(uscc=enterprise.uscc, **STATUS_FIELDS))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert stored(enterprise) == before


# --- 2. An application's status and approved amount --------------------------------

DECISION_FIELDS = {
    "status": S.APPROVED,
    "approved_amount": "300000",
    "decided_at": "2026-01-01 00:00",
    "submitted_at": "2020-01-01 00:00",
    "first_approved_at": "2026-01-01 00:00",
    "eligibility_decision": "{}",
}


def test_an_enterprise_cannot_set_its_applications_status_or_approved_amount() -> None:
    program = open_program(district=jianghan())
    enterprise = EnterpriseFactory(division="420103")
    client = client_for(member(enterprise))
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {
            "requested_amount": "120000",
            "purpose": "Train a dialect model.",
            "document": SimpleUploadedFile("licence.pdf", PDF_BYTES),
            "intent": "save",
            **DECISION_FIELDS,
        },
    )
    assert response.status_code == 302
    app = Application.objects.get(enterprise=enterprise)
    assert (app.status, app.approved_amount, app.decided_at) == (S.DRAFT, None, None)

    response = client.post(
        reverse("application_edit", args=[app.pk]),
        {
            "requested_amount": "120000",
            "purpose": "Train a dialect model.",
            "intent": "submit",
            **DECISION_FIELDS,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    app.refresh_from_db()
    assert app.status == S.SUBMITTED
    assert app.approved_amount is None and app.decided_at is None
    assert app.requested_amount == Decimal("120000")
    program.refresh_from_db()
    assert program.reserved_amount == 0


def test_an_enterprise_cannot_post_to_the_admins_review_page() -> None:
    program = open_program(district=jianghan())
    enterprise = EnterpriseFactory(division="420103")
    app = application(enterprise, program, status=S.UNDER_REVIEW)
    before = stored(app)
    url = reverse("admin:applications_application_change", args=[app.pk])
    response = client_for(with_mfa(member(enterprise))).post(
        url, {"action": "approve", "amount": "300000", **DECISION_FIELDS}
    )
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert stored(app) == before


# --- 3. The approved amount after approval -----------------------------------------


@pytest.fixture
def review() -> dict[str, Any]:
    district = jianghan()
    program = open_program(district=district)
    app = application(
        EnterpriseFactory(division="420103"),
        program,
        status=S.UNDER_REVIEW,
        amount=Decimal("90000"),
    )
    return {
        "district": district,
        "program": program,
        "application": app,
        "url": reverse("admin:applications_application_change", args=[app.pk]),
        "reviewer": client_for(with_mfa(official(district, Role.REVIEWER))),
        "second": client_for(with_mfa(official(district, Role.REVIEWER))),
        "manager": client_for(with_mfa(official(district, Role.PROGRAM_MANAGER, Role.REVIEWER))),
    }


def test_a_reviewer_cannot_change_the_approved_amount_after_approval(review: dict) -> None:
    app, url = review["application"], review["url"]
    response = review["reviewer"].post(url, {"action": "approve", "amount": "80000"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.APPROVED, Decimal("80000"))
    voucher = Voucher.objects.get(application=app)
    before, voucher_before = stored(app), stored(voucher)

    for who in ("reviewer", "second", "manager"):
        client = review[who]
        page = client.get(url)
        assert page.status_code == 200
        # No action is offered, so there is no amount field to fill in.
        assert page.context["actions"] == []
        assert 'name="amount"' not in page.content.decode()
        assert 'name="approved_amount"' not in page.content.decode()
        for action in ("approve", "approve_first", "approve_second"):
            client.post(
                url,
                {"action": action, "amount": "90000", "approved_amount": "90000", "status": "x"},
            )
        assert stored(app) == before
        assert stored(voucher) == voucher_before


def test_the_second_official_cannot_change_the_amount_of_the_first_approval(
    review: dict,
) -> None:
    program, app, url = review["program"], review["application"], review["url"]
    Program.objects.filter(pk=program.pk).update(four_eyes_threshold=Decimal("50000"))
    assert "approve_first" in review["reviewer"].get(url).context["actions"]
    response = review["reviewer"].post(url, {"action": "approve_first", "amount": "70000"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.AWAITING_SECOND_APPROVAL, Decimal("70000"))
    # The first official may not confirm their own approval, with any amount.
    assert review["reviewer"].get(url).context["actions"] == ["reject", "return_for_changes"]
    review["reviewer"].post(url, {"action": "approve_second", "amount": "90000"})
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.AWAITING_SECOND_APPROVAL, Decimal("70000"))

    refused = review["second"].post(url, {"action": "approve_second", "amount": "90000"})
    assert refused.status_code == 200
    assert "The first approval was for 70,000.00" in refused.content.decode()
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.AWAITING_SECOND_APPROVAL, Decimal("70000"))

    confirmed = review["second"].post(url, {"action": "approve_second"})
    assert confirmed.status_code == 302
    app.refresh_from_db()
    assert (app.status, app.approved_amount) == (S.APPROVED, Decimal("70000"))
    before = stored(app)
    for who in ("reviewer", "second", "manager"):
        review[who].post(url, {"action": "approve_second", "amount": "90000"})
    assert stored(app) == before


# --- 4. An auditor changes nothing -------------------------------------------------


@pytest.fixture
def audited_world() -> dict[str, Any]:
    """District X with one of each object the admin shows, and an auditor of X."""
    w: World = build_world()
    auditor = district_official(w.jianghan, role=Role.AUDITOR, email="auditor@jianghan.test")
    add_totp(auditor)
    program = w.prog_jianghan
    bind(program, w.platform_x)
    app = application(w.ent_jianghan, program, status=S.SUBMITTED)
    voucher = issue(program, w.ent_jianghan, amount="1000.00")
    voucher_redeem(
        actor=platform_actor(w.platform_x),
        platform=w.platform_x,
        voucher=voucher,
        reference="inv-1",
        occurred_at=timezone.now(),
        billed_amount=Decimal("100.00"),
    )
    hold_create(
        actor=platform_actor(w.platform_x),
        platform=w.platform_x,
        voucher=voucher,
        reference="job-1",
        amount=Decimal("10.00"),
    )
    # As a clawback beyond the balance leaves it (no service makes one alone).
    Receivable.objects.create(
        voucher=voucher,
        enterprise=w.ent_jianghan,
        program=program,
        amount=Decimal("5.00"),
        unit=voucher.unit,
        reason="Clawback beyond the balance.",
        created_by="tests",
    )
    register_key(w.platform_x)
    glm5_catalog_entry(w.platform_x, timezone.now() - datetime.timedelta(days=1))
    rules = rule_set(w.jianghan, {"all": [{"fact": "headcount", "op": "gte", "value": "1"}]})
    DetectorSettings.objects.create(program=program)
    AnomalyFlag.objects.create(
        detector=AnomalyFlag.Detector.USAGE_SPIKE,
        district=w.jianghan,
        program=program,
        voucher=voucher,
        enterprise=w.ent_jianghan,
        subject=f"voucher:{voucher.pk}",
        period_start=timezone.localdate(),
        period_end=timezone.localdate(),
        score=Decimal("3"),
        evidence={"measured": "3", "threshold": "2"},
    )
    return {
        "world": w,
        "auditor": auditor,
        "client": client_for(auditor),
        "program": program,
        "application": app,
        "voucher": voucher,
        "rule_set": rules,
    }


def tampered(obj: models.Model) -> dict[str, Any]:
    """A change form's POST that alters every field of ``obj`` it can."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or isinstance(field, models.GeneratedField):
            continue
        value = getattr(obj, field.attname)
        if field.choices:
            others = [c for c, _label in field.flatchoices if c != value]
            value = others[0] if others else value
        elif isinstance(value, bool):
            value = "" if value else "on"
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            value = value + 1
        elif isinstance(value, str):
            value = value + "-changed"
        elif isinstance(value, dict | list):
            value = json.dumps({"changed": True})
        data[field.name] = "" if value is None else str(value)
    # And what the custom pages take: a review action, an amount, a decision.
    data.update(action="approve", amount="1.00", decision="confirm", note="changed")
    return data


def admin_url(model: type[models.Model], view: str, *args: Any) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    except NoReverseMatch:
        return None


def test_an_auditor_changes_nothing_in_any_admin_page_they_can_see(
    audited_world: dict[str, Any],
) -> None:
    client, auditor = audited_world["client"], audited_world["auditor"]
    admin_events = AuditEvent.objects.filter(event_type__startswith="admin.").count()
    seen: dict[str, bool] = {}
    for model in admin.site._registry:
        changelist = admin_url(model, "changelist")
        assert changelist is not None
        if client.get(changelist).status_code != 200:
            continue
        label = model._meta.label_lower
        rows_before = model._default_manager.count()
        add = admin_url(model, "add")
        if add is not None:
            assert client.post(add, {}).status_code == 403, label
        obj = scoped(model._default_manager.all(), auditor).order_by("pk").first()
        seen[label] = obj is not None
        if obj is not None:
            before = stored(obj)
            change = admin_url(model, "change", obj.pk)
            assert change is not None
            page = client.get(change)
            assert page.status_code == 200, label
            response = client.post(change, tampered(obj))
            if "adminform" in page.context:
                # Django's change form, shown read-only, and its POST refused.
                assert page.context["has_change_permission"] is False, label
                assert response.status_code == 403, (label, response.status_code)
            else:
                # The application review page: no action offered, none taken.
                assert page.context["actions"] == [], label
                assert response.status_code == 200, (label, response.status_code)
            delete = admin_url(model, "delete", obj.pk)
            if delete is not None:
                assert client.post(delete, {"post": "yes"}).status_code == 403, label
            client.post(
                changelist,
                {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
            )
            assert stored(obj) == before, label
        assert model._default_manager.count() == rows_before, label
    assert AuditEvent.objects.filter(event_type__startswith="admin.").count() == admin_events
    # At least these, each with an object of district X to try to change.
    for label in (
        "programs.program",
        "vouchers.voucher",
        "applications.application",
        "accounts.enterprise",
        "vouchers.redemption",
        "vouchers.hold",
        "vouchers.receivable",
        "eligibility.ruleset",
        "oversight.detectorsettings",
        "oversight.anomalyflag",
        "platforms.platformkey",
        "platforms.modelcatalogentry",
        "accounts.user",
        "accounts.district",
        "accounts.computeplatform",
        "accounts.membership",
        "audit.auditevent",
    ):
        assert seen.get(label) is True, (label, seen)


def test_an_auditor_cannot_use_the_admins_action_pages(audited_world: dict[str, Any]) -> None:
    client = audited_world["client"]
    program, voucher = audited_world["program"], audited_world["voucher"]
    flag = AnomalyFlag.objects.get()
    rules = audited_world["rule_set"]
    before = {name: stored(obj) for name, obj in (("p", program), ("v", voucher), ("f", flag))}
    before["r"] = rules.definition()
    attempts = [
        (reverse("admin:programs_program_move", args=[program.pk, "pause"]), {}),
        (reverse("admin:programs_program_move", args=[program.pk, "close"]), {}),
        (
            reverse("admin:vouchers_voucher_action", args=[voucher.pk, "suspend"]),
            {"reason": "An auditor tries."},
        ),
        (
            reverse("admin:vouchers_voucher_action", args=[voucher.pk, "revoke"]),
            {"reason": "An auditor tries."},
        ),
        (
            reverse("admin:vouchers_voucher_action", args=[voucher.pk, "clawback"]),
            {"reason": "An auditor tries.", "amount": "1.00"},
        ),
        (
            reverse("admin:oversight_anomalyflag_decide", args=[flag.pk]),
            {"decision": "confirm", "note": "An auditor tries.", "action": "suspend"},
        ),
        (
            reverse("admin:eligibility_ruleset_import", args=[rules.pk]),
            {"definition": json.dumps({"all": [{"fact": "headcount", "op": "gte", "value": "9"}]})},
        ),
        (
            reverse("admin:vouchers_voucher_bulk_issue"),
            {"program": program.pk, "csv_text": "uscc,amount\n", "validate_only": ""},
        ),
        (reverse("admin:eligibility_ruleset_publish", args=[rules.pk]), {}),
        (reverse("admin:programs_program_adopt_rule_set", args=[program.pk]), {"rule_set": ""}),
    ]
    before["rule_status"] = rules.status
    for url, data in attempts:
        response = client.post(url, data)
        assert response.status_code in (302, 403), (url, response.status_code)
    # Changelist actions the auditor is not offered: the list comes back, nothing done.
    for url, data in [
        (
            reverse("admin:eligibility_ruleset_changelist"),
            {"action": "publish", "_selected_action": [rules.pk]},
        ),
        (
            reverse("admin:programs_program_changelist"),
            {"action": "adopt_newest_rule_sets", "_selected_action": [program.pk]},
        ),
    ]:
        assert client.post(url, data).status_code in (200, 302, 403), url
    after = {name: stored(obj) for name, obj in (("p", program), ("v", voucher), ("f", flag))}
    after["r"] = rules.definition()
    rules.refresh_from_db()
    after["rule_status"] = rules.status
    assert after == before
    assert Voucher.objects.count() == 1


# --- 5. A platform reads only its own --------------------------------------------------


def api_get(client: Client, signing: SigningKey, path: str) -> Any:
    return send(client, sign("GET", f"/api/v1/{path}", signing.auth()))


def api_post(client: Client, signing: SigningKey, path: str, body: Any) -> Any:
    return send(client, sign("POST", f"/api/v1/{path}", signing.auth(), json=body))


def charge(voucher: Voucher, reference: str) -> dict[str, Any]:
    return {
        "voucher": voucher.code,
        "reference": reference,
        "occurred_at": timezone.localtime().isoformat(),
        "billed_amount": "100.00",
        "currency": "CNY",
    }


@pytest.fixture
def two_platforms() -> dict[str, Any]:
    p, q = register_key(), register_key()
    shared_program = open_program(district=jianghan())
    bind(shared_program, p.platform, q.platform)
    q_only = open_program(district=jianghan())
    bind(q_only, q.platform)
    return {
        "p": p,
        "q": q,
        "shared": issue(shared_program, amount="5000.00"),
        "q_voucher": issue(q_only, amount="5000.00"),
    }


def test_a_platform_never_lists_another_platforms_redemptions(
    client: Client, two_platforms: dict[str, Any]
) -> None:
    p, q, shared = two_platforms["p"], two_platforms["q"], two_platforms["shared"]
    for n in range(3):
        assert api_post(client, p, "redemptions", charge(shared, f"p-{n}")).status_code == 201
        assert api_post(client, q, "redemptions", charge(shared, f"q-{n}")).status_code == 201
    q_voucher = two_platforms["q_voucher"]
    assert api_post(client, q, "redemptions", charge(q_voucher, "q-own")).status_code == 201

    for query in ("redemptions", f"redemptions?voucher={shared.code}", "redemptions?limit=1"):
        seen: list[str] = []
        path = query
        while True:
            response = api_get(client, p, path)
            assert response.status_code == 200, response.content
            body = response.json()
            seen += [r["reference"] for r in body["results"]]
            assert all(r["voucher"] == shared.code for r in body["results"])
            if not body["next_cursor"]:
                break
            path = f"{query}{'&' if '?' in query else '?'}cursor={body['next_cursor']}"
        assert seen == ["p-0", "p-1", "p-2"], query
    # Q's own voucher, filtered on by name: nothing, not an error that says it exists.
    response = api_get(client, p, f"redemptions?voucher={q_voucher.code}")
    assert response.status_code == 200 and response.json()["results"] == []


def test_another_platforms_voucher_hold_and_redemption_are_the_contracts_errors(
    client: Client, two_platforms: dict[str, Any]
) -> None:
    p, q = two_platforms["p"], two_platforms["q"]
    shared, q_voucher = two_platforms["shared"], two_platforms["q_voucher"]
    q_charge = api_post(client, q, "redemptions", charge(shared, "q-1")).json()
    q_hold = api_post(
        client, q, "holds", {"voucher": shared.code, "reference": "q-job", "amount": "10.00"}
    ).json()
    redemption = Redemption.objects.get(pk=q_charge["id"])
    hold = Hold.objects.get(pk=q_hold["id"])
    before = (stored(redemption), stored(hold), stored(shared), stored(q_voucher))

    looked_up = api_get(client, p, f"vouchers/{q_voucher.code}")
    assert looked_up.status_code == 403
    assert error_of(looked_up)["code"] == "platform_not_bound"

    capture = {k: v for k, v in charge(shared, "p-steal").items() if k != "voucher"}
    for path, body in ((f"holds/{hold.pk}/release", {}), (f"holds/{hold.pk}/capture", capture)):
        response = api_post(client, p, path, body)
        assert response.status_code == 404, response.content
        assert error_of(response)["code"] == "hold_not_found"
    response = api_post(
        client,
        p,
        f"redemptions/{redemption.pk}/reversals",
        {"amount": "1.00", "reference": "p-refund", "reason": "not ours"},
    )
    assert response.status_code == 404, response.content
    assert error_of(response)["code"] == "redemption_not_found"
    # Nothing of Q's leaked into P's listing on the way.
    assert api_get(client, p, "redemptions").json()["results"] == []
    assert (stored(redemption), stored(hold), stored(shared), stored(q_voucher)) == before
