"""Who may open what: every URL the project serves × every role.

The URL resolver is walked, so a page added without a rule here fails
``test_every_url_has_a_rule``. Each URL is requested by each role against
objects that belong to district X (Jianghan), enterprise X, platform X; the
rule says who must be let in (``ALLOW``), who must be kept out (``DENY``:
401, 403, 404, or a redirect that does not lead to the page), and that
nobody ever gets a server error. Admin pages follow one generic rule:
people who are not officials never see them, an official of another
district never sees district X's objects, and the superuser sees them all.

The second half holds every district-owned admin model, page and action to
"roles count in the object's own district" (issue 13): users with different
roles in two districts, and a parent district's auditor (see below).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.scoping import scoped
from applications.models import BulkIssuance
from config import legacy_admin
from notices.models import Notification
from notices.services import notify
from tests.accounts.factories import add_totp
from tests.applications.factories import application as make_application
from tests.programs.factories import ProgramFactory
from tests.settlements.factories import settlement_of_last_month
from tests.vouchers.factories import issue
from tests.world import World, build_world

pytestmark = pytest.mark.django_db

ROLES = [
    "anonymous",
    "ent_admin_x",
    "ent_member_x",
    "ent_admin_y",
    "official_x",
    "official_wuhan",
    "official_y",
    "operator_x",
    "operator_y",
    "superuser",
    "finance_x",
    "assessor_x",
]
#: An assessor engaged by district X is no official: they never enter the admin.
NOT_OFFICIALS = {
    "anonymous",
    "ent_admin_x",
    "ent_member_x",
    "ent_admin_y",
    "operator_x",
    "operator_y",
    "assessor_x",
}
ENTERPRISE_X = {"ent_admin_x", "ent_member_x"}
OFFICIALS_AND_SUPERUSER = {"official_x", "official_wuhan", "official_y", "superuser", "finance_x"}

ALLOW, DENY, ANY = "allow", "deny", "any"


def walk(
    patterns: list[Any], prefix: str = "", namespace: str | None = None
) -> Iterator[tuple[str, str | None]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


ALL_ROUTES = sorted(set(walk(get_resolver().url_patterns)), key=lambda r: r[0])


@dataclass
class Objects:
    """district X's objects, by kind, for filling URL parameters."""

    world: World
    application: Any
    document: Any
    voucher: Any
    settlement: Any = None
    payment: Any = None
    claims: Any = None  # ClaimObjects: district X's claims, agreements and a receivable
    notification: Any = None  # enterprise X's administrator's notice of the voucher


# -- rules -------------------------------------------------------------------------
# A rule maps a route to (path or None to skip, {role: ALLOW | DENY | ANY}).

Rule = Callable[[str, Objects], tuple[str | None, dict[str, str]]]


def _everyone(outcome: str) -> dict[str, str]:
    return dict.fromkeys(ROLES, outcome)


def public(path: str) -> Rule:
    return lambda route, o: (path, _everyone(ANY))


def signed_api(path: str) -> Rule:
    # Session cookies are no credential for the platform API.
    return lambda route, o: (path, _everyone(DENY))


def enterprise_page(
    path_of: Callable[[Objects], str], *, post_only: bool = False, district_reads: bool = False
) -> Rule:
    """An enterprise's own page: its members; with ``district_reads``, the
    officials of the program's district may read it too (vouchers, documents).

    A POST-only page answers its own members' GET with 405, which says
    nothing about who may POST: ``test_others_cannot_withdraw_*`` does.
    """

    def rule(route: str, o: Objects) -> tuple[str, dict[str, str]]:
        outcome = _everyone(DENY)
        for role in ENTERPRISE_X:
            outcome[role] = ANY if post_only else ALLOW
        if district_reads:
            # Any official of the program's district reads them, finance included.
            outcome["official_x"] = ALLOW
            outcome["finance_x"] = ALLOW
        outcome["superuser"] = ANY
        return path_of(o), outcome

    return rule


def signed_in(path: str, allowed: set[str] | None = None) -> Rule:
    """A page for every signed-in person (or only ``allowed``); anonymous goes to log in."""

    def rule(route: str, o: Objects) -> tuple[str, dict[str, str]]:
        outcome = _everyone(ANY if allowed is None else DENY)
        outcome["anonymous"] = DENY
        for role in allowed or ():
            outcome[role] = ALLOW
        return path, outcome

    return rule


def operator_page(path_of: Callable[[Objects], str]) -> Rule:
    def rule(route: str, o: Objects) -> tuple[str, dict[str, str]]:
        outcome = _everyone(DENY)
        outcome["operator_x"] = ALLOW
        outcome["superuser"] = ALLOW
        return path_of(o), outcome

    return rule


def skip(reason: str) -> Rule:
    return lambda route, o: (None, {})


def _month() -> str:
    return timezone.localdate().strftime("%Y-%m")


RULES: dict[str, Rule] = {
    # Public pages and allauth's own flows (they answer everyone: a form, or a
    # redirect for those already signed in).
    "": public("/"),
    "i18n/setlang/": public("/i18n/setlang/"),
    "programs/": lambda r, o: ("/programs/", _everyone(ALLOW)),
    # A published program's page is public (a government portal shows its
    # programs); a draft answers 404 to everyone: test_a_draft_program_page_*.
    "programs/<int:program_id>/": lambda r, o: ("/programs/{prog}/", _everyone(ALLOW)),
    "accounts/login/": public("/accounts/login/"),
    "accounts/signup/": public("/accounts/signup/"),
    "accounts/inactive/": public("/accounts/inactive/"),
    "accounts/confirm-email/": public("/accounts/confirm-email/"),
    "accounts/password/reset/": public("/accounts/password/reset/"),
    "accounts/password/reset/done/": public("/accounts/password/reset/done/"),
    "accounts/password/reset/key/done/": public("/accounts/password/reset/key/done/"),
    "accounts/login/code/confirm/": public("/accounts/login/code/confirm/"),
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": public("/accounts/confirm-email/not-a-key/"),
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": public(
        "/accounts/password/reset/key/zz-not-a-key/"
    ),
    "accounts/2fa/authenticate/": public("/accounts/2fa/authenticate/"),
    "accounts/logout/": signed_in("/accounts/logout/"),
    "accounts/reauthenticate/": signed_in("/accounts/reauthenticate/"),
    "accounts/email/": signed_in("/accounts/email/"),
    "accounts/password/change/": signed_in("/accounts/password/change/"),
    "accounts/password/set/": signed_in("/accounts/password/set/"),
    "accounts/2fa/": signed_in("/accounts/2fa/"),
    "accounts/2fa/reauthenticate/": signed_in("/accounts/2fa/reauthenticate/"),
    "accounts/2fa/totp/activate/": signed_in("/accounts/2fa/totp/activate/"),
    "accounts/2fa/totp/deactivate/": signed_in("/accounts/2fa/totp/deactivate/"),
    "accounts/2fa/recovery-codes/": signed_in("/accounts/2fa/recovery-codes/"),
    "accounts/2fa/recovery-codes/generate/": signed_in("/accounts/2fa/recovery-codes/generate/"),
    "accounts/2fa/recovery-codes/download/": signed_in("/accounts/2fa/recovery-codes/download/"),
    # The signed-in landing pages.
    "portal/": signed_in("/portal/"),
    "enterprise/register/": signed_in("/enterprise/register/"),
    # The company details: every member of enterprise X reads them (officials
    # and the superuser read an enterprise in the admin, not here).
    "enterprise/<int:pk>/": lambda r, o: (
        f"/enterprise/{o.world.ent_jianghan.pk}/",
        {**_everyone(DENY), "ent_admin_x": ALLOW, "ent_member_x": ALLOW},
    ),
    # Editing the company details: enterprise X's administrator only (a plain
    # member, another enterprise, officials and the superuser are no admins of it).
    "enterprise/<int:pk>/registration/": lambda r, o: (
        f"/enterprise/{o.world.ent_jianghan.pk}/registration/",
        {**_everyone(DENY), "ent_admin_x": ALLOW},
    ),
    "applications/": signed_in("/applications/"),
    # The notification centre: every signed-in person opens it and reads only
    # the notifications addressed to them, of enterprises they belong to
    # (test_only_the_person_told_reads_or_marks_a_notification). Marking is
    # POST-only: a GET is refused to everyone.
    "notifications/": signed_in("/notifications/"),
    "notifications/read-all/": lambda r, o: ("/notifications/read-all/", _everyone(DENY)),
    "notifications/<int:pk>/read/": lambda r, o: (
        f"/notifications/{o.notification.pk}/read/",
        _everyone(DENY),
    ),
    "vouchers/": signed_in("/vouchers/"),
    # Any signed-in person may read a program's application page (an
    # enterprise outside the district sees why it does not qualify); the
    # services refuse the application itself.
    "programs/<int:program_id>/apply/": signed_in("/programs/{prog}/apply/"),
    # An enterprise's own objects (enterprise X's).
    "applications/<int:pk>/": enterprise_page(lambda o: f"/applications/{o.application.pk}/"),
    "applications/<int:pk>/edit/": enterprise_page(
        lambda o: f"/applications/{o.application.pk}/edit/"
    ),
    "applications/<int:pk>/withdraw/": enterprise_page(
        lambda o: f"/applications/{o.application.pk}/withdraw/", post_only=True
    ),
    "applications/<int:pk>/documents/<int:document_id>/": enterprise_page(
        lambda o: f"/applications/{o.application.pk}/documents/{o.document.pk}/",
        district_reads=True,
    ),
    "applications/<int:pk>/documents/<int:document_id>/remove/": enterprise_page(
        lambda o: f"/applications/{o.application.pk}/documents/{o.document.pk}/remove/",
        post_only=True,
    ),
    "vouchers/<int:pk>/": enterprise_page(
        lambda o: f"/vouchers/{o.voucher.pk}/", district_reads=True
    ),
    "vouchers/<int:pk>/ledger.csv": enterprise_page(
        lambda o: f"/vouchers/{o.voucher.pk}/ledger.csv", district_reads=True
    ),
    "vouchers/<int:pk>/certificate.pdf": enterprise_page(
        lambda o: f"/vouchers/{o.voucher.pk}/certificate.pdf", district_reads=True
    ),
    # Platform operators' pages (platform X's).
    "operator/": lambda r, o: (
        "/operator/",
        {**_everyone(DENY), "operator_x": ANY, "superuser": ANY},  # ANY: a redirect to their page
    ),
    "operator/<slug:slug>/": operator_page(lambda o: f"/operator/{o.world.platform_x.slug}/"),
    "operator/<slug:slug>/settlements/<str:month>.<str:fmt>": operator_page(
        lambda o: f"/operator/{o.world.platform_x.slug}/settlements/{_month()}.csv"
    ),
    "operator/<slug:slug>/settlements/": operator_page(
        lambda o: f"/operator/{o.world.platform_x.slug}/settlements/"
    ),
    "operator/<slug:slug>/settlements/<int:pk>/": operator_page(
        lambda o: f"/operator/{o.world.platform_x.slug}/settlements/{o.settlement.pk}/"
    ),
    "operator/<slug:slug>/settlements/<int:pk>/statement.pdf": operator_page(
        lambda o: f"/operator/{o.world.platform_x.slug}/settlements/{o.settlement.pk}/statement.pdf"
    ),
    "operator/<slug:slug>/settlements/<int:pk>/payments/<int:payment_id>/notice.pdf": operator_page(
        lambda o: (
            f"/operator/{o.world.platform_x.slug}/settlements/{o.payment.settlement_id}"
            f"/payments/{o.payment.pk}/notice.pdf"
        )
    ),
    # The platform API: signatures only.
    "api/v1/ping": signed_api("/api/v1/ping"),
    "api/v1/vouchers/<str:code>": lambda r, o: (
        f"/api/v1/vouchers/{o.voucher.code}",
        _everyone(DENY),
    ),
    "api/v1/redemptions": signed_api("/api/v1/redemptions"),
    "api/v1/redemptions/<str:redemption_id>/reversals": signed_api(
        "/api/v1/redemptions/1/reversals"
    ),
    "api/v1/holds": signed_api("/api/v1/holds"),
    "api/v1/holds/<str:hold_id>/capture": signed_api("/api/v1/holds/1/capture"),
    "api/v1/holds/<str:hold_id>/release": signed_api("/api/v1/holds/1/release"),
    "api/v1/usage-batches": signed_api("/api/v1/usage-batches"),
    "api/v1/settlements": signed_api("/api/v1/settlements"),
    "api/v1/settlements/<str:settlement_id>/lines": lambda r, o: (
        f"/api/v1/settlements/{o.settlement.pk}/lines",
        _everyone(DENY),
    ),
    "api/v1/settlements/<str:settlement_id>/submit": lambda r, o: (
        f"/api/v1/settlements/{o.settlement.pk}/submit",
        _everyone(DENY),
    ),
    "api/v1/^.*$": signed_api("/api/v1/no-such-endpoint"),
    "api/v1/schema/": public("/api/v1/schema/"),
    "api/v1/docs/": public("/api/v1/docs/"),
    # The reports (audit/dashboard.py), scoped: every official opens their own
    # district's dashboard; district X's program report and disclosure are
    # district X's officials' (and the superuser's) only.
    "admin/dashboard/": lambda r, o: (
        "/admin/dashboard/",
        {**_everyone(DENY), **dict.fromkeys(OFFICIALS_AND_SUPERUSER, ALLOW)},
    ),
    "admin/dashboard/programs/<int:pk>/report.pdf": lambda r, o: (
        f"/admin/dashboard/programs/{o.world.prog_jianghan.pk}/report.pdf",
        {**_everyone(DENY), "official_x": ALLOW, "finance_x": ALLOW, "superuser": ALLOW},
    ),
    "admin/dashboard/programs/<int:pk>/disclosure.<str:fmt>": lambda r, o: (
        f"/admin/dashboard/programs/{o.world.prog_jianghan.pk}/disclosure.csv",
        {**_everyone(DENY), "official_x": ALLOW, "finance_x": ALLOW, "superuser": ALLOW},
    ),
    # Admin addresses of models that moved to another app (programs,
    # applications, oversight): a permanent redirect for everyone, which shows
    # nothing itself; the admin rule below covers the pages it leads to.
    # test_the_old_admin_addresses_of_moved_models_redirect_to_their_new_app.
    **{
        str(pattern.pattern): (
            lambda r, o, pattern=pattern: (
                "/admin/{}/{}/add/".format(*_first_moved(str(pattern.pattern))),
                _everyone(DENY),
            )
        )
        for pattern in legacy_admin.urlpatterns
    },
}


# -- claims, contracts and performance agreements ---------------------------------
# The admin's pages hold district X's objects (``Objects.claims``) to the
# rule of the settlements' pages: only the officials of district X read them,
# each step's form opens only for whoever may take the step now (official X
# reviews, finance X approves and collects, official X manages), and nobody
# else — another district's officials, enterprises, platform operators, the
# assessor — gets anything. A step's POST is held to the same by
# ``test_each_role_takes_only_the_claim_and_agreement_steps_the_matrix_says``.

#: Every official (each reads the lists, which show them only their own rows).
ALL_OFFICIALS = {"official_x", "official_wuhan", "official_y", "finance_x"}
#: District X's officials: they read its claims, contracts, agreements, receivables.
X_READERS = {"official_x", "finance_x"}


def only(path_of: Callable[[Objects], str], allowed: set[str], superuser: str = ALLOW) -> Rule:
    """``allowed`` (and the superuser, as said) get the page; everyone else does not."""

    def rule(route: str, o: Objects) -> tuple[str, dict[str, str]]:
        outcome = _everyone(DENY)
        for role in allowed:
            outcome[role] = ALLOW
        outcome["superuser"] = superuser
        return path_of(o), outcome

    return rule


_CLAIM = "/admin/settlements/claim/"
_CONTRACT = "/admin/settlements/contract/"
_AGREEMENT = "/admin/settlements/performanceagreement/"


def _claim_step(which: str, step: str) -> Callable[[Objects], str]:
    return lambda o: f"{_CLAIM}{getattr(o.claims, which).pk}/{step}/"


RULES.update(
    {
        "admin/settlements/claim/": only(lambda o: _CLAIM, ALL_OFFICIALS),
        "admin/settlements/claim/<path:object_id>/change/": only(
            lambda o: f"{_CLAIM}{o.claims.approved.pk}/change/", X_READERS
        ),
        # One button each: a GET is refused (405) to everyone.
        "admin/settlements/claim/<int:pk>/start-check/": only(
            _claim_step("submitted", "start-check"), set(), superuser=DENY
        ),
        "admin/settlements/claim/<int:pk>/approve/": only(
            _claim_step("finance", "approve"), set(), superuser=DENY
        ),
        # The district's check: the reviewer of district X (official X).
        **{
            f"admin/settlements/claim/<int:pk>/{step}/": only(
                _claim_step("checking", step), {"official_x"}
            )
            for step in ("exclude-invoice", "return-for-changes", "reject", "pass-on")
        },
        "admin/settlements/claim/<int:pk>/record-payment/": only(
            _claim_step("approved", "record-payment"), {"finance_x"}
        ),
        "admin/settlements/claim/<int:pk>/documents/<int:document_id>/": only(
            lambda o: f"{_CLAIM}{o.claims.approved.pk}/documents/{o.claims.document.pk}/",
            X_READERS,
        ),
        "admin/settlements/contract/": only(lambda o: _CONTRACT, ALL_OFFICIALS),
        "admin/settlements/contract/<path:object_id>/change/": only(
            lambda o: f"{_CONTRACT}{o.claims.approved.contract_id}/change/", X_READERS
        ),
        "admin/settlements/contract/<int:pk>/documents/<int:document_id>/": only(
            lambda o: (
                f"{_CONTRACT}{o.claims.approved.contract_id}/documents/{o.claims.document.pk}/"
            ),
            X_READERS,
        ),
        "admin/settlements/performanceagreement/": only(lambda o: _AGREEMENT, ALL_OFFICIALS),
        "admin/settlements/performanceagreement/<path:object_id>/change/": only(
            lambda o: f"{_AGREEMENT}{o.claims.agreement.pk}/change/", X_READERS
        ),
        # Official X manages district X's programs: they give its agreement
        # to an assessor. They assigned the assessed one, so they do not
        # decide it: another manager does (here only the superuser).
        "admin/settlements/performanceagreement/<int:pk>/assign/": only(
            lambda o: f"{_AGREEMENT}{o.claims.agreement.pk}/assign/", {"official_x"}
        ),
        "admin/settlements/performanceagreement/<int:pk>/decide/": only(
            lambda o: f"{_AGREEMENT}{o.claims.assessed.pk}/decide/", set()
        ),
        "admin/settlements/performanceagreement/receivable/<int:receivable_id>/": only(
            lambda o: f"{_AGREEMENT}receivable/{o.claims.receivable.pk}/", X_READERS
        ),
        **{
            f"admin/settlements/performanceagreement/receivable/<int:receivable_id>/{step}/": only(
                lambda o, step=step: f"{_AGREEMENT}receivable/{o.claims.receivable.pk}/{step}/",
                {"finance_x"},
            )
            for step in ("repay", "write-off")
        },
        # The enterprise's claim pages (enterprise X's contract and claim).
        "claims/": signed_in("/claims/"),
        "claims/new/": signed_in("/claims/new/"),
        "claims/contracts/new/": signed_in("/claims/contracts/new/"),
        "claims/<int:pk>/": enterprise_page(lambda o: f"/claims/{o.claims.approved.pk}/"),
        "claims/<int:pk>/withdraw/": enterprise_page(
            lambda o: f"/claims/{o.claims.approved.pk}/withdraw/", post_only=True
        ),
        "claims/<int:pk>/payments/<int:payment_id>/notice.pdf": enterprise_page(
            lambda o: f"/claims/{o.claims.approved.pk}/payments/{o.claims.payment.pk}/notice.pdf"
        ),
        "claims/contracts/<int:pk>/": enterprise_page(
            lambda o: f"/claims/contracts/{o.claims.approved.contract_id}/"
        ),
        "claims/contracts/<int:pk>/invoices/": enterprise_page(
            lambda o: f"/claims/contracts/{o.claims.approved.contract_id}/invoices/",
            post_only=True,
        ),
        "claims/contracts/<int:pk>/documents/": enterprise_page(
            lambda o: f"/claims/contracts/{o.claims.approved.contract_id}/documents/",
            post_only=True,
        ),
        "claims/contracts/<int:pk>/documents/<int:document_id>/": enterprise_page(
            lambda o: (
                f"/claims/contracts/{o.claims.approved.contract_id}"
                f"/documents/{o.claims.document.pk}/"
            )
        ),
        # The assessor's pages: what district X assigned to assessor X, to them only.
        "claims/assess/": only(lambda o: "/claims/assess/", {"assessor_x"}, superuser=DENY),
        "claims/assess/claims/<int:pk>/": only(
            lambda o: f"/claims/assess/claims/{o.claims.assessing.pk}/",
            {"assessor_x"},
            superuser=DENY,
        ),
        "claims/assess/claims/<int:pk>/documents/<int:document_id>/": only(
            lambda o: (
                f"/claims/assess/claims/{o.claims.assessing.pk}"
                f"/documents/{o.claims.assessing_document.pk}/"
            ),
            {"assessor_x"},
            superuser=DENY,
        ),
        "claims/assess/agreements/<int:pk>/": only(
            lambda o: f"/claims/assess/agreements/{o.claims.assessed.pk}/",
            {"assessor_x"},
            superuser=DENY,
        ),
    }
)


def _first_moved(route: str) -> tuple[str, str]:
    """(old app, first model) of a legacy redirect route, for a sample URL."""
    old_app = re.search(r"\(\?P<old_app>(\w+)\)", route)
    model = re.search(r"\(\?P<model>(\w+)", route)
    assert old_app and model, route
    return old_app.group(1), model.group(1)


# -- admin: one generic rule ---------------------------------------------------------

ADMIN_MODEL_ROUTE = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/(?P<rest>.*)$")


def _x_object(model: type[Model], o: Objects) -> tuple[Model | None, bool]:
    """An object of ``model`` district X's official sees, and whether the
    other district's official sees it too."""
    w = o.world
    mine = scoped(model._default_manager.all(), w.official_x)
    theirs = scoped(model._default_manager.all(), w.official_y)
    only_mine = mine.exclude(pk__in=theirs.values("pk")).order_by("pk").first()
    if only_mine is not None:
        return only_mine, False
    anything = model._default_manager.order_by("pk").first()
    return anything, anything is not None and theirs.filter(pk=anything.pk).exists()


def admin_rule(route: str, o: Objects) -> tuple[str | None, dict[str, str]]:
    outcome = _everyone(ANY)
    for role in NOT_OFFICIALS:
        outcome[role] = DENY
    if route in ("admin/login/", "admin/logout/"):
        return "/" + route, _everyone(ANY)
    if route == "admin/jsi18n/":
        return "/" + route, _everyone(ANY)
    match = ADMIN_MODEL_ROUTE.match(route)
    if route.startswith("admin/r/"):
        voucher_type = ContentType.objects.get_for_model(type(o.voucher))
        return f"/admin/r/{voucher_type.pk}/{o.voucher.pk}/", outcome
    labels = {config.label for config in apps.get_app_configs()}
    if match is None or match["app"] not in labels:
        path = re.sub(r"<[^>]+>|\^|\$|\(\?P<\w+>[^)]*\)", "", route)
        return "/" + path.replace("(.*)", "no-such-page/"), outcome
    try:
        model = apps.get_model(match["app"], match["model"])
    except LookupError:
        return "/" + route, outcome
    rest = match["rest"]
    obj, shared = _x_object(model, o)
    if "<" in rest:
        if obj is None:
            return None, {}
        rest = re.sub(r"<path:object_id>|<int:pk>", str(obj.pk), rest)
        rest = rest.replace("<str:move>", "open").replace("<str:action>", "suspend")
        rest = rest.replace("<str:fmt>", "csv")
        if not shared:
            # District Y's official must not reach district X's object.
            outcome["official_y"] = DENY
    if rest.startswith("timeline/"):
        voucher = o.voucher
        rest = f"timeline/vouchers/voucher/{voucher.pk}/"
        outcome["official_y"] = DENY
    # The superuser opens every list; object pages may be refused for good
    # reasons (read-only models have no add page, drafts stay private).
    outcome["superuser"] = ALLOW if rest == "" else ANY
    return f"/admin/{match['app']}/{match['model']}/{rest}", outcome


def rule_for(route: str) -> Rule | None:
    if route in RULES:
        return RULES[route]
    if route.startswith("admin/"):
        return admin_rule
    return None


def test_every_url_has_a_rule() -> None:
    unclassified = [route for route, _name in ALL_ROUTES if rule_for(route) is None]
    assert unclassified == [], "Classify these URLs in tests/test_authorization_matrix.py"


# -- the world -----------------------------------------------------------------------


@pytest.fixture
def objects(settings: Any, tmp_path: Any) -> Objects:
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    w = build_world()
    # Officials and platform operators (on the operator pages) need TOTP set up.
    for user in (
        w.official_x,
        w.official_wuhan,
        w.official_y,
        w.superuser,
        w.finance_x,
        w.operator_x,
        w.operator_y,
    ):
        add_totp(user)
    application = make_application(w.ent_jianghan, w.prog_jianghan)
    document = application.documents.get()
    voucher = issue(w.prog_jianghan, w.ent_jianghan, amount="1000.00")
    # A bulk issuance waiting for a second official (its pages and decision).
    BulkIssuance.objects.create(
        program=w.prog_jianghan,
        rows=[
            {
                "line": 1,
                "uscc": w.ent_jianghan.uscc,
                "enterprise_id": w.ent_jianghan.pk,
                "amount": "1000.00",
            }
        ],
        total="1000.00",
    )
    notices = notify(
        enterprise=w.ent_jianghan,
        kind=Notification.Kind.VOUCHER_ISSUED,
        params={"voucher_id": voucher.pk, "code": voucher.code, "program": "x", "amount": "1"},
        url=f"/vouchers/{voucher.pk}/",
    )
    return Objects(
        world=w,
        application=application,
        document=document,
        voucher=voucher,
        notification=next(n for n in notices if n.recipient == w.ent_admin_x),
        settlement=settlement_of_last_month(w.prog_jianghan, w.platform_x, w.ent_jianghan),
        payment=_payment_to_platform_x(w),
        claims=_claims_of_x(w),
    )


@dataclass
class ClaimObjects:
    """District X's claims in each state a step starts from, its agreements and
    a clawback receivable; enterprise X claims, official X reviews and manages,
    finance X approves, assessor X (engaged by district X) assesses."""

    assessor: Any
    submitted: Any  # waiting to be taken up
    checking: Any  # under official X's check
    assessing: Any  # with assessor X
    finance: Any  # awaiting finance X's approval
    approved: Any  # approved, partly paid
    payment: Any  # the approved claim's first payment
    agreement: Any  # in force, its assessment date come
    assessed: Any  # given to assessor X by official X, and assessed
    receivable: Any  # an open clawback under district X's claim program
    document: Any  # the signed contract of the approved claim
    assessing_document: Any  # the signed contract of the assessed claim
    checking_invoice: str  # an invoice number the check may leave out


def _claims_of_x(w: World) -> ClaimObjects:
    from decimal import Decimal

    from audit.services import Actor
    from settlements import claims as services
    from settlements.agreements import agreement_assign, agreement_record_assessment
    from settlements.models import PerformanceAgreement
    from tests.settlements.claim_factories import (
        ClaimWorld,
        approved,
        assessor_of,
        baoding_program,
        submitted,
        to_finance,
    )
    from vouchers.models import Receivable

    program = baoding_program(
        w.jianghan,
        name="江汉区算力补贴",
        claim_cap_per_year=None,
        settlement_four_eyes_threshold=None,
        requires_agreement=True,
        agreement_targets=[{"kind": "headcount", "target": "10"}],
    )
    assessor = assessor_of(w.jianghan)
    cw = ClaimWorld(
        district=w.jianghan,
        program=program,
        enterprise=w.ent_jianghan,
        admin=w.ent_admin_x,
        reviewer=w.official_x,
        assessor=assessor,
        finance=w.finance_x,
        finance_2=w.finance_x,
        manager=w.official_x,
        outsider_reviewer=w.official_y,
        outsider_finance=w.official_y,
    )
    reviewer = Actor.for_user(w.official_x)
    checking = services.claim_start_check(actor=reviewer, claim=submitted(cw))
    assessing = services.claim_pass_on(
        actor=reviewer,
        claim=services.claim_start_check(actor=reviewer, claim=submitted(cw)),
        findings="ok",
        assessor=assessor,
    )
    paid_out = approved(cw, to_finance(cw, submitted(cw)))
    decided = approved(cw, to_finance(cw, submitted(cw)))
    agreement = PerformanceAgreement.objects.get(claim=paid_out)
    assessed = PerformanceAgreement.objects.get(claim=decided)
    PerformanceAgreement.objects.filter(pk__in=[agreement.pk, assessed.pk]).update(
        assess_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    agreement_assign(actor=reviewer, agreement=assessed, assessor=assessor)
    assessed = agreement_record_assessment(
        actor=Actor.for_user(assessor),
        agreement=assessed,
        measured={"headcount": Decimal("5")},
        report="5 of 10.",
    )
    agreement.refresh_from_db()
    payment = services.claim_payment_record(
        actor=Actor.for_user(w.finance_x),
        claim=paid_out,
        amount=Decimal("1.00"),
        paid_on=timezone.localdate(),
        payer_account="FIN-X",
        bank_reference="BANK-CLAIM-X-1",
    )
    receivable = Receivable.objects.create(
        enterprise=w.ent_jianghan,
        program=program,
        amount=Decimal("1000.00"),
        unit="CNY",
        reason="Performance agreement: targets missed.",
        due_on=timezone.localdate(),
        created_by="official@jianghan.test (an earlier decision)",
    )
    return ClaimObjects(
        assessor=assessor,
        submitted=submitted(cw),
        checking=checking,
        assessing=assessing,
        finance=to_finance(cw, submitted(cw)),
        approved=paid_out,
        payment=payment,
        agreement=agreement,
        assessed=assessed,
        receivable=receivable,
        document=paid_out.contract.documents.get(kind="contract"),
        assessing_document=assessing.contract.documents.get(kind="contract"),
        checking_invoice=checking.claimed_invoices.values_list("number", flat=True)[0],
    )


def _payment_to_platform_x(w: World) -> Any:
    """A payment by district X to platform X, for the payment notice: a
    second program of district X settled with platform X last month,
    reviewed by official X, approved and partly paid by finance X."""
    from decimal import Decimal

    from audit.services import Actor
    from settlements.models import Settlement
    from settlements.services import (
        settlement_approve,
        settlement_pass_on,
        settlement_payment_record,
        settlement_start_review,
        settlement_submit,
        settlements_draw,
    )
    from tests.programs.factories import ProgramFactory, bind
    from tests.settlements.factories import last_month_instant
    from tests.vouchers.factories import platform_actor
    from vouchers.services import voucher_redeem

    program = ProgramFactory(district=w.jianghan, total_budget=Decimal("1000000.00"))
    bind(program, w.platform_x)
    at = last_month_instant()
    with time_machine.travel(at - datetime.timedelta(days=1), tick=False):
        voucher = issue(program, w.ent_jianghan, "10000.00")
    with time_machine.travel(at, tick=False):
        voucher_redeem(
            actor=platform_actor(w.platform_x),
            platform=w.platform_x,
            voucher_code=voucher.code,
            reference="matrix-paid-1",
            occurred_at=at,
            billed_amount=Decimal("1000.00"),
        )
    settlements_draw()
    settlement = Settlement.objects.get(program=program, platform=w.platform_x)
    settlement = settlement_submit(
        actor=Actor.for_user(w.operator_x),
        platform=w.platform_x,
        settlement_id=settlement.pk,
        invoice_number="INV-X-PAID",
        invoice_amount=settlement.amount_due,
    )
    reviewer, finance = Actor.for_user(w.official_x), Actor.for_user(w.finance_x)
    settlement = settlement_start_review(actor=reviewer, settlement=settlement)
    settlement = settlement_pass_on(actor=reviewer, settlement=settlement)
    settlement = settlement_approve(actor=finance, settlement=settlement)
    return settlement_payment_record(
        actor=finance,
        settlement=settlement,
        amount=Decimal("1.00"),
        paid_on=timezone.localdate(),
        payer_account="FIN-X",
        bank_reference="BANK-X",
    )


def _client(role: str, o: Objects) -> Client:
    client = Client()
    if role == "assessor_x":
        client.force_login(o.claims.assessor)
    elif role != "anonymous":
        client.force_login(getattr(o.world, role))
    return client


def _verdict(response: Any, path: str) -> str:
    if response.status_code >= 500:
        return "error"
    if response.status_code == 200:
        return ALLOW
    if response.status_code in (301, 302, 303, 307, 308):
        location = response["Location"].split("?")[0]
        return ALLOW if location.rstrip("/") == path.split("?")[0].rstrip("/") else DENY
    if response.status_code in (401, 403, 404, 405):
        return DENY
    return f"status {response.status_code}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says_on_every_url(role: str, objects: Objects) -> None:
    client = _client(role, objects)
    wrong: list[str] = []
    for route, _name in ALL_ROUTES:
        rule = rule_for(route)
        assert rule is not None, route
        path, expected = rule(route, objects)
        if path is None:
            continue
        path = path.replace("{prog}", str(objects.world.prog_jianghan.pk))
        response = client.get(path)
        got = _verdict(response, path)
        want = expected.get(role, ANY)
        if got == "error" or (want != ANY and got != want):
            wrong.append(
                f"{role}: {route} → GET {path}: wanted {want}, got {got} ({response.status_code})"
            )
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_a_draft_program_page_is_not_found_for_every_role(role: str, objects: Objects) -> None:
    draft = ProgramFactory(district=objects.world.jianghan, draft=True)
    response = _client(role, objects).get(f"/programs/{draft.pk}/")
    assert response.status_code == 404


def _claim_posts(o: Objects) -> dict[str, tuple[str, dict[str, Any], set[str]]]:
    """Each claim and agreement step: (address, a valid POST, who may take it now)."""
    c = o.claims
    today = timezone.localdate().isoformat()
    reviewer, finance = {"official_x", "superuser"}, {"finance_x", "superuser"}
    receivable = f"{_AGREEMENT}receivable/{c.receivable.pk}"
    return {
        "start_check": (f"{_CLAIM}{c.submitted.pk}/start-check/", {}, reviewer),
        "exclude_invoice": (
            f"{_CLAIM}{c.checking.pk}/exclude-invoice/",
            {"number": c.checking_invoice, "reason": "Not paid."},
            reviewer,
        ),
        "return_for_changes": (
            f"{_CLAIM}{c.checking.pk}/return-for-changes/",
            {"reason": "Add the delivery proof."},
            reviewer,
        ),
        "reject": (f"{_CLAIM}{c.checking.pk}/reject/", {"reason": "Related party."}, reviewer),
        "pass_on": (
            f"{_CLAIM}{c.checking.pk}/pass-on/",
            {"findings": "Complete.", "assessor": c.assessor.pk},
            reviewer,
        ),
        "approve": (f"{_CLAIM}{c.finance.pk}/approve/", {}, finance),
        "record_payment": (
            f"{_CLAIM}{c.approved.pk}/record-payment/",
            {
                "amount": "1.00",
                "paid_on": today,
                "payer_account": "FIN-X",
                "bank_reference": "BANK-CLAIM-X",
            },
            finance,
        ),
        "assign": (
            f"{_AGREEMENT}{c.agreement.pk}/assign/",
            {"assessor": c.assessor.pk},
            {"official_x", "superuser"},
        ),
        # Official X assigned it: only another manager decides it.
        "decide": (f"{_AGREEMENT}{c.assessed.pk}/decide/", {"note": ""}, {"superuser"}),
        "repay": (
            f"{receivable}/repay/",
            {"amount": "1.00", "paid_on": today, "reference": "BANK-REPAID-X"},
            finance,
        ),
        "write_off": (
            f"{receivable}/write-off/",
            {"amount": "1.00", "reason": "Decision 7 of the district: wound up."},
            finance,
        ),
    }


def _claim_state() -> list[list[str]]:
    from settlements.models import (
        Claim,
        ClaimedInvoice,
        Payment,
        PerformanceAgreement,
        Repayment,
    )
    from vouchers.models import Receivable

    return [
        sorted(map(str, model._default_manager.values_list()))
        for model in (Claim, ClaimedInvoice, PerformanceAgreement, Payment, Repayment, Receivable)
    ]


class _Undo(Exception):
    """Rolls back what one POST did, so that every role meets the same objects."""


def _posted(client: Client, url: str, data: dict[str, Any]) -> tuple[int, bool]:
    """The POST's status, and whether it changed anything (then undone)."""
    from django.db import transaction

    before = _claim_state()
    status, changed = 0, False
    try:
        with transaction.atomic():
            status = client.post(url, data).status_code
            changed = _claim_state() != before
            raise _Undo
    except _Undo:
        pass
    return status, changed


def test_each_role_takes_only_the_claim_and_agreement_steps_the_matrix_says(
    objects: Objects,
) -> None:
    """Each step's POST, by every role: it changes something exactly for the
    roles that may take it now, and nobody else's POST changes anything."""
    wrong: list[str] = []
    for role in ROLES:
        client = _client(role, objects)
        for step, (url, data, allowed) in _claim_posts(objects).items():
            status, changed = _posted(client, url, data)
            if status >= 500 or changed != (role in allowed):
                wrong.append(f"{role} POST {step} {url}: {status}, changed: {changed}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("role", ["anonymous", "ent_admin_x", "official_x", "superuser"])
def test_the_old_admin_addresses_of_moved_models_redirect_to_their_new_app(
    role: str, objects: Objects
) -> None:
    """Bookmarks of /admin/vouchers/program/…, /admin/vouchers/application/…,
    /admin/audit/anomalyflag/… and the other moved models lead, for anyone, to
    the same page (and query) under the model's new app, which then answers
    exactly as when opened directly."""
    client = _client(role, objects)
    for old_app, models in legacy_admin.MOVED.items():
        for model, new_app in models.items():
            for rest in ("", "?status__exact=open", "add/", "12/change/", "12/decide/"):
                response = client.get(f"/admin/{old_app}/{model}/{rest}")
                new = f"/admin/{new_app}/{model}/{rest}"
                assert (response.status_code, response["Location"]) == (301, new)
                followed = client.get(f"/admin/{old_app}/{model}/{rest}", follow=True)
                direct = client.get(new, follow=True)
                assert followed.redirect_chain == [(new, 301), *direct.redirect_chain]
                assert followed.status_code == direct.status_code


def test_only_the_person_told_reads_or_marks_a_notification(objects: Objects) -> None:
    notification = objects.notification
    for role in ROLES:
        if role == "ent_admin_x":
            continue
        client = _client(role, objects)
        # Enterprise X's other member has a copy of their own, never this one.
        page = client.get("/notifications/").content.decode()
        assert f"/notifications/{notification.pk}/read/" not in page, role
        response = client.post(f"/notifications/{notification.pk}/read/")
        assert response.status_code in (302, 404), (role, response.status_code)
        client.post("/notifications/read-all/")
        notification.refresh_from_db()
        assert notification.read_at is None, role
    owner = _client("ent_admin_x", objects)
    assert (
        f"/notifications/{notification.pk}/read/" in owner.get("/notifications/").content.decode()
    )
    assert owner.post(f"/notifications/{notification.pk}/read/").status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is not None


@pytest.mark.parametrize("who", ["ent_admin_y", "official_x", "operator_x"])
def test_others_cannot_withdraw_an_enterprises_application_or_remove_its_documents(
    who: str, objects: Objects
) -> None:
    client = _client(who, objects)
    application, document = objects.application, objects.document
    withdraw = client.post(f"/applications/{application.pk}/withdraw/")
    remove = client.post(f"/applications/{application.pk}/documents/{document.pk}/remove/")
    assert withdraw.status_code in (302, 403, 404)
    assert remove.status_code in (302, 403, 404)
    application.refresh_from_db()
    assert application.status == application.Status.DRAFT
    assert application.documents.filter(pk=document.pk).exists()


def test_the_enterprise_itself_may_withdraw_its_application(objects: Objects) -> None:
    client = _client("ent_admin_x", objects)
    response = client.post(f"/applications/{objects.application.pk}/withdraw/")
    assert response.status_code == 302
    objects.application.refresh_from_db()
    assert objects.application.status == objects.application.Status.WITHDRAWN


@pytest.mark.parametrize("who", sorted(NOT_OFFICIALS | {"official_y"}))
def test_others_cannot_confirm_or_cancel_a_bulk_issuance(who: str, objects: Objects) -> None:
    batch = BulkIssuance.objects.get()
    client = _client(who, objects)
    for decision in ("confirm", "cancel"):
        response = client.post(
            f"/admin/applications/bulkissuance/{batch.pk}/decide/",
            {"decision": decision, "note": "Not mine to decide."},
        )
        assert response.status_code in (302, 403, 404)
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"]
    batch.refresh_from_db()
    assert batch.status == BulkIssuance.Status.AWAITING_SECOND_APPROVAL


# -- roles count in the object's own district (issue 13) ----------------------------
#
# Three districts: Wuhan (A, 420100), Jianghan (B, 420103, under Wuhan) and
# Guiyang (C). Every district-owned model registered in the admin gets one
# object in each. The users:
#   mixed         program manager in Wuhan, only auditor in Jianghan
#   city_auditor  auditor in Wuhan (the parent district)
# and, to compare with, people holding one role in one district:
#   auditor_x     auditor in Jianghan only
#   pm_wuhan      program manager in Wuhan only
# The rule: a role held in one district grants nothing in another, so the
# mixed user meets each Jianghan object exactly as Jianghan's auditor does and
# each Wuhan object exactly as Wuhan's program manager does; the city auditor
# meets Jianghan's objects as Jianghan's auditor does (reads, never changes);
# neither meets Guiyang's at all. Every page and action of the admin (custom
# ones included, found by walking each ModelAdmin's URLs) is held to it.

RULES_DEFINITION = {"all": [{"fact": "headcount", "op": "gte", "value": "5"}]}
#: Values tried for the non-object parameters of custom admin URLs.
URL_PARAMETERS = {
    "move": ["open", "pause", "resume", "close"],
    "action": ["suspend", "resume", "revoke", "clawback"],
    "fmt": ["csv"],
}
#: Admin pages that name no object of their own but one of another model.
OBJECT_ROUTE = re.compile(r"<(?:int|path):(?:pk|object_id)>")


@dataclass
class Tenancy:
    world: World
    mixed: Any
    city_auditor: Any
    auditor_x: Any
    pm_wuhan: Any
    #: model → {district code → object}
    objects: dict[type[Model], dict[str, Model]]


def _district_admins() -> list[tuple[type[Model], Any]]:
    from django.contrib import admin as django_admin

    from accounts.admin_scoping import ScopedModelAdmin, is_district_owned

    return sorted(
        (
            (model, model_admin)
            for model, model_admin in django_admin.site._registry.items()
            if isinstance(model_admin, ScopedModelAdmin) and is_district_owned(model)
        ),
        key=lambda pair: pair[0]._meta.label,
    )


def _furnish(w: World, program: Any, enterprise: Any, platform: Any) -> None:
    """One object of every district-owned kind under ``program``'s district."""
    from decimal import Decimal

    from applications.models import Application
    from audit.services import Actor, audit_record
    from oversight.models import AnomalyFlag, DetectorSettings
    from tests.eligibility.factories import rule_set as make_rule_set
    from tests.programs.factories import bind
    from tests.vouchers.factories import platform_actor
    from vouchers.services import hold_create, voucher_claw_back, voucher_redeem

    district = program.district
    make_rule_set(district, RULES_DEFINITION, name=f"Rules {district.code}")
    make_application(enterprise, program, status=Application.Status.SUBMITTED)
    bind(program, platform)
    voucher = issue(program, enterprise, amount="1000.00")
    clawed = issue(program, enterprise, amount="500.00")
    for n, v in enumerate((voucher, clawed)):
        voucher_redeem(
            actor=platform_actor(platform),
            platform=platform,
            voucher=v,
            reference=f"r-{district.code}-{n}",
            occurred_at=timezone.now(),
            billed_amount=Decimal("100"),
        )
    hold_create(
        actor=platform_actor(platform),
        platform=platform,
        voucher=voucher,
        reference=f"h-{district.code}",
        amount=Decimal("10"),
    )
    voucher_claw_back(actor=Actor.for_user(w.superuser), voucher=clawed, reason="Obligation.")
    DetectorSettings.objects.create(program=program)
    # A bulk issuance waiting for a second official (its page and decision).
    BulkIssuance.objects.create(
        program=program,
        rows=[
            {"line": 1, "uscc": enterprise.uscc, "enterprise_id": enterprise.pk, "amount": "100.00"}
        ],
        total="100.00",
    )
    today = timezone.localdate()
    AnomalyFlag.objects.create(
        detector=AnomalyFlag.Detector.ROUND_BILLS,
        district=district,
        program=program,
        enterprise=enterprise,
        voucher=voucher,
        subject=f"voucher:{voucher.pk}",
        period_start=today,
        period_end=today,
        score=1,
        evidence={"measured": "1", "threshold": "0.8", "unit": "CNY"},
    )
    audit_record(
        actor=Actor.system("test"), event_type="test.event", obj=None, district_id=district.pk
    )
    _furnish_settlement(program, enterprise, platform)
    _furnish_claim(district, enterprise)


def _furnish_claim(district: Any, enterprise: Any) -> None:
    """A claim pre-approving a contract under a contract-voucher program of
    ``district``: the contract (the district's through the voucher granted
    for it), the claim and the performance agreement that comes with it."""
    from accounts.models import Membership
    from programs.models import Program
    from tests.accounts.factories import official
    from tests.settlements.claim_factories import (
        ClaimWorld,
        approved,
        assessor_of,
        baoding_program,
        submitted,
        to_finance,
    )
    from tests.vouchers.factories import member

    Role = Membership.Role
    program = baoding_program(
        district,
        name=f"算力券 {district.code}",
        payout_mode=Program.PayoutMode.CONTRACT_VOUCHER,
        claim_requires_assessment=False,
        claim_cap_per_year=None,
        settlement_four_eyes_threshold=None,
        requires_agreement=True,
        agreement_targets=[{"kind": "headcount", "target": "10"}],
    )
    finance = official(district, role=Role.FINANCE_OFFICER)
    world = ClaimWorld(
        district=district,
        program=program,
        enterprise=enterprise,
        admin=member(enterprise),
        reviewer=official(district, role=Role.REVIEWER),
        assessor=assessor_of(district),
        finance=finance,
        finance_2=finance,
        manager=official(district),
        outsider_reviewer=finance,
        outsider_finance=finance,
    )
    claim = approved(world, to_finance(world, submitted(world)))
    claim.contract.refresh_from_db()
    assert claim.contract.voucher_id is not None


def _furnish_settlement(program: Any, enterprise: Any, platform: Any) -> None:
    """A settlement of last month under ``program``, reviewed, approved and
    partly paid by the district's own officials (its lines, a payment), with
    what is left to pay in a payment batch for the treasury."""
    from decimal import Decimal

    from accounts.models import Membership
    from audit.services import Actor
    from settlements.payments import payment_batch_create
    from settlements.services import (
        settlement_approve,
        settlement_pass_on,
        settlement_payment_record,
        settlement_start_review,
        settlement_submit,
    )
    from tests.accounts.factories import official
    from tests.vouchers.factories import platform_actor

    district = program.district
    reviewer = Actor.for_user(official(district, role=Membership.Role.REVIEWER))
    finance = Actor.for_user(official(district, role=Membership.Role.FINANCE_OFFICER))
    settlement = settlement_of_last_month(program, platform, enterprise)
    settlement = settlement_submit(
        actor=platform_actor(platform),
        platform=platform,
        settlement_id=settlement.pk,
        invoice_number=f"INV-{district.code}",
        invoice_amount=settlement.amount_due,
    )
    settlement = settlement_start_review(actor=reviewer, settlement=settlement)
    settlement = settlement_pass_on(actor=reviewer, settlement=settlement)
    settlement = settlement_approve(actor=finance, settlement=settlement)
    settlement_payment_record(
        actor=finance,
        settlement=settlement,
        amount=Decimal("1.00"),
        paid_on=timezone.localdate(),
        payer_account=f"FIN-{district.code}",
        bank_reference=f"BANK-{district.code}",
    )
    platform.bank_account_name = f"{platform.name} Ltd."
    platform.bank_name = "Bank of Wuhan"
    platform.bank_account_number = "6222000011112222"
    platform.save()
    payment_batch_create(actor=finance, district=district, payer_account=f"FIN-{district.code}")


@pytest.fixture
def tenancy(settings: Any, tmp_path: Any) -> Tenancy:
    from accounts.models import Membership
    from accounts.scoping import owner_district_id
    from tests.accounts.factories import membership, official

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    w = build_world()
    auditor = Membership.Role.AUDITOR
    mixed = official(w.wuhan, email="pm-wuhan.auditor-jianghan@test")
    membership(mixed, auditor, w.jianghan)
    city_auditor = official(w.wuhan, role=auditor, email="auditor@wuhan.test")
    auditor_x = official(w.jianghan, role=auditor, email="auditor@jianghan.test")
    for user in (mixed, city_auditor, auditor_x, w.official_wuhan, w.official_x, w.superuser):
        add_totp(user)
    _furnish(w, w.prog_jianghan, w.ent_jianghan, w.platform_x)
    _furnish(w, w.prog_wuhan, w.ent_jiangan, w.platform_national)
    _furnish(w, w.prog_guiyang, w.ent_guiyang, w.platform_y)
    codes = {w.wuhan.pk: "A", w.jianghan.pk: "B", w.guiyang.pk: "C"}
    objects: dict[type[Model], dict[str, Model]] = {}
    for model, _admin in _district_admins():
        found: dict[str, Model] = {}
        for obj in model._default_manager.order_by("pk"):
            code = codes.get(owner_district_id(obj) or 0)
            if code is not None:
                found.setdefault(code, obj)
        assert set(found) == {"A", "B", "C"}, (
            f"furnish the world with a {model.__name__} per district"
        )
        objects[model] = found
    return Tenancy(
        world=w,
        mixed=mixed,
        city_auditor=city_auditor,
        auditor_x=auditor_x,
        pm_wuhan=w.official_wuhan,
        objects=objects,
    )


def _fresh(user: Any) -> Any:
    return type(user)._default_manager.get(pk=user.pk)


def _perms(model_admin: Any, user: Any, obj: Model) -> tuple[bool, bool, bool]:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = _fresh(user)
    return (
        bool(model_admin.has_view_permission(request, obj)),
        bool(model_admin.has_change_permission(request, obj)),
        bool(model_admin.has_delete_permission(request, obj)),
    )


def test_every_project_admin_and_inline_asks_for_the_role_in_the_objects_district() -> None:
    """One mechanism: every ModelAdmin of the project derives from
    ScopedModelAdmin, every inline from ScopedInline."""
    from django.contrib import admin as django_admin

    from accounts.admin_scoping import ScopedInline, ScopedModelAdmin

    project = {
        "accounts",
        "audit",
        "eligibility",
        "programs",
        "vouchers",
        "applications",
        "platforms",
        "settlements",
        "oversight",
    }
    unscoped = []
    for model, model_admin in django_admin.site._registry.items():
        if model._meta.app_label not in project:
            continue
        if not isinstance(model_admin, ScopedModelAdmin):
            unscoped.append(type(model_admin).__name__)
        for inline in model_admin.inlines:
            if not issubclass(inline, ScopedInline):
                unscoped.append(inline.__name__)
    assert unscoped == []


def test_roles_held_elsewhere_grant_nothing_on_an_object_of_every_admin_model(
    tenancy: Tenancy,
) -> None:
    t = tenancy
    wrong = []
    for model, model_admin in _district_admins():
        a, b, c = (t.objects[model][k] for k in "ABC")
        checks = [
            (
                "mixed on Jianghan's",
                _perms(model_admin, t.mixed, b),
                _perms(model_admin, t.auditor_x, b),
            ),
            (
                "mixed on Wuhan's",
                _perms(model_admin, t.mixed, a),
                _perms(model_admin, t.pm_wuhan, a),
            ),
            (
                "city auditor on Jianghan's",
                _perms(model_admin, t.city_auditor, b),
                _perms(model_admin, t.auditor_x, b),
            ),
            ("mixed on Guiyang's", _perms(model_admin, t.mixed, c), (False, False, False)),
            (
                "city auditor on Guiyang's",
                _perms(model_admin, t.city_auditor, c),
                (False, False, False),
            ),
        ]
        for label, got, want in checks:
            if got != want:
                wrong.append(
                    f"{model.__name__}: {label} (view, change, delete) = {got}, wanted {want}"
                )
        # The parent's auditor reads the child's data and changes none of it.
        if _perms(model_admin, t.city_auditor, b)[1:] != (False, False):
            wrong.append(f"{model.__name__}: the city auditor may change Jianghan's")
    assert wrong == [], "\n".join(wrong)


def test_the_mixed_user_changes_in_the_district_where_they_manage_only(tenancy: Tenancy) -> None:
    from django.contrib import admin as django_admin

    from accounts.models import Enterprise
    from eligibility.models import RuleSet
    from oversight.models import DetectorSettings
    from programs.models import Program

    t = tenancy
    for model in (Program, RuleSet, DetectorSettings, Enterprise):
        model_admin = django_admin.site._registry[model]
        assert _perms(model_admin, t.mixed, t.objects[model]["A"])[1] is True, model
        assert _perms(model_admin, t.mixed, t.objects[model]["B"])[1] is False, model
        assert _perms(model_admin, t.city_auditor, t.objects[model]["B"])[0] is True, model


def _object_urls(model_admin: Any, obj: Model) -> list[str]:
    """Every admin URL about ``obj``: change, delete, history and the custom ones."""
    urls: list[str] = []
    prefix = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
    for pattern in model_admin.get_urls():
        route = str(pattern.pattern)
        if not OBJECT_ROUTE.search(route):
            continue
        route = OBJECT_ROUTE.sub(str(obj.pk), route)
        names = re.findall(r"<(?:str|slug):(\w+)>", route)
        assert all(n in URL_PARAMETERS for n in names), (
            f"Say in URL_PARAMETERS what to try for {names} in {route}"
        )
        variants = [route]
        for name in names:
            variants = [
                re.sub(rf"<(?:str|slug):{name}>", value, v)
                for v in variants
                for value in URL_PARAMETERS[name]
            ]
        urls += [prefix + v for v in variants]
    urls.append(
        f"/admin/audit/auditevent/timeline/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/"
    )
    return urls


def _state(models: list[type[Model]]) -> dict[str, Any]:
    from eligibility.models import RuleNode
    from programs.models import PhaseStep
    from vouchers.models import LedgerEntry

    state = {}
    for model in [*models, LedgerEntry, PhaseStep, RuleNode]:
        if model._meta.label == "audit.AuditEvent":
            continue  # append-only; reading the log records nothing that matters here
        state[model._meta.label] = sorted(
            (
                tuple(sorted((k, str(v)) for k, v in row.items()))
                for row in model._default_manager.values()
            ),
        )
    return state


def _answer(client: Client, method: str, url: str) -> tuple[int, str]:
    response = client.post(url, {"post": "yes"}) if method == "POST" else client.get(url)
    location = response.get("Location", "") if response.status_code in (301, 302, 303) else ""
    return response.status_code, location.split("?")[0]


def test_every_admin_page_and_action_meets_each_object_with_the_role_held_in_its_district(
    tenancy: Tenancy,
) -> None:
    from django.test import RequestFactory

    t = tenancy
    clients = {
        name: _client_for(user)
        for name, user in (
            ("mixed", t.mixed),
            ("city_auditor", t.city_auditor),
            ("auditor_x", t.auditor_x),
            ("pm_wuhan", t.pm_wuhan),
        )
    }
    admins = _district_admins()
    before = _state([m for m, _ in admins])
    wrong: list[str] = []
    for model, model_admin in admins:
        a, b, c = (t.objects[model][k] for k in "ABC")
        for url_b, url_a, url_c in zip(
            _object_urls(model_admin, b),
            _object_urls(model_admin, a),
            _object_urls(model_admin, c),
            strict=True,
        ):
            for method in ("GET", "POST"):
                baseline = _answer(clients["auditor_x"], method, url_b)
                for who in ("mixed", "city_auditor"):
                    got = _answer(clients[who], method, url_b)
                    if got != baseline or got[0] >= 500:
                        wrong.append(
                            f"{who} {method} {url_b}: {got}, Jianghan's auditor gets {baseline}"
                        )
                    got_c = _answer(clients[who], method, url_c)
                    if got_c[0] not in (302, 403, 404, 405) or (
                        got_c[0] == 302 and got_c[1] == url_c
                    ):
                        wrong.append(f"{who} {method} {url_c} (Guiyang's): {got_c}")
            # Wuhan's objects: read the same as Wuhan's own program manager.
            got_a, want_a = (
                _answer(clients["mixed"], "GET", url_a),
                _answer(clients["pm_wuhan"], "GET", url_a),
            )
            if got_a != want_a:
                wrong.append(f"mixed GET {url_a}: {got_a}, Wuhan's manager gets {want_a}")
        # Admin actions on Jianghan's and Guiyang's rows.
        request = RequestFactory().get("/admin/")
        request.user = _fresh(t.world.superuser)
        changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for action in model_admin.get_actions(request):
            for who in ("mixed", "city_auditor"):
                for obj in (b, c):
                    clients[who].post(
                        changelist,
                        {"action": action, "_selected_action": [obj.pk], "post": "yes"},
                    )
        # Lists: nobody sees a third district's rows.
        for who in ("mixed", "city_auditor"):
            response = clients[who].get(changelist)
            if response.status_code == 200 and "cl" in (response.context or {}):
                shown = {obj.pk for obj in response.context["cl"].result_list}
                if c.pk in shown:
                    wrong.append(f"{who} sees Guiyang's {model.__name__} in {changelist}")
    assert wrong == [], "\n".join(wrong)
    assert _state([m for m, _ in admins]) == before, (
        "a request from the wrong district changed data"
    )


def _client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- rule set versions: edit, publish, adopt ----------------------------------------


def _rule_set_world(o: Objects) -> dict[str, Any]:
    """District X's program applying a published version 1, a newer published
    version 2, and a draft of another rule set of district X."""
    from audit.services import Actor
    from eligibility.services import rule_set_new_version, rule_set_publish
    from tests.eligibility.factories import rule_set

    system = Actor.system("tests")
    v1 = rule_set_publish(
        actor=system,
        rule_set=rule_set(
            o.world.jianghan, {"all": [{"fact": "headcount", "op": "gte", "value": "20"}]}
        ),
    )
    v2 = rule_set_publish(
        actor=system,
        rule_set=rule_set_new_version(
            actor=system,
            rule_set=v1,
            rows=[
                {
                    "path": "1",
                    "kind": "condition",
                    "fact": "headcount",
                    "operator": "gte",
                    "value": "5",
                }
            ],
        ),
    )
    draft = rule_set(
        o.world.jianghan, {"all": [{"fact": "headcount", "op": "gte", "value": "1"}]}, "Draft"
    )
    program = o.world.prog_jianghan
    type(program).objects.filter(pk=program.pk).update(rule_set=v1)
    return {"v1": v1, "v2": v2, "draft": draft, "program": program}


def _rule_set_attempts(client: Client, rs: dict[str, Any]) -> list[int]:
    """Edit the published version, publish the draft, import into it, adopt version 2."""
    from django.urls import reverse

    v1, node = rs["v1"], rs["v1"].nodes.get()
    edit = {
        "name": v1.name,
        "name_en": v1.name_en,
        "combinator": "all",
        "nodes-TOTAL_FORMS": "1",
        "nodes-INITIAL_FORMS": "1",
        "nodes-MIN_NUM_FORMS": "0",
        "nodes-MAX_NUM_FORMS": "1000",
        "nodes-0-id": str(node.pk),
        "nodes-0-rule_set": str(v1.pk),
        **{f"nodes-0-{k}": v for k, v in node.as_row().items()},
        "nodes-0-value": "1",
    }
    return [
        client.post(reverse("admin:eligibility_ruleset_change", args=[v1.pk]), edit).status_code,
        client.post(
            reverse("admin:eligibility_ruleset_publish", args=[rs["draft"].pk])
        ).status_code,
        client.post(
            reverse("admin:eligibility_ruleset_changelist"),
            {"action": "publish", "_selected_action": [rs["draft"].pk]},
        ).status_code,
        client.post(
            reverse("admin:eligibility_ruleset_import", args=[rs["draft"].pk]),
            {"definition": '{"all": [{"fact": "headcount", "op": "gte", "value": "2"}]}'},
        ).status_code,
        client.post(
            reverse("admin:programs_program_adopt_rule_set", args=[rs["program"].pk]),
            {"rule_set": rs["v2"].pk},
        ).status_code,
        client.post(
            reverse("admin:programs_program_changelist"),
            {"action": "adopt_newest_rule_sets", "_selected_action": [rs["program"].pk]},
        ).status_code,
    ]


@pytest.mark.parametrize(
    "who",
    [
        "official_wuhan",  # program manager of the parent city only
        "wuhan_manager_x_auditor",  # program manager in Wuhan, only auditor in district X
        "x_reviewer",  # reviewer of district X
        "official_y",  # another district's official
        "ent_admin_x",
    ],
)
def test_only_a_program_manager_of_the_rule_sets_own_district_edits_publishes_or_adopts_it(
    who: str, objects: Objects
) -> None:
    from accounts.models import Membership
    from eligibility.models import RuleSet
    from tests.accounts.factories import membership, official

    w = objects.world
    if who == "wuhan_manager_x_auditor":
        user = w.official_wuhan
        membership(user, Membership.Role.AUDITOR, w.jianghan)
    elif who == "x_reviewer":
        user = official(w.jianghan, role=Membership.Role.REVIEWER, email="reviewer@jianghan.test")
        add_totp(user)
    else:
        user = getattr(w, who)
    rs = _rule_set_world(objects)
    client = Client()
    client.force_login(user)
    statuses = _rule_set_attempts(client, rs)
    assert all(s < 500 for s in statuses), statuses
    assert RuleSet.objects.filter(lineage=rs["v1"].lineage).count() == 2  # no version 3
    rs["v1"].refresh_from_db()
    assert rs["v1"].definition() == {"all": [{"fact": "headcount", "op": "gte", "value": "20"}]}
    rs["draft"].refresh_from_db()
    assert rs["draft"].status == RuleSet.Status.DRAFT
    assert rs["draft"].definition() == {"all": [{"fact": "headcount", "op": "gte", "value": "1"}]}
    rs["program"].refresh_from_db()
    assert rs["program"].rule_set == rs["v1"]


def test_the_program_manager_of_the_rule_sets_own_district_edits_publishes_and_adopts_it(
    objects: Objects,
) -> None:
    from eligibility.models import RuleSet

    rs = _rule_set_world(objects)
    client = Client()
    client.force_login(objects.world.official_x)
    statuses = _rule_set_attempts(client, rs)
    assert all(s in (200, 302) for s in statuses), statuses
    assert RuleSet.objects.filter(lineage=rs["v1"].lineage, version=3, status="draft").exists()
    rs["draft"].refresh_from_db()
    assert rs["draft"].status == RuleSet.Status.PUBLISHED
    rs["program"].refresh_from_db()
    assert rs["program"].rule_set == rs["v2"]
