"""Public and enterprise-portal pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import ComputePlatform, Enterprise
from accounts.scoping import scope_for, scoped
from programs.models import Program
from programs.selectors import program_list_public, programs_by_district


def home(request: HttpRequest) -> HttpResponse:
    """The public home page: what the platform is, and the open programs."""
    programs = program_list_public()
    # Point budgets are not yuan: the headline total adds up yuan programs only.
    totals = programs.filter(unit=Program.Unit.CNY).aggregate(total=Sum("total_budget"))
    return render(
        request,
        "home.html",
        {
            "districts": programs_by_district(programs),
            "program_count": programs.count(),
            "total_budget": totals["total"] or 0,
        },
    )


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    """The signed-in user's landing page, by what they belong to."""
    user = request.user
    if user.is_staff:
        return redirect("admin:index")
    scope = scope_for(user)
    enterprises = scoped(Enterprise.objects.all(), user).filter(pk__in=scope.enterprise_ids)
    platforms = scoped(ComputePlatform.objects.all(), user).filter(pk__in=scope.platform_ids)
    if not enterprises and not platforms:
        if scope.assessor_district_ids:
            # A third-party assessor: their assigned claims and agreements.
            return redirect("assess_list")
        return redirect("enterprise_register")
    return render(
        request,
        "vouchers/portal.html",
        {
            "enterprises": enterprises,
            "admin_enterprise_ids": scope.admin_enterprise_ids,
            "platforms": platforms,
            "programs": programs_by_district(program_list_public()),
        },
    )
