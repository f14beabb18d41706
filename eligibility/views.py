"""Enterprise-facing pages of the eligibility app."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.duties import duties_conflict
from accounts.models import Membership
from accounts.scoping import scope_for
from audit.services import Actor, client_ip

from .forms import EnterpriseRegistrationForm
from .services import enterprise_register


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
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Your enterprise is registered."))
            return redirect("portal")
    return render(request, "eligibility/enterprise_register.html", {"form": form})
