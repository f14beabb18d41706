"""Enterprise-facing pages of the eligibility app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from accounts.duties import duties_conflict
from accounts.models import Enterprise, Membership
from accounts.scoping import scope_for
from audit.services import Actor, client_ip
from common.errors import BusinessError

from .forms import EnterpriseCorrectionForm, EnterpriseRegistrationForm
from .selectors import enterprise_verification
from .services import (
    CONTACT_FIELDS,
    CORRECTABLE_FIELDS,
    VERIFIED_FIELDS,
    enterprise_register,
    enterprise_registration_correct,
)


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


def _own_enterprise(request: HttpRequest, pk: int, *, edit: bool) -> Enterprise:
    """The enterprise ``pk`` if the user belongs to it (any member reads; only
    its administrators edit). Another enterprise answers like a missing one."""
    scope = scope_for(request.user)
    if pk not in scope.enterprise_ids:
        raise Http404
    if edit and pk not in scope.admin_enterprise_ids:
        raise PermissionDenied
    return get_object_or_404(Enterprise, pk=pk)


@login_required
@require_GET
def enterprise_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Company details": what the enterprise registered, where it stands with
    the district's verification and why; its members read, its administrators
    find the way to edit."""
    enterprise = _own_enterprise(request, pk, edit=False)
    return render(
        request,
        "eligibility/enterprise_detail.html",
        {
            "enterprise": enterprise,
            "verification": enterprise_verification(enterprise=enterprise),
            "can_edit": pk in scope_for(request.user).admin_enterprise_ids,
        },
    )


@login_required
def enterprise_correct_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Edit company details": the enterprise's administrator edits its data; a
    change of verified data sends the enterprise back to verification, a change
    of contact details does not."""
    enterprise = _own_enterprise(request, pk, edit=True)
    form = EnterpriseCorrectionForm(request.POST or None, instance=enterprise)
    # Read before validation: a model form's validation writes into the instance.
    previous = {name: getattr(enterprise, name) for name in CORRECTABLE_FIELDS}
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
            changed = {n for n in CORRECTABLE_FIELDS if getattr(corrected, n) != previous[n]}
            if changed - CONTACT_FIELDS:
                messages.success(
                    request,
                    _(
                        "Your company details are saved and go back to the district "
                        "for verification."
                    ),
                )
            elif changed:
                messages.success(
                    request, _("Your contact details are saved; your verification stands.")
                )
            return redirect("enterprise_detail", pk=enterprise.pk)
    return render(
        request,
        "eligibility/enterprise_correct.html",
        {
            "form": form,
            "enterprise": enterprise,
            "verified_labels": _listed(form[name].label for name in VERIFIED_FIELDS),
            "contact_labels": _listed(
                form[name].label for name in CORRECTABLE_FIELDS if name in CONTACT_FIELDS
            ),
        },
    )


def _listed(labels: Iterable[Any]) -> str:
    """Labels as a list in a sentence ("name, headcount"; "名称、从业人数")."""
    return pgettext("separator between the items of a list", ", ").join(str(x) for x in labels)
