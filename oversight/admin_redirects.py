"""Permanent redirects from the old admin pages of the anomaly queue and the
detector settings to their pages under the oversight app.

The two models moved from ``audit`` to ``oversight`` (issue 15), and the
admin's URLs follow the app label: ``/admin/audit/anomalyflag/12/change/``
became ``/admin/oversight/anomalyflag/12/change/``. Bookmarks and links in
old e-mails keep working through these redirects; the pages they lead to
decide who may see what. ``config/urls.py`` mounts them before the admin.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.urls import URLPattern, path, reverse

#: The admin pages that moved: the models' names, the same under both labels.
MOVED_MODELS = ("anomalyflag", "detectorsettings")


def moved_admin_page(
    request: HttpRequest, model: str, rest: str = ""
) -> HttpResponsePermanentRedirect:
    """Redirect to the same page (and query) under the oversight app."""
    target = f"{reverse('admin:app_list', args=['oversight'])}{model}/{rest}"
    query = request.META.get("QUERY_STRING", "")
    return HttpResponsePermanentRedirect(f"{target}?{query}" if query else target)


urlpatterns: list[URLPattern] = []
for _model in MOVED_MODELS:
    urlpatterns += [
        path(f"{_model}/", moved_admin_page, {"model": _model}),
        path(f"{_model}/<path:rest>", moved_admin_page, {"model": _model}),
    ]
