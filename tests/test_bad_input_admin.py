"""Bad input to the officials' forms: never a server error, never a partial
write, and a message next to the field at fault.

The sibling of tests/test_bad_input.py (same strategies, same settings): the
dashboard's period, the anomaly decision, the voucher ledger filter, the
voucher actions and the clawback, the bulk issue upload, the application
review, the rule set import and rows, the platform keys, the model catalog
and the enterprise's supporting document.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st

from accounts.models import Membership
from applications.models import Application, ApplicationDocument
from audit.models import AuditEvent
from eligibility.models import RuleNode, RuleSet
from oversight.models import AnomalyFlag
from platforms.models import ModelCatalogEntry, PlatformKey
from tests.accounts.factories import (
    ComputePlatformFactory,
    DistrictFactory,
    EnterpriseFactory,
    UserFactory,
)
from tests.applications.factories import PDF_BYTES, application
from tests.eligibility.factories import rule_set
from tests.platforms.factories import new_key_pair
from tests.programs.factories import ProgramFactory, bind, open_program
from tests.test_bad_input import HYPOTHESIS, _fast_passwords, nasty_text
from tests.vouchers.factories import (
    client_for,
    issue,
    member,
    official,
    platform_actor,
    reauthenticated,
    with_mfa,
)
from vouchers.models import LedgerEntry, Voucher

pytestmark = pytest.mark.django_db

__all__ = ["_fast_passwords"]  # The autouse fixture applies here too.


@pytest.fixture(autouse=True)
def _uploads(private_media: Any) -> None:
    """Uploads go to a temporary folder (``private_media`` in tests/conftest.py)."""


boundary_dates = st.one_of(
    st.dates().map(datetime.date.isoformat),
    st.sampled_from(["0001-01-01", "9999-12-31", "1970-01-01", "2026-02-29", "2028-02-29"]),
)
amounts = st.one_of(
    nasty_text,
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["0", "0.00", "0.01", "0.005", "-0.01", "1e3", "1,000", "¥100"]),
)


def _refused_at(form: Any, field: str) -> None:
    """The form came back with its errors, one of them next to ``field``."""
    assert form.errors, field
    assert field in form.errors or "__all__" in form.errors, (field, dict(form.errors))


def _admin_client(user: Any) -> Any:
    return reauthenticated(client_for(with_mfa(user)), user)


def _superuser() -> Any:
    return UserFactory(is_superuser=True)


# --- The dashboard's period (GET) -------------------------------------------


@HYPOTHESIS
@given(field=st.sampled_from(["date_from", "date_to"]), value=st.one_of(nasty_text, boundary_dates))
@example(field="date_to", value="9999-12-31")
@example(field="date_from", value="0001-01-01")
def test_the_dashboard_period_refuses_bad_dates_without_a_trace(field: str, value: str) -> None:
    district = DistrictFactory()
    ProgramFactory(district=district)
    client = _admin_client(official(district, Membership.Role.AUDITOR))
    before = AuditEvent.objects.count()
    response = client.get(reverse("audit_dashboard"), {field: value})
    assert response.status_code < 500, (field, value)
    assert AuditEvent.objects.count() == before
    form = response.context["form"]
    if form.is_bound and not form.is_valid():
        _refused_at(form, field)


# --- The anomaly decision ---------------------------------------------------


@HYPOTHESIS
@given(
    field=st.sampled_from(["decision", "action", "note"]),
    value=st.one_of(nasty_text, st.sampled_from(["confirm", "dismiss", "suspend", "clawback"])),
    decision=st.sampled_from(["confirm", "dismiss"]),
)
def test_the_flag_decision_refuses_bad_values_without_a_partial_write(
    field: str, value: str, decision: str
) -> None:
    district = DistrictFactory()
    voucher = issue(ProgramFactory(district=district), amount="1000")
    flag = AnomalyFlag.objects.create(
        detector=AnomalyFlag.Detector.USAGE_SPIKE,
        district=district,
        program=voucher.program,
        enterprise=voucher.enterprise,
        voucher=voucher,
        subject=f"voucher:{voucher.pk}",
        period_start=datetime.date(2026, 3, 1),
        period_end=datetime.date(2026, 3, 31),
        score=Decimal("12.5"),
        evidence={"unit": "CNY", "measured": "12.5", "threshold": "5"},
    )
    client = _admin_client(official(district, Membership.Role.PROGRAM_MANAGER))
    data = {"decision": decision, "action": "none", "note": "Checked the bills.", field: value}
    before = (AuditEvent.objects.count(), LedgerEntry.objects.count())
    response = client.post(reverse("admin:oversight_anomalyflag_decide", args=[flag.pk]), data)
    assert response.status_code < 500, (field, value)
    flag.refresh_from_db()
    voucher.refresh_from_db()
    if response.status_code in (200, 400):
        # Refused as a whole: the flag still open, the voucher untouched.
        assert flag.status == AnomalyFlag.Status.OPEN
        assert voucher.status == Voucher.Status.ACTIVE
        assert (AuditEvent.objects.count(), LedgerEntry.objects.count()) == before
        _refused_at(response.context["form"], field)
    else:
        assert flag.status != AnomalyFlag.Status.OPEN
        assert flag.decision_note == data["note"].strip() != ""


# --- The voucher ledger filter (GET, the enterprise's page) ------------------


@HYPOTHESIS
@given(
    field=st.sampled_from(["kind", "date_from", "date_to"]),
    value=st.one_of(nasty_text, boundary_dates),
)
@example(field="date_to", value="9999-12-31")
@example(field="date_from", value="0001-01-01")
def test_the_ledger_filter_refuses_bad_values_without_a_trace(field: str, value: str) -> None:
    enterprise = EnterpriseFactory()
    voucher = issue(ProgramFactory(), enterprise=enterprise, amount="1000")
    client = client_for(member(enterprise))
    before = LedgerEntry.objects.filter(voucher=voucher).count()
    response = client.get(reverse("voucher_detail", args=[voucher.pk]), {field: value})
    assert response.status_code < 500, (field, value)
    assert LedgerEntry.objects.filter(voucher=voucher).count() == before
    form = response.context["form"]
    if not form.is_valid():
        _refused_at(form, field)


# --- Suspend, revoke, claw back ---------------------------------------------


def _redeem(voucher: Voucher, *, billed: str) -> None:
    from vouchers.services import voucher_redeem

    platform = ComputePlatformFactory()
    bind(voucher.program, platform)
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference=f"r-{voucher.pk}",
        occurred_at=timezone.now(),
        billed_amount=Decimal(billed),
    )


@HYPOTHESIS
@given(
    action=st.sampled_from(["suspend", "revoke", "clawback"]),
    field=st.sampled_from(["reason", "amount"]),
    value=amounts,
)
def test_the_voucher_actions_refuse_bad_values_without_a_partial_write(
    action: str, field: str, value: str
) -> None:
    district = DistrictFactory()
    voucher = issue(ProgramFactory(district=district), amount="1000")
    if action == "clawback":
        _redeem(voucher, billed="100")  # Covers 30: something to claw back.
        voucher.refresh_from_db()
    client = _admin_client(official(district, Membership.Role.PROGRAM_MANAGER))
    data = {"reason": "Odd usage at 3 a.m.", "amount": "", field: value}
    before = (voucher.status, voucher.balance, LedgerEntry.objects.count())
    response = client.post(
        reverse("admin:vouchers_voucher_action", args=[voucher.pk, action]), data
    )
    assert response.status_code < 500, (action, field, value)
    voucher.refresh_from_db()
    after = (voucher.status, voucher.balance, LedgerEntry.objects.count())
    if response.status_code in (200, 400):
        assert after == before
        _refused_at(response.context["form"], field)
    elif action == "clawback":
        assert after[2] > before[2]
        assert voucher.balance >= 0
    else:
        assert voucher.status_reason == data["reason"].strip() != ""


# --- Bulk issue from a CSV file ---------------------------------------------


def _csv_uploads() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=2000),
        nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.sampled_from(
            [
                b"",
                b"\x00" * 64,
                b"\xff\xfe" + "91420103MA00000001,1000\n".encode("utf-16-le"),
                "91420103MA00000001,1000\n企业,１０００\n".encode("gb18030"),
                "uscc,amount\n统一代码,一千\n".encode("latin-1", "replace"),
                PDF_BYTES,
                b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
                b"uscc,amount\n" + b"91420103MA00000001,1000\n" * 90_000,  # > 2 MB
                b'uscc,amount\n,,,,,\n\n\n"unterminated\n',
                b"uscc,amount\n91420103MA00000001,NaN\n91420103MA00000001,-5\n",
                b"uscc,amount\n91420103MA00000001,1e309\n",
                b"91420103MA00000001,1000\r91420103MA00000002,5\r",
                b'"' + b"a\n" * 70_000,  # One quoted cell beyond the csv field limit.
                b"A" * 200_000,
            ]
        ),
    )


@HYPOTHESIS
@given(
    upload=st.one_of(st.none(), _csv_uploads()),
    text=st.one_of(st.just(""), nasty_text, amounts.map(lambda a: f"{{uscc}},{a}")),
    validate_only=st.booleans(),
    program_value=st.one_of(st.none(), nasty_text),
)
@example(upload=b"\x00" * 64, text="", validate_only=True, program_value=None)
@example(upload=b"A" * 2_000_001, text="", validate_only=True, program_value=None)
@example(upload=b'"' + b"a\n" * 70_000, text="", validate_only=True, program_value=None)
@example(upload=b"\xff\xfe\x00\xd8", text="", validate_only=False, program_value=None)
@example(upload=None, text="{uscc},100\r{uscc},5", validate_only=False, program_value=None)
def test_the_bulk_issue_refuses_bad_files_without_a_partial_write(
    upload: bytes | None, text: str, validate_only: bool, program_value: str | None
) -> None:
    district = DistrictFactory()
    program = open_program(district=district)
    enterprise = EnterpriseFactory()
    client = _admin_client(official(district, Membership.Role.PROGRAM_MANAGER))
    data: dict[str, Any] = {
        "program": program.pk if program_value is None else program_value,
        "csv_text": text.replace("{uscc}", enterprise.uscc),
    }
    if validate_only:
        data["validate_only"] = "on"
    if upload is not None:
        data["csv_file"] = SimpleUploadedFile("vouchers.csv", upload, content_type="text/csv")
    before = Voucher.objects.count()
    response = client.post(reverse("admin:vouchers_voucher_bulk_issue"), data)
    assert response.status_code < 500, (upload and upload[:80], text[:80])
    issued = Voucher.objects.count() - before
    report = response.context["report"]
    if report is None:
        # The form refused it: the error names the file, the text or the program.
        assert issued == 0
        form = response.context["form"]
        assert form.errors
        assert set(form.errors) <= {"program", "csv_file", "csv_text", "__all__"}
    elif report.issued:
        # All rows or none: only a clean file issues, and then every row.
        assert not validate_only and report.ok
        assert issued == len(report.rows)
    else:
        assert issued == 0


# --- The application review -------------------------------------------------


@HYPOTHESIS
@given(
    action=st.one_of(
        st.sampled_from(["approve", "approve_first", "reject", "return_for_changes"]), nasty_text
    ),
    field=st.sampled_from(["amount", "note"]),
    value=amounts,
)
def test_the_application_review_refuses_bad_values_without_a_partial_write(
    action: str, field: str, value: str
) -> None:
    district = DistrictFactory()
    program = open_program(district=district, per_enterprise_cap=Decimal("300000"))
    app = application(EnterpriseFactory(), program, status=Application.Status.UNDER_REVIEW)
    client = _admin_client(official(district, Membership.Role.REVIEWER))
    data = {"action": action, "amount": "", "note": "Checked.", field: value}
    before = (app.status, app.approved_amount, Voucher.objects.count())
    response = client.post(reverse("admin:applications_application_change", args=[app.pk]), data)
    assert response.status_code < 500, (action, field, value)
    app.refresh_from_db()
    after = (app.status, app.approved_amount, Voucher.objects.count())
    if response.status_code in (200, 400):
        assert after == before
        form = response.context["form"]
        _refused_at(form, field if field in form.errors else "action")
    else:
        assert app.status != before[0]
        if app.approved_amount is not None:
            assert Decimal("0.01") <= app.approved_amount <= Decimal("300000")


# --- The rule set: JSON import and rows -------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
definitions = st.one_of(
    nasty_text,
    json_values.map(json.dumps),
    st.dictionaries(
        st.sampled_from(["all", "any", "fact", "op", "value", "not"]), json_values, max_size=4
    ).map(json.dumps),
    st.sampled_from(
        [
            "{",
            "{}",
            "[]",
            "null",
            '"all"',
            '{"all": []}',
            '{"all": {"fact": "headcount"}}',
            '{"all": [{"fact": "headcount", "op": "gte", "value": []}]}',
            '{"all": [{"fact": "nope", "op": "gte", "value": "1"}]}',
            '{"all": [{"fact": "headcount", "op": "gte", "value": "1e309"}]}',
            '{"all": [{"fact": "headcount", "op": "gte", "value": "1"}], "all ": 1}',
            '{"all": [' * 5000 + "]}" * 5000,
            "[" * 100_000 + "]" * 100_000,
            '{"all": [{"any": ' * 60
            + '{"fact": "headcount", "op": "gte", "value": "1"}'
            + "}]" * 60
            + "}",
            "\ufeff{}",
            "NaN",
            '{"all": [{"fact": "headcount", "op": "gte", "value": NaN}]}',
            '{"all": [{"fact": "headcount", "op": "gte", "value": "1"}]}' + " " * 3_000_000,
        ]
    ),
)


def _rows(rule_set: RuleSet) -> list[tuple[Any, ...]]:
    return list(
        RuleNode.objects.filter(rule_set=rule_set)
        .order_by("path")
        .values_list("path", "kind", "fact", "operator", "value")
    )


@HYPOTHESIS
@given(definition=definitions)
@example(definition="[" * 100_000 + "]" * 100_000)
@example(definition='{"all": [' * 5000 + "]}" * 5000)
@example(definition=" " * 3_000_000)
def test_the_rule_set_import_refuses_bad_json_without_a_partial_write(definition: str) -> None:
    district = DistrictFactory()
    rules = rule_set(
        district,
        {"all": [{"fact": "headcount", "op": "gte", "value": "20"}]},
        name=f"Rules {UserFactory().pk}",
    )
    client = _admin_client(official(district, Membership.Role.PROGRAM_MANAGER))
    before = (_rows(rules), rules.combinator, AuditEvent.objects.count())
    response = client.post(
        reverse("admin:eligibility_ruleset_import", args=[rules.pk]), {"definition": definition}
    )
    assert response.status_code < 500, definition[:200]
    rules.refresh_from_db()
    if response.status_code in (200, 400):
        assert (_rows(rules), rules.combinator, AuditEvent.objects.count()) == before
        if response.status_code == 200:
            _refused_at(response.context["form"], "definition")
    else:
        assert _rows(rules)


RULE_NODE_FIELDS = ["path", "kind", "fact", "operator", "value"]


@HYPOTHESIS
@given(field=st.sampled_from(RULE_NODE_FIELDS), value=nasty_text, row=st.integers(0, 1))
def test_the_rule_rows_refuse_bad_values_without_a_partial_write(
    field: str, value: str, row: int
) -> None:
    district = DistrictFactory()
    client = _admin_client(official(district, Membership.Role.PROGRAM_MANAGER))
    rows = [
        {"path": "1", "kind": "condition", "fact": "headcount", "operator": "gte", "value": "20"},
        {"path": "2", "kind": "any", "fact": "", "operator": "", "value": ""},
        {
            "path": "2.1",
            "kind": "condition",
            "fact": "prior_year_revenue",
            "operator": "gte",
            "value": "5000000",
        },
    ]
    rows[row] = {**rows[row], field: value}
    name = f"Bad input {UserFactory().pk}"
    data: dict[str, Any] = {
        "district": district.pk,
        "name": name,
        "name_en": name,
        "combinator": "all",
        "nodes-TOTAL_FORMS": str(len(rows)),
        "nodes-INITIAL_FORMS": "0",
        "nodes-MIN_NUM_FORMS": "0",
        "nodes-MAX_NUM_FORMS": "1000",
    }
    for i, values in enumerate(rows):
        for key, text in values.items():
            data[f"nodes-{i}-{key}"] = text
    before = (RuleSet.objects.count(), RuleNode.objects.count())
    response = client.post(reverse("admin:eligibility_ruleset_add"), data)
    assert response.status_code < 500, (field, value)
    if response.status_code in (200, 400):
        # Neither the rule set nor any of its rows.
        assert (RuleSet.objects.count(), RuleNode.objects.count()) == before
        formset = response.context["inline_admin_formsets"][0].formset
        row_errors = formset.errors[row] if row < len(formset.errors) else {}
        # Next to the field, or on a row the change made wrong (a path, a group).
        assert field in row_errors or any(formset.errors) or formset.non_form_errors(), (
            field,
            value,
        )
    else:
        saved = RuleSet.objects.get(name=name)
        assert RuleNode.objects.filter(rule_set=saved).count() == len(rows)


# --- Platform keys and the model catalog (superusers) -----------------------


@cache
def _wrong_keys() -> dict[str, str]:
    """Keys of the wrong kind, generated once (an RSA key takes a while)."""
    private_ed, public_ed = new_key_pair()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    return {
        "private": private_ed.decode(),
        "openssh private": ed25519.Ed25519PrivateKey.generate()
        .private_bytes(pem, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        .decode(),
        "rsa": rsa_key.public_key().public_bytes(pem, spki).decode(),
        "rsa pkcs1": rsa_key.public_key()
        .public_bytes(pem, serialization.PublicFormat.PKCS1)
        .decode(),
        "ec": ec_key.public_key().public_bytes(pem, spki).decode(),
        "truncated": public_ed[:-40] + "\n-----END PUBLIC KEY-----\n",
        "unicode armour": public_ed.replace("PUBLIC KEY", "公钥"),
        "twice": public_ed + public_ed,
        "not base64": "-----BEGIN PUBLIC KEY-----\nnot base64!!\n-----END PUBLIC KEY-----\n",
        "huge": "-----BEGIN PUBLIC KEY-----\n" + "A" * 5000 + "\n-----END PUBLIC KEY-----\n",
        "crlf": public_ed.replace("\n", "\r\n"),
        "bidi": "\u202e" + public_ed,
    }


WRONG_KEYS = [
    "private",
    "openssh private",
    "rsa",
    "rsa pkcs1",
    "ec",
    "truncated",
    "unicode armour",
    "twice",
    "not base64",
    "huge",
    "crlf",
    "bidi",
]


@HYPOTHESIS
@given(
    field=st.sampled_from(["platform", "label", "public_key_pem"]),
    value=st.one_of(nasty_text, st.sampled_from(WRONG_KEYS)),
)
@example(field="public_key_pem", value="private")
@example(field="public_key_pem", value="rsa")
def test_the_platform_key_form_refuses_bad_keys_without_a_trace(field: str, value: str) -> None:
    value = _wrong_keys().get(value, value)
    platform = ComputePlatformFactory()
    client = _admin_client(_superuser())
    data = {"platform": platform.pk, "label": "production", "public_key_pem": new_key_pair()[1]}
    data[field] = value
    before = PlatformKey.objects.count()
    response = client.post(reverse("admin:platforms_platformkey_add"), data)
    assert response.status_code < 500, (field, value[:200])
    added = PlatformKey.objects.count() - before
    if response.status_code in (200, 400):
        assert added == 0
        _refused_at(response.context["adminform"].form, field)
    else:
        assert added == 1


CATALOG_FIELDS = [
    "platform",
    "model_id",
    "display_name",
    "price_input_per_1k",
    "price_output_per_1k",
    "points_input_per_1k",
    "points_output_per_1k",
    "valid_from_0",
    "valid_from_1",
]


@HYPOTHESIS
@given(field=st.sampled_from(CATALOG_FIELDS), value=st.one_of(amounts, boundary_dates))
@example(field="valid_from_0", value="0001-01-01")
@example(field="valid_from_0", value="9999-12-31")
@example(field="points_input_per_1k", value="9" * 40)
def test_the_catalog_form_refuses_bad_prices_without_a_trace(field: str, value: str) -> None:
    platform = ComputePlatformFactory()
    client = _admin_client(_superuser())
    data = {
        "platform": platform.pk,
        "model_id": "kimi-k2.5",
        "display_name": "Kimi-K2.5",
        "price_input_per_1k": "0.004",
        "price_output_per_1k": "0.021",
        "points_input_per_1k": "1000",
        "points_output_per_1k": "5250",
        "valid_from_0": "2026-03-01",
        "valid_from_1": "00:00:00",
        field: value,
    }
    before = ModelCatalogEntry.objects.count()
    response = client.post(reverse("admin:platforms_modelcatalogentry_add"), data)
    assert response.status_code < 500, (field, value)
    added = ModelCatalogEntry.objects.count() - before
    if response.status_code in (200, 400):
        assert added == 0
        _refused_at(response.context["adminform"].form, field.removesuffix("_0").removesuffix("_1"))
    else:
        # Accepted, or refused by the service after the form (a message, no row).
        assert added in (0, 1)
        if added:
            entry = ModelCatalogEntry.objects.latest("pk")
            assert entry.price_input_per_1k >= 0 and entry.points_input_per_1k >= 0


# --- The enterprise's supporting document -----------------------------------


documents = st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=200).map(lambda b: b"%PDF-" + b),
    st.binary(max_size=200).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
    st.binary(max_size=200).map(lambda b: b"\xff\xd8\xff" + b),
    st.sampled_from([b"", b"MZ\x90\x00" + b"\x00" * 200, b"#!/bin/sh\nrm -rf /\n"]),
)
document_names = st.one_of(
    st.sampled_from(["licence.pdf", "scan.png", "photo.jpg", "tool.exe", "", ".pdf"]),
    nasty_text.map(lambda t: (t[:180] or "x") + ".pdf"),
)


@HYPOTHESIS
@given(content=documents, name=document_names)
def test_the_document_upload_refuses_bad_files_without_a_trace(content: bytes, name: str) -> None:
    program = open_program(district=DistrictFactory(), per_enterprise_cap=Decimal("300000"))
    enterprise = EnterpriseFactory()
    client = client_for(member(enterprise))
    upload = SimpleUploadedFile(name or "x", content, content_type="application/pdf")
    before = ApplicationDocument.objects.count()
    response = client.post(
        reverse("application_apply", args=[program.pk]),
        {
            "requested_amount": "1000",
            "purpose": "Training a model.",
            "intent": "save",
            "document": upload,
        },
    )
    assert response.status_code < 500, (name, content[:40])
    added = ApplicationDocument.objects.count() - before
    if response.status_code in (200, 400):
        assert added == 0
        _refused_at(response.context["form"], "document")
    else:
        assert added == 1
        assert content[:5] == b"%PDF-" or content[:3] in (b"\x89PN", b"\xff\xd8\xff")
