"""Enterprise portal: open programs with the eligibility explanation, apply,
save a draft, attach documents, submit, withdraw, answer a return, follow."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.duties import duties_conflict
from accounts.models import Enterprise
from accounts.scoping import scope_for, scoped
from audit.services import Actor, client_ip
from common.errors import BusinessError
from eligibility.evaluator import record_rows, requirement_rows
from programs.models import Program
from programs.phasedown import schedule_periods
from programs.selectors import (
    program_get_published,
    program_is_accepting,
    program_not_accepting_reason,
)

from .documents import download_name
from .forms import ApplicationForm
from .models import Application, ApplicationDocument
from .selectors import (
    application_get_with_history,
    application_list_for_enterprise,
    program_apply_state,
    program_eligibility,
    program_list_for_enterprise,
)
from .services import (
    application_document_add,
    application_document_remove,
    application_save_draft,
    application_submit,
    application_withdraw,
)


def _enterprise(request: HttpRequest) -> Enterprise | None:
    """The enterprise the signed-in user acts for (their first one)."""
    ids = sorted(scope_for(request.user).enterprise_ids)
    if not ids:
        return None
    return Enterprise.objects.get(pk=ids[0])


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, source_ip=client_ip(request))


def _own_application(request: HttpRequest, pk: int) -> Application:
    scope = scope_for(request.user)
    try:
        return application_get_with_history(
            queryset=Application.objects.filter(enterprise__in=scope.enterprise_ids), pk=pk
        )
    except Application.DoesNotExist:
        raise Http404 from None


def program_list(request: HttpRequest) -> HttpResponse:
    """Open programs, each with the explanation of whether the enterprise qualifies.

    Public, like the programs themselves: a visitor (or a signed-in person
    who acts for no enterprise) sees the programs with a prompt to sign in
    or register instead of a result.
    """
    enterprise = _enterprise(request) if request.user.is_authenticated else None
    return render(
        request,
        "vouchers/program_list.html",
        {"enterprise": enterprise, "items": program_list_for_enterprise(enterprise=enterprise)},
    )


def program_detail(request: HttpRequest, program_id: int) -> HttpResponse:
    """One published program as an enterprise reads it: what it funds, its
    rules, rates and phase-down, deadlines, platforms and how to apply.

    Public (a government portal shows its programs to everyone); a
    signed-in enterprise also sees its own result row by row and whether it
    may apply now, with the reason when not. A draft is no program yet: 404.
    """
    try:
        program = program_get_published(pk=program_id)
    except Program.DoesNotExist:
        raise Http404 from None
    enterprise = _enterprise(request) if request.user.is_authenticated else None
    state = (
        program_apply_state(program=program, enterprise=enterprise, user=request.user)
        if enterprise is not None
        else None
    )
    return render(
        request,
        "vouchers/program_detail.html",
        {
            "program": program,
            "enterprise": enterprise,
            "state": state,
            "requirements": requirement_rows(program.rule_set) if state is None else [],
            "not_accepting": program_not_accepting_reason(program),
            "periods": schedule_periods(program),
            "platforms": list(program.platforms.all()),
        },
    )


@login_required
def application_list(request: HttpRequest) -> HttpResponse:
    enterprise = _enterprise(request)
    if enterprise is None:
        return redirect("enterprise_register")
    return render(
        request,
        "vouchers/application_list.html",
        {
            "enterprise": enterprise,
            "applications": application_list_for_enterprise(enterprise=enterprise),
        },
    )


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    application = _own_application(request, pk)
    live_decision = None
    if application.is_editable():
        live_decision = program_eligibility(
            program=application.program, enterprise=application.enterprise
        )
    transitions = {t.name for t in application.transitions_for(request.user)}
    return render(
        request,
        "vouchers/application_detail.html",
        {
            "application": application,
            "program": application.program,
            "frozen_rows": record_rows(application.eligibility_decision),
            "live_decision": live_decision,
            "can_withdraw": "withdraw" in transitions,
            "can_edit": application.is_editable(),
            "return_note": next(
                (
                    e.note
                    for e in reversed(list(application.events.all()))
                    if e.action in ("returned", "rejected")
                ),
                "",
            ),
        },
    )


def _handle_form(
    request: HttpRequest,
    *,
    program: Program,
    enterprise: Enterprise,
    application: Application | None,
) -> HttpResponse:
    """Save, attach and (if asked) submit; on any error show the form again
    with everything typed still in it."""
    initial: dict[str, Any] = {}
    if application is not None:
        initial = {"requested_amount": application.requested_amount, "purpose": application.purpose}
    form = ApplicationForm(
        request.POST or None, request.FILES or None, program=program, initial=initial
    )
    intent = request.POST.get("intent", "save")
    if request.method == "POST":
        valid = form.is_valid()
        upload = form.cleaned_data.get("document") if valid else request.FILES.get("document")
        if valid:
            try:
                application = application_save_draft(
                    actor=_actor(request),
                    enterprise=enterprise,
                    program=program,
                    requested_amount=form.cleaned_data["requested_amount"],
                    purpose=form.cleaned_data["purpose"],
                    application=application,
                )
            except BusinessError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
                valid = False
        if upload and application is not None:
            # A valid file is kept even when another field needs fixing, so it
            # need not be chosen again; the page lists it and says so.
            held = set(application.documents.values_list("pk", flat=True))
            try:
                document = application_document_add(
                    actor=_actor(request), application=application, upload=upload
                )
            except BusinessError as exc:
                form.add_error("document", str(exc.message))
                valid = False
            else:
                if document.pk in held:
                    messages.info(
                        request,
                        _(
                            "“%(name)s” is already attached to this application (the same "
                            "content); it was not added again."
                        )
                        % {"name": document.original_name},
                    )
                elif not valid:
                    messages.info(
                        request,
                        _("“%(name)s” is attached to your draft; you need not choose it again.")
                        % {"name": document.original_name},
                    )
        elif upload and not valid:
            form.add_error(
                "document",
                _("Fix the other fields, then choose the file again: it was not saved yet."),
            )
        if valid and application is not None:
            if intent == "submit":
                if form.check_obligations():
                    try:
                        application_submit(actor=_actor(request), application=application)
                    except BusinessError as exc:
                        form.add_error(
                            exc.field if exc.field in form.fields else None, str(exc.message)
                        )
                    else:
                        messages.success(
                            request,
                            _("Application #%(number)s is submitted. We sent you an e-mail.")
                            % {"number": application.pk},
                        )
                        return redirect("application_detail", pk=application.pk)
            else:
                messages.success(request, _("Your draft is saved."))
                if upload:
                    return redirect("application_edit", pk=application.pk)
                return redirect("application_detail", pk=application.pk)
    if request.method == "POST" and form.errors and application is not None:
        messages.info(
            request,
            _("Your draft #%(number)s is saved; please correct what is marked below.")
            % {"number": application.pk},
        )
    # Read afresh: the application may come with its documents prefetched
    # from before this request attached one.
    documents = (
        list(ApplicationDocument.objects.filter(application=application))
        if application is not None
        else []
    )
    return render(
        request,
        "vouchers/application_form.html",
        {
            "form": form,
            "program": program,
            "enterprise": enterprise,
            "application": application,
            "documents": documents,
            "decision": program_eligibility(program=program, enterprise=enterprise),
            "return_note": (
                application.events.filter(action="returned").order_by("-created_at").first()
                if application is not None
                else None
            ),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


@login_required
def application_apply(request: HttpRequest, program_id: int) -> HttpResponse:
    enterprise = _enterprise(request)
    if enterprise is None:
        return redirect("enterprise_register")
    program = get_object_or_404(
        Program.objects.select_related("district", "rule_set"), pk=program_id
    )
    existing = Application.objects.filter(
        enterprise=enterprise, program=program, status__in=Application.LIVE
    ).first()
    if existing is not None:
        return redirect(
            "application_edit" if existing.is_editable() else "application_detail", pk=existing.pk
        )
    if not program_is_accepting(program):
        messages.error(request, _("This program is not taking applications now."))
        return redirect("program_list")
    conflict = duties_conflict(user=request.user, enterprise_id=enterprise.pk)
    if conflict is not None:
        messages.error(request, conflict)
        return redirect("program_list")
    return _handle_form(request, program=program, enterprise=enterprise, application=None)


@login_required
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    application = _own_application(request, pk)
    if not application.is_editable():
        messages.info(request, _("This application can no longer be changed."))
        return redirect("application_detail", pk=pk)
    conflict = duties_conflict(user=request.user, enterprise_id=application.enterprise_id)
    if conflict is not None:
        messages.error(request, conflict)
        return redirect("application_detail", pk=pk)
    return _handle_form(
        request,
        program=application.program,
        enterprise=application.enterprise,
        application=application,
    )


@login_required
@require_POST
def application_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    application = _own_application(request, pk)
    try:
        application_withdraw(actor=_actor(request), application=application)
    except BusinessError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The application is withdrawn."))
    return redirect("application_detail", pk=pk)


@login_required
@require_POST
def application_document_remove_view(
    request: HttpRequest, pk: int, document_id: int
) -> HttpResponse:
    application = _own_application(request, pk)
    document = get_object_or_404(application.documents.all(), pk=document_id)
    try:
        application_document_remove(actor=_actor(request), document=document)
    except BusinessError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The document is removed."))
    return redirect("application_edit", pk=pk)


@login_required
def application_document(request: HttpRequest, pk: int, document_id: int) -> FileResponse:
    """Serve a document only to the enterprise's members and the district's officials.

    Someone else's document answers exactly as a document that does not
    exist, so ids reveal nothing. The download is named by the type its
    content was detected as, not by the uploader's extension.
    """
    document = (
        scoped(ApplicationDocument.objects.all(), request.user)
        .filter(pk=document_id, application_id=pk)
        .first()
    )
    if document is None:
        raise Http404
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=download_name(document.original_name, document.content_type),
        content_type=document.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response
