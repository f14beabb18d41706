"""Enterprise-facing pages of the eligibility app."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.duties import duties_conflict
from accounts.models import Enterprise, Membership
from accounts.scoping import scope_for
from audit.services import Actor, client_ip
from common.errors import BusinessError

from .forms import EnterpriseCorrectionForm, EnterpriseRegistrationForm
from .services import CORRECTABLE_FIELDS, enterprise_register, enterprise_registration_correct


@login_required
def enterprise_register_view(request: HttpRequest) -> HttpResponse:
    """ "Register your enterprise": the step after a new user verifies e-mail."""
    scope = scope_for(request.user)
    if scope.enterprise_roles:
        messages.info(request, _("Your account already belongs to an enterprise."))
        return redirect("portal")
    conflict = duties_conflict(user=request.user, becoming=Membership.Role.ENTERPRISE_ADMIN)
    if conflict is not None:
        messages.error(request, conflict)
    form = EnterpriseRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enterprise_register(
                actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                user=request.user,
                **form.cleaned_data,
            )
        except (BusinessError, ValidationError) as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("Your enterprise is registered."))
            return redirect("portal")
    return render(request, "eligibility/enterprise_register.html", {"form": form})


def _show_errors(form: BaseForm, exc: BusinessError | ValidationError) -> None:
    """Put a service's refusal next to its field (or above the form).

    A ValidationError is the model's own validation (``full_clean``)."""
    if isinstance(exc, BusinessError):
        for message in exc.messages:
            form.add_error(exc.field if exc.field in form.fields else None, message)
        return
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


@login_required
def enterprise_correct_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Correct your registration": the enterprise's administrator edits its data,
    which sends the enterprise back to verification."""
    scope = scope_for(request.user)
    if pk not in scope.enterprise_ids:
        raise Http404  # another enterprise's page answers like a missing one
    if pk not in scope.admin_enterprise_ids:
        raise PermissionDenied
    enterprise = get_object_or_404(Enterprise, pk=pk)
    form = EnterpriseCorrectionForm(request.POST or None, instance=enterprise)
    if request.method == "POST" and form.is_valid():
        try:
            corrected = enterprise_registration_correct(
                actor=Actor.for_user(request.user, source_ip=client_ip(request)),
                enterprise=enterprise,
                **{name: form.cleaned_data[name] for name in CORRECTABLE_FIELDS},
            )
        except (BusinessError, ValidationError) as exc:
            _show_errors(form, exc)
        else:
            if corrected.status == Enterprise.Status.PENDING:
                messages.success(
                    request,
                    _(
                        "Your registration data is saved and goes back to the district for verification."
                    ),
                )
            return redirect("portal")
    return render(request, "eligibility/enterprise_correct.html", {"form": form})
