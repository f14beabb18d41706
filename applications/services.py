"""Writes of applications and their review.

Every service is one transaction that locks the row it changes, checks the
transition's permission for the acting user (the same check the pages use to
offer the action), records an :class:`ApplicationEvent` for the applicant's
history and an audit event, and queues e-mail after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.duties import duties_conflict
from accounts.models import Enterprise
from accounts.scoping import scope_for
from audit import events
from audit.services import Actor, audit_record
from common.formatting import money
from programs.models import Program
from programs.selectors import program_is_accepting
from programs.services import _check_transition, _refuse

from . import grants, issuance
from .documents import MAX_DOCUMENTS, check_document
from .models import Application, ApplicationDocument, ApplicationEvent
from .notifications import notify_applicant
from .selectors import program_eligibility

# --- Applications: the enterprise's side ----------------------------------


def _check_duties(actor: Actor, enterprise_id: int) -> None:
    """Refuse, with the reason, a person who is staff of a district and a
    member of the enterprise (on either side of the counter)."""
    conflict = duties_conflict(user=actor.user, enterprise_id=enterprise_id)
    if conflict is not None:
        raise PermissionDenied(conflict)


def _check_verified(application: Application) -> None:
    """Refuse approving a grant to an enterprise the district has not verified
    (pending, or suspended since it applied): the same rule as bulk issuance."""
    refusal = grants.verification_refusal(application.enterprise)
    if refusal is not None:
        raise _refuse(refusal)


def _check_member(actor: Actor, enterprise: Enterprise) -> None:
    if actor.user is None or enterprise.pk not in scope_for(actor.user).enterprise_ids:
        raise PermissionDenied(_("You may not act for this enterprise."))
    _check_duties(actor, enterprise.pk)


def _check_amount(program: Program, amount: Decimal, field: str = "requested_amount") -> None:
    if amount <= 0:
        raise _refuse(_("Enter an amount greater than zero."), field)
    if amount > program.per_enterprise_cap:
        raise _refuse(
            _("The most one enterprise may receive from this program is %(cap)s.")
            % {"cap": money(program.per_enterprise_cap)},
            field,
        )


def _record(
    application: Application,
    action: str,
    actor: Actor,
    *,
    note: str = "",
    amount: Decimal | None = None,
) -> ApplicationEvent:
    return ApplicationEvent.objects.create(
        application=application, action=action, actor=actor.user, note=note, amount=amount
    )


def _audit(
    application: Application,
    actor: Actor,
    event_type: str,
    *,
    before: str | None = None,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        event_type=event_type,
        obj=application,
        district_id=application.program.district_id,
        enterprise_id=application.enterprise_id,
        before={"status": before} if before else None,
        after={
            "status": application.status,
            "requested_amount": str(application.requested_amount),
            "approved_amount": (
                str(application.approved_amount) if application.approved_amount else None
            ),
            **(extra or {}),
        },
        note=note,
    )


@transaction.atomic
def application_save_draft(
    *,
    actor: Actor,
    enterprise: Enterprise,
    program: Program,
    requested_amount: Decimal,
    purpose: str,
    application: Application | None = None,
) -> Application:
    """Create the enterprise's draft for a program, or change a draft or a
    returned application."""
    _check_member(actor, enterprise)
    _check_amount(program, requested_amount)
    if application is None:
        if not program_is_accepting(program):
            raise _refuse(_("This program is not taking applications now."))
        if Application.objects.filter(
            enterprise=enterprise, program=program, status__in=Application.LIVE
        ).exists():
            raise _refuse(
                _("Your enterprise already has an application to this program; open it instead.")
            )
        application = Application.objects.create(
            enterprise=enterprise,
            program=program,
            requested_amount=requested_amount,
            purpose=purpose.strip(),
            created_by=actor.user,
        )
        _record(application, ApplicationEvent.Action.CREATED, actor, amount=requested_amount)
    else:
        application = Application.objects.select_for_update().get(pk=application.pk)
        if application.enterprise_id != enterprise.pk or application.program_id != program.pk:
            raise PermissionDenied(_("You may not change this application."))
        if not application.is_editable():
            raise _refuse(_("Only a draft or a returned application can be changed."))
        application.requested_amount = requested_amount
        application.purpose = purpose.strip()
        application.save(update_fields=["requested_amount", "purpose", "updated_at"])
    _audit(application, actor, events.APPLICATION_DRAFT_SAVED)
    return application


@transaction.atomic
def application_document_add(
    *, actor: Actor, application: Application, upload: Any
) -> ApplicationDocument:
    """Attach a supporting document, checked by content and size.

    The same content is attached once per application: uploading a file
    whose SHA-256 the application already holds returns that document and
    changes nothing (an applicant who chooses the file again, unsure whether
    it was kept, does not get a second copy).
    """
    application = Application.objects.select_for_update().get(pk=application.pk)
    _check_member(actor, application.enterprise)
    if not application.is_editable():
        raise _refuse(_("Documents can only be added to a draft or a returned application."))
    checked = check_document(upload)
    # The application row is locked, so no concurrent upload of the same
    # content can slip in between this look-up and the insert below (and the
    # unique constraint on (application, sha256) backs it up).
    already = application.documents.filter(sha256=checked.sha256).first()
    if already is not None:
        return already
    if application.documents.count() >= MAX_DOCUMENTS:
        raise _refuse(
            ngettext(
                "An application holds at most %(count)s document.",
                "An application holds at most %(count)s documents.",
                MAX_DOCUMENTS,
            )
            % {"count": MAX_DOCUMENTS},
            "document",
        )
    document = ApplicationDocument(
        application=application,
        original_name=str(upload.name)[-200:],
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_by=actor.user,
    )
    document.file.save(str(upload.name), upload, save=False)
    document.save()
    audit_record(
        actor=actor,
        event_type=events.APPLICATION_DOCUMENT_ADDED,
        obj=document,
        district_id=application.program.district_id,
        enterprise_id=application.enterprise_id,
        after={
            "application": application.pk,
            "name": document.original_name,
            "sha256": document.sha256,
            "size": document.size,
        },
    )
    return document


@transaction.atomic
def application_document_remove(*, actor: Actor, document: ApplicationDocument) -> None:
    """Remove a document from a draft or returned application."""
    application = Application.objects.select_for_update().get(pk=document.application_id)
    _check_member(actor, application.enterprise)
    if not application.is_editable():
        raise _refuse(_("Documents can only be removed from a draft or a returned application."))
    audit_record(
        actor=actor,
        event_type=events.APPLICATION_DOCUMENT_REMOVED,
        obj=document,
        district_id=application.program.district_id,
        enterprise_id=application.enterprise_id,
        before={"application": application.pk, "name": document.original_name},
    )
    storage, name = document.file.storage, document.file.name or ""
    document.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def application_submit(*, actor: Actor, application: Application) -> Application:
    """Submit a draft (or resubmit a returned application) with its eligibility
    decision frozen; refused when the enterprise does not qualify."""
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("program__rule_set", "enterprise")
        .get(pk=application.pk)
    )
    before = application.status
    resubmitting = before == Application.Status.RETURNED
    method = application.resubmit if resubmitting else application.submit
    _check_duties(actor, application.enterprise_id)
    _check_transition(method, actor, _("Only a draft or a returned application can be submitted."))
    program = application.program
    if not program_is_accepting(program):
        raise _refuse(_("This program is not taking applications now."))
    _check_amount(program, application.requested_amount)
    if not application.purpose.strip():
        raise _refuse(_("Describe what the vouchers will be used for."), "purpose")
    if not application.documents.exists():
        raise _refuse(_("Attach at least one supporting document."), "document")
    decision = program_eligibility(program=program, enterprise=application.enterprise)
    if not decision.eligible:
        raise _refuse(
            _("Your enterprise does not meet this program's conditions: %(reasons)s")
            % {"reasons": "; ".join(decision.failed_reasons())}
        )
    method(decision=decision.as_record(), rule_set=program.rule_set, at=timezone.now())
    application.save()
    action = (
        ApplicationEvent.Action.RESUBMITTED if resubmitting else ApplicationEvent.Action.SUBMITTED
    )
    event = _record(application, action, actor, amount=application.requested_amount)
    _audit(
        application,
        actor,
        events.APPLICATION_RESUBMITTED if resubmitting else events.APPLICATION_SUBMITTED,
        before=before,
        extra={"eligibility": decision.eligible},
    )
    notify_applicant(event=event)
    return application


@transaction.atomic
def application_withdraw(*, actor: Actor, application: Application) -> Application:
    """The enterprise takes back a draft, submitted or returned application."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    before = application.status
    _check_duties(actor, application.enterprise_id)
    _check_transition(
        application.withdraw,
        actor,
        _("This application can no longer be withdrawn: a reviewer has taken it up."),
    )
    application.withdraw()
    application.save()
    _record(application, ApplicationEvent.Action.WITHDRAWN, actor)
    _audit(application, actor, events.APPLICATION_WITHDRAWN, before=before)
    return application


# --- Applications: the reviewer's side ------------------------------------


@transaction.atomic
def application_start_review(*, actor: Actor, application: Application) -> Application:
    """A reviewer of the program's district takes a submitted application up.

    The program's four-eyes threshold in force now binds the application
    until it is decided; after a return and resubmission the stricter of it
    and the threshold then in force binds, so raising the threshold and
    sending the application round again lifts nothing.
    """
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=application.pk)
    )
    before = application.status
    _check_duties(actor, application.enterprise_id)
    _check_transition(
        application.start_review, actor, _("Only a submitted application can be taken up.")
    )
    threshold = application.program.four_eyes_threshold
    if application.review_started_at is not None:
        frozen = application.four_eyes_threshold
        if frozen is None or (threshold is not None and threshold < frozen):
            frozen = threshold
        threshold = frozen
    application.start_review(at=timezone.now(), threshold=threshold)
    application.save()
    _record(application, ApplicationEvent.Action.REVIEW_STARTED, actor)
    _audit(
        application,
        actor,
        events.APPLICATION_REVIEW_STARTED,
        before=before,
        extra={"four_eyes_threshold": str(threshold) if threshold is not None else None},
    )
    return application


def _check_budget(program: Program, application: Application, amount: Decimal) -> None:
    """Refuse when the amount exceeds what is left of the budget or the
    enterprise's cap (``program`` must be the locked row for a reservation)."""
    refusal = grants.amount_refusal(
        program=program, enterprise_id=application.enterprise_id, amount=amount
    )
    if refusal is not None:
        raise _refuse(refusal, "amount")


def _check_approval_amount(application: Application, amount: Decimal) -> None:
    """Refuse an amount the enterprise did not ask for, or that does not fit."""
    if amount > application.requested_amount:
        raise _refuse(
            _(
                "The enterprise requested %(requested)s; an approval may not exceed what was "
                "requested (%(amount)s)."
            )
            % {"requested": money(application.requested_amount), "amount": money(amount)},
            "amount",
        )
    _check_budget(application.program, application, amount)


@transaction.atomic
def application_approve(
    *, actor: Actor, application: Application, amount: Decimal | None = None, note: str = ""
) -> Application:
    """Approve an application under review.

    Above the program's four-eyes threshold the first approval only records
    the approver and the amount, and a second, different reviewer confirms
    it. The final approval locks the program row, refuses when the budget or
    the enterprise's cap would be exceeded, adds the amount to the program's
    reservation and hands over to voucher issuance.
    """
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("program", "enterprise")
        .get(pk=application.pk)
    )
    before = application.status
    now = timezone.now()
    if before == Application.Status.AWAITING_SECOND_APPROVAL:
        proposed = application.approved_amount or application.requested_amount
        if amount is not None and amount != proposed:
            raise _refuse(
                _(
                    "The first approval was for %(amount)s; confirm that amount or return the "
                    "application."
                )
                % {"amount": money(proposed)},
                "amount",
            )
        _check_duties(actor, application.enterprise_id)
        _check_verified(application)
        _check_transition(
            application.approve_second,
            actor,
            _("This application is not awaiting a second approval."),
        )
        return _approve_finally(
            actor=actor,
            application=application,
            amount=proposed,
            note=note,
            before=before,
            complete=lambda: application.approve_second(at=now),
        )
    if before != Application.Status.UNDER_REVIEW:
        raise _refuse(_("Only an application under review can be approved."))
    _check_duties(actor, application.enterprise_id)
    # Who may approve is asked before the amount is looked at; both
    # transitions carry the same permission.
    if actor.user is None or not application.may_review(actor.user):
        raise PermissionDenied(_("You may not do this."))
    _check_verified(application)
    amount = application.requested_amount if amount is None else amount
    _check_approval_amount(application, amount)
    # The transitions' conditions read the proposed amount.
    application.approved_amount = amount
    if application.needs_second_approval(amount):
        _check_transition(
            application.approve_first, actor, _("Only an application under review can be approved.")
        )
        application.approve_first(amount=amount, by=actor.user, at=now)
        application.save()
        _record(
            application, ApplicationEvent.Action.FIRST_APPROVAL, actor, note=note, amount=amount
        )
        _audit(application, actor, events.APPLICATION_FIRST_APPROVAL, before=before, note=note)
        return application
    _check_transition(
        application.approve, actor, _("Only an application under review can be approved.")
    )
    return _approve_finally(
        actor=actor,
        application=application,
        amount=amount,
        note=note,
        before=before,
        complete=lambda: application.approve(amount=amount, at=now),
    )


def _approve_finally(
    *,
    actor: Actor,
    application: Application,
    amount: Decimal,
    note: str,
    before: str,
    complete: Callable[[], None],
) -> Application:
    program = Program.objects.select_for_update().get(pk=application.program_id)
    _check_budget(program, application, amount)
    complete()
    application.save()
    program.reserved_amount = program.reserved_amount + amount
    program.save(update_fields=["reserved_amount"])
    application.program = program
    audit_record(
        actor=actor,
        event_type=events.PROGRAM_BUDGET_RESERVED,
        obj=program,
        district_id=program.district_id,
        enterprise_id=application.enterprise_id,
        after={
            "application": application.pk,
            "amount": str(amount),
            "reserved_amount": str(program.reserved_amount),
            "remaining_amount": str(program.remaining_amount),
        },
    )
    event = _record(application, ApplicationEvent.Action.APPROVED, actor, note=note, amount=amount)
    _audit(application, actor, events.APPLICATION_APPROVED, before=before, note=note)
    issuance.application_approved(actor=actor, application=application)
    notify_applicant(event=event)
    return application


def _require_note(note: str) -> str:
    note = note.strip()
    if not note:
        raise _refuse(_("Write a note: the enterprise reads it to understand why."), "note")
    return note


@transaction.atomic
def application_reject(*, actor: Actor, application: Application, note: str) -> Application:
    """Refuse an application under review, with a note the enterprise reads."""
    note = _require_note(note)
    application = Application.objects.select_for_update().get(pk=application.pk)
    before = application.status
    _check_duties(actor, application.enterprise_id)
    _check_transition(
        application.reject, actor, _("Only an application under review can be rejected.")
    )
    application.reject(at=timezone.now())
    application.save()
    event = _record(application, ApplicationEvent.Action.REJECTED, actor, note=note)
    _audit(application, actor, events.APPLICATION_REJECTED, before=before, note=note)
    notify_applicant(event=event)
    return application


@transaction.atomic
def application_return(*, actor: Actor, application: Application, note: str) -> Application:
    """Send an application under review back to the enterprise for changes."""
    note = _require_note(note)
    application = Application.objects.select_for_update().get(pk=application.pk)
    before = application.status
    _check_duties(actor, application.enterprise_id)
    _check_transition(
        application.return_for_changes,
        actor,
        _("Only an application under review can be returned."),
    )
    application.return_for_changes()
    application.save()
    event = _record(application, ApplicationEvent.Action.RETURNED, actor, note=note)
    _audit(application, actor, events.APPLICATION_RETURNED, before=before, note=note)
    notify_applicant(event=event)
    return application


REVIEWER_ACTIONS = {
    "start_review": application_start_review,
    "approve": application_approve,
    "approve_first": application_approve,
    "approve_second": application_approve,
    "reject": application_reject,
    "return_for_changes": application_return,
}
