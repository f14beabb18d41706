"""Rule set versions: a published version never changes, an edit makes the
next draft version, programs adopt a version explicitly, and an application
keeps the version it was decided under."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.urls import reverse

from accounts.models import Membership
from applications.models import Application
from applications.selectors import program_eligibility
from applications.services import application_start_review, application_submit
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError
from eligibility.models import RuleNode, RuleSet, definition_to_rows
from eligibility.services import rule_set_import, rule_set_new_version, rule_set_publish
from programs.models import Program
from programs.services import program_adopt_rule_set
from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application
from tests.eligibility.factories import rule_set
from tests.programs.factories import open_program
from tests.vouchers.factories import client_for, member, official, with_mfa

pytestmark = pytest.mark.django_db

TWENTY_STAFF = {"all": [{"fact": "headcount", "op": "gte", "value": "20"}]}
FIVE_STAFF = {"all": [{"fact": "headcount", "op": "gte", "value": "5"}]}


def published(district: Any, definition: dict[str, Any], name: str = "Staff rule") -> RuleSet:
    rs = rule_set(district, definition, name)
    return rule_set_publish(actor=Actor.system("tests"), rule_set=rs)


@pytest.fixture
def manager(jianghan: Any) -> Any:
    return with_mfa(official(jianghan, Membership.Role.PROGRAM_MANAGER))


@pytest.fixture
def v1(jianghan: Any) -> RuleSet:
    return published(jianghan, TWENTY_STAFF)


@pytest.fixture
def program_v1(jianghan: Any, v1: RuleSet) -> Program:
    return open_program(district=jianghan, rule_set=v1)


@pytest.fixture
def ten_staff(jianghan: Any) -> Any:
    return EnterpriseFactory(division="420103", headcount=10, name="Ten Staff Co")


def _rows(definition: dict[str, Any]) -> list[dict[str, str]]:
    return definition_to_rows(definition)[1]


# --- Services -----------------------------------------------------------------


def test_a_published_version_cannot_be_imported_into(manager: Any, v1: RuleSet) -> None:
    with pytest.raises(BusinessError) as refused:
        rule_set_import(actor=Actor.for_user(manager), rule_set=v1, definition=FIVE_STAFF)
    assert "published and never changes" in " ".join(refused.value.messages)
    v1.refresh_from_db()
    assert v1.definition() == TWENTY_STAFF


def test_editing_a_published_version_makes_the_next_draft_and_leaves_it_as_it_was(
    manager: Any, v1: RuleSet
) -> None:
    v2 = rule_set_new_version(actor=Actor.for_user(manager), rule_set=v1, rows=_rows(FIVE_STAFF))
    assert (v2.version, v2.status, v2.lineage, v2.based_on) == (
        2,
        RuleSet.Status.DRAFT,
        v1.lineage,
        v1,
    )
    assert v2.definition() == FIVE_STAFF
    v1.refresh_from_db()
    assert v1.is_published()
    assert v1.definition() == TWENTY_STAFF
    event = AuditEvent.objects.get(event_type="rule_set.version_created", object_id=str(v2.pk))
    assert event.after["version"] == 2
    assert event.before["version"] == 1


def test_only_one_draft_version_is_edited_at_a_time(manager: Any, v1: RuleSet) -> None:
    actor = Actor.for_user(manager)
    rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF))
    with pytest.raises(BusinessError) as refused:
        rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF))
    assert "already being edited" in " ".join(refused.value.messages)
    assert RuleSet.objects.filter(lineage=v1.lineage).count() == 2


def test_a_new_version_with_malformed_rows_is_refused(manager: Any, v1: RuleSet) -> None:
    bad = [{"path": "1", "kind": "condition", "fact": "headcount", "operator": "in", "value": "1"}]
    with pytest.raises(BusinessError):
        rule_set_new_version(actor=Actor.for_user(manager), rule_set=v1, rows=bad)
    assert RuleSet.objects.filter(lineage=v1.lineage).count() == 1


def test_publishing_is_a_state_machine_transition_and_is_audited(
    manager: Any, jianghan: Any
) -> None:
    draft = rule_set(jianghan, FIVE_STAFF, "Draft")
    with pytest.raises(AttributeError):
        draft.status = RuleSet.Status.PUBLISHED  # protected: only publish() moves it
    done = rule_set_publish(actor=Actor.for_user(manager), rule_set=draft)
    assert done.is_published()
    assert done.published_by == manager
    assert done.published_at is not None
    assert AuditEvent.objects.filter(
        event_type="rule_set.published", object_id=str(draft.pk)
    ).exists()
    with pytest.raises(BusinessError):
        rule_set_publish(actor=Actor.for_user(manager), rule_set=done)


@pytest.mark.postgres  # the guards are PostgreSQL triggers
def test_the_database_refuses_to_change_a_published_version(v1: RuleSet) -> None:
    node = v1.nodes.get()
    attempts = [
        lambda: RuleNode.objects.filter(pk=node.pk).update(value="1"),
        lambda: RuleNode.objects.filter(pk=node.pk).delete(),
        lambda: RuleNode.objects.create(
            rule_set=v1, path="2", kind="condition", fact="headcount", operator="gte", value="1"
        ),
        lambda: RuleSet.objects.filter(pk=v1.pk).update(combinator="any"),
        lambda: RuleSet.objects.filter(pk=v1.pk).update(status="draft"),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    v1.refresh_from_db()
    assert v1.is_published()
    assert v1.definition() == TWENTY_STAFF


@pytest.mark.postgres  # the guards are PostgreSQL triggers
def test_the_database_lets_a_draft_be_edited(jianghan: Any) -> None:
    draft = rule_set(jianghan, TWENTY_STAFF, "Draft")
    RuleNode.objects.filter(rule_set=draft).update(value="5")
    assert draft.definition() == FIVE_STAFF


def test_only_a_program_manager_of_the_rule_sets_own_district_edits_or_publishes_it(
    jianghan: Any, guiyang: Any, v1: RuleSet
) -> None:
    wuhan_manager_jianghan_auditor = official(guiyang, Membership.Role.PROGRAM_MANAGER)
    Membership.objects.create(
        user=wuhan_manager_jianghan_auditor, role=Membership.Role.AUDITOR, district=jianghan
    )
    reviewer = official(jianghan, Membership.Role.REVIEWER)
    draft = rule_set(jianghan, FIVE_STAFF, "Draft")
    for user in (wuhan_manager_jianghan_auditor, reviewer):
        actor = Actor.for_user(user)
        with pytest.raises(PermissionDenied):
            rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF))
        with pytest.raises(PermissionDenied):
            rule_set_publish(actor=actor, rule_set=draft)
        with pytest.raises(PermissionDenied):
            rule_set_import(actor=actor, rule_set=draft, definition=TWENTY_STAFF)
    draft.refresh_from_db()
    assert not draft.is_published()
    assert RuleSet.objects.filter(lineage=v1.lineage).count() == 1


# --- Programs adopt a version --------------------------------------------------


def test_an_open_program_keeps_its_version_until_it_adopts_the_new_one(
    manager: Any, v1: RuleSet, program_v1: Program, ten_staff: Any
) -> None:
    actor = Actor.for_user(manager)
    assert not program_eligibility(program=program_v1, enterprise=ten_staff).eligible
    v2 = rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF))
    v2 = rule_set_publish(actor=actor, rule_set=v2)
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v1
    assert not program_eligibility(program=program_v1, enterprise=ten_staff).eligible

    program_adopt_rule_set(actor=actor, program=program_v1, rule_set=v2)
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v2
    decision = program_eligibility(program=program_v1, enterprise=ten_staff)
    assert decision.eligible
    assert decision.as_record()["rule_set_version"] == 2
    event = AuditEvent.objects.get(
        event_type="program.rule_set_adopted", object_id=str(program_v1.pk)
    )
    assert event.before["version"] == 1
    assert event.after["version"] == 2
    assert event.actor_label == manager.email


def test_a_program_adopts_only_a_published_version_of_its_own_district(
    manager: Any, v1: RuleSet, program_v1: Program, guiyang: Any, jianghan: Any
) -> None:
    actor = Actor.for_user(manager)
    draft = rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF))
    elsewhere = published(guiyang, FIVE_STAFF, "Guiyang rule")
    for wrong in (draft, elsewhere, v1):
        with pytest.raises(BusinessError):
            program_adopt_rule_set(actor=actor, program=program_v1, rule_set=wrong)
    closed = open_program(district=jianghan, rule_set=v1)
    Program.objects.filter(pk=closed.pk).update(status=Program.Status.CLOSED)
    with pytest.raises(BusinessError):
        program_adopt_rule_set(actor=actor, program=closed, rule_set=None)
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v1


def test_only_a_program_manager_of_the_programs_district_adopts(
    jianghan: Any, guiyang: Any, v1: RuleSet, program_v1: Program
) -> None:
    v2 = published(jianghan, FIVE_STAFF, "Other rule")
    outsider = official(guiyang, Membership.Role.PROGRAM_MANAGER)
    Membership.objects.create(user=outsider, role=Membership.Role.AUDITOR, district=jianghan)
    for user in (outsider, official(jianghan, Membership.Role.REVIEWER)):
        with pytest.raises(PermissionDenied):
            program_adopt_rule_set(actor=Actor.for_user(user), program=program_v1, rule_set=v2)
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v1


# --- Applications keep the version they were decided under ----------------------


def test_an_application_keeps_the_version_it_was_decided_under(
    manager: Any, jianghan: Any, v1: RuleSet, program_v1: Program
) -> None:
    enterprise = EnterpriseFactory(division="420103", headcount=30)
    applicant = member(enterprise)
    app = application(enterprise, program_v1)
    application_submit(actor=Actor.for_user(applicant), application=app)
    app.refresh_from_db()
    assert app.rule_set == v1
    assert app.eligibility_decision["rule_set_version"] == 1
    assert app.eligibility_decision["rule_set_id"] == v1.pk

    actor = Actor.for_user(manager)
    v2 = rule_set_publish(
        actor=actor,
        rule_set=rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF)),
    )
    program_adopt_rule_set(actor=actor, program=program_v1, rule_set=v2)
    app.refresh_from_db()
    assert app.rule_set == v1
    assert app.eligibility_decision["rule_set_version"] == 1

    reviewer = with_mfa(official(jianghan, Membership.Role.REVIEWER))
    application_start_review(actor=Actor.for_user(reviewer), application=app)
    page = client_for(reviewer).get(reverse("admin:applications_application_change", args=[app.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Decided under" in body
    assert v1.version_label in body
    assert reverse("admin:eligibility_ruleset_change", args=[v1.pk]) in body
    assert "The program has adopted other rules since" in body
    own_page = client_for(applicant).get(f"/applications/{app.pk}/")
    assert f"Rules applied: {v1.version_label}." in own_page.content.decode()


# --- The admin ---------------------------------------------------------------------


def _change_post(rs: RuleSet, rows: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    """The change form's POST: the stored rows replaced by ``rows``."""
    nodes = list(rs.nodes.order_by("path"))
    data: dict[str, Any] = {
        "name": rs.name,
        "name_en": rs.name_en,
        "description": rs.description,
        "description_en": rs.description_en,
        "combinator": rs.combinator,
        "nodes-TOTAL_FORMS": str(len(nodes) + len(rows)),
        "nodes-INITIAL_FORMS": str(len(nodes)),
        "nodes-MIN_NUM_FORMS": "0",
        "nodes-MAX_NUM_FORMS": "1000",
        "_continue": "1",
        **fields,
    }
    for i, node in enumerate(nodes):
        data.update({f"nodes-{i}-{k}": v for k, v in node.as_row().items()})
        data[f"nodes-{i}-id"] = str(node.pk)
        data[f"nodes-{i}-rule_set"] = str(rs.pk)
        data[f"nodes-{i}-DELETE"] = "on"
    for j, row in enumerate(rows, start=len(nodes)):
        data.update({f"nodes-{j}-{k}": v for k, v in row.items()})
        data[f"nodes-{j}-rule_set"] = str(rs.pk)
    return data


def test_saving_a_published_rule_set_in_the_admin_makes_a_draft_version_and_changes_no_program(
    manager: Any, v1: RuleSet, program_v1: Program, ten_staff: Any
) -> None:
    client = client_for(manager)
    change = reverse("admin:eligibility_ruleset_change", args=[v1.pk])
    page = client.get(change)
    assert "is published and never changes" in page.content.decode()
    assert "Save as draft version 2" in page.content.decode()

    response = client.post(change, _change_post(v1, _rows(FIVE_STAFF)))
    assert response.status_code == 302, response.content.decode()[:3000]
    v2 = RuleSet.objects.get(lineage=v1.lineage, version=2)
    assert response["Location"] == reverse("admin:eligibility_ruleset_change", args=[v2.pk])
    assert not v2.is_published()
    assert v2.definition() == FIVE_STAFF
    v1.refresh_from_db()
    assert v1.is_published()
    assert v1.definition() == TWENTY_STAFF
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v1
    assert not program_eligibility(program=program_v1, enterprise=ten_staff).eligible

    draft_page = client.get(response["Location"])
    body = draft_page.content.decode()
    assert "Draft version 2: no program applies it" in body
    assert "Publish version 2" in body
    assert "Version 1 is published and never changes" in " ".join(
        str(m) for m in draft_page.context["messages"]
    )


def test_a_published_version_whose_next_draft_exists_sends_the_official_there(
    manager: Any, v1: RuleSet
) -> None:
    v2 = rule_set_new_version(actor=Actor.for_user(manager), rule_set=v1, rows=_rows(FIVE_STAFF))
    client = client_for(manager)
    change = reverse("admin:eligibility_ruleset_change", args=[v1.pk])
    assert reverse("admin:eligibility_ruleset_change", args=[v2.pk]) in (
        client.get(change).content.decode()
    )
    response = client.post(change, _change_post(v1, _rows(TWENTY_STAFF)))
    assert response.status_code == 200
    assert "already being edited" in response.content.decode()
    assert RuleSet.objects.filter(lineage=v1.lineage).count() == 2


def test_a_draft_is_edited_in_place_in_the_admin(manager: Any, jianghan: Any) -> None:
    draft = rule_set(jianghan, TWENTY_STAFF, "Draft")
    client = client_for(manager)
    change = reverse("admin:eligibility_ruleset_change", args=[draft.pk])
    response = client.post(change, _change_post(draft, _rows(FIVE_STAFF)))
    assert response.status_code == 302, response.content.decode()[:3000]
    draft.refresh_from_db()
    assert draft.definition() == FIVE_STAFF
    assert RuleSet.objects.filter(lineage=draft.lineage).count() == 1


def test_a_manager_publishes_the_draft_and_adopts_it_on_the_programs_page(
    manager: Any, v1: RuleSet, program_v1: Program, ten_staff: Any
) -> None:
    client = client_for(manager)
    v2 = rule_set_new_version(actor=Actor.for_user(manager), rule_set=v1, rows=_rows(FIVE_STAFF))
    response = client.post(reverse("admin:eligibility_ruleset_publish", args=[v2.pk]))
    assert response.status_code == 302
    v2.refresh_from_db()
    assert v2.is_published()
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v1

    program_page = client.get(reverse("admin:programs_program_change", args=[program_v1.pk]))
    body = program_page.content.decode()
    assert v1.version_label in body
    assert "A newer version is published" in body
    adopt = reverse("admin:programs_program_adopt_rule_set", args=[program_v1.pk])
    assert adopt in body

    form = client.get(adopt)
    assert form.status_code == 200
    assert form.context["form"]["rule_set"].initial == v2
    response = client.post(adopt, {"rule_set": v2.pk})
    assert response.status_code == 302
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v2
    assert program_eligibility(program=program_v1, enterprise=ten_staff).eligible
    assert AuditEvent.objects.filter(
        event_type="program.rule_set_adopted", object_id=str(program_v1.pk)
    ).exists()
    body = client.get(reverse("admin:programs_program_change", args=[program_v1.pk])).content
    assert "A newer version is published" not in body.decode()


def test_the_program_form_does_not_change_the_rules_in_force(
    manager: Any, jianghan: Any, v1: RuleSet, program_v1: Program
) -> None:
    other = published(jianghan, FIVE_STAFF, "Other rule")
    response = client_for(manager).get(
        reverse("admin:programs_program_change", args=[program_v1.pk])
    )
    assert "rule_set" not in response.context["adminform"].form.fields
    assert other.pk  # adoption is the only way: see the adopt page


def test_the_changelist_action_adopts_the_newest_published_version(
    manager: Any, v1: RuleSet, program_v1: Program
) -> None:
    actor = Actor.for_user(manager)
    v2 = rule_set_publish(
        actor=actor,
        rule_set=rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF)),
    )
    response = client_for(manager).post(
        reverse("admin:programs_program_changelist"),
        {"action": "adopt_newest_rule_sets", "_selected_action": [program_v1.pk]},
    )
    assert response.status_code == 302
    program_v1.refresh_from_db()
    assert program_v1.rule_set == v2


def test_importing_into_a_published_version_makes_a_draft(manager: Any, v1: RuleSet) -> None:
    import json

    client = client_for(manager)
    response = client.post(
        reverse("admin:eligibility_ruleset_import", args=[v1.pk]),
        {"definition": json.dumps(FIVE_STAFF)},
    )
    assert response.status_code == 302
    v2 = RuleSet.objects.get(lineage=v1.lineage, version=2)
    assert v2.definition() == FIVE_STAFF
    v1.refresh_from_db()
    assert v1.definition() == TWENTY_STAFF


def test_a_published_version_cannot_be_deleted_in_the_admin(manager: Any, v1: RuleSet) -> None:
    client = client_for(manager)
    response = client.post(
        reverse("admin:eligibility_ruleset_delete", args=[v1.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert RuleSet.objects.filter(pk=v1.pk).exists()


def test_the_preview_of_who_qualifies_works_for_each_version(
    manager: Any, v1: RuleSet, ten_staff: Any
) -> None:
    v2 = rule_set_new_version(actor=Actor.for_user(manager), rule_set=v1, rows=_rows(FIVE_STAFF))
    client = client_for(manager)
    old = client.get(reverse("admin:eligibility_ruleset_preview", args=[v1.pk]))
    new = client.get(reverse("admin:eligibility_ruleset_preview", args=[v2.pk]))
    assert ten_staff in [row.enterprise for row in old.context["preview"].failing]
    assert ten_staff in [row.enterprise for row in new.context["preview"].passing]


def test_a_resubmitted_application_is_decided_again_under_the_version_then_in_force(
    manager: Any, jianghan: Any, v1: RuleSet, program_v1: Program
) -> None:
    enterprise = EnterpriseFactory(division="420103", headcount=30)
    applicant = member(enterprise)
    app = application(enterprise, program_v1, amount=Decimal("1000"))
    application_submit(actor=Actor.for_user(applicant), application=app)
    actor = Actor.for_user(manager)
    v2 = rule_set_publish(
        actor=actor,
        rule_set=rule_set_new_version(actor=actor, rule_set=v1, rows=_rows(FIVE_STAFF)),
    )
    program_adopt_rule_set(actor=actor, program=program_v1, rule_set=v2)
    Application.objects.filter(pk=app.pk).update(status=Application.Status.RETURNED)
    application_submit(actor=Actor.for_user(applicant), application=app)
    app.refresh_from_db()
    assert app.rule_set == v2
    assert app.eligibility_decision["rule_set_version"] == 2


def test_saving_a_published_version_unchanged_makes_no_new_version(
    manager: Any, v1: RuleSet
) -> None:
    client = client_for(manager)
    change = reverse("admin:eligibility_ruleset_change", args=[v1.pk])
    data = _change_post(v1, [])
    for i in range(v1.nodes.count()):
        del data[f"nodes-{i}-DELETE"]
    response = client.post(change, data)
    assert response.status_code == 302
    assert response["Location"] == change
    assert RuleSet.objects.filter(lineage=v1.lineage).count() == 1


def test_a_draft_version_can_be_deleted_but_a_selected_published_one_stays(
    manager: Any, jianghan: Any, v1: RuleSet
) -> None:
    draft = rule_set_new_version(actor=Actor.for_user(manager), rule_set=v1, rows=_rows(FIVE_STAFF))
    client = client_for(manager)
    response = client.post(
        reverse("admin:eligibility_ruleset_changelist"),
        {"action": "delete_selected", "_selected_action": [draft.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not RuleSet.objects.filter(pk=draft.pk).exists()
    response = client.post(
        reverse("admin:eligibility_ruleset_changelist"),
        {"action": "delete_selected", "_selected_action": [v1.pk], "post": "yes"},
        follow=True,
    )
    # Refused as every admin action on a row it may not touch is: nothing
    # done, and the list says so (accounts.admin_scoping).
    assert response.status_code == 200
    refusals = [m for m in response.context["messages"] if m.level_tag == "error"]
    assert len(refusals) == 1 and str(v1) in str(refusals[0])
    assert RuleSet.objects.filter(pk=v1.pk).exists()
