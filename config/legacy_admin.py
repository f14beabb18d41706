"""Admin addresses of models that moved to another app.

The admin's URLs carry the app label (``/admin/<app>/<model>/…``). When the
restructuring gave programs, applications and the oversight models their own
apps, their admin pages moved with them; these permanent redirects keep old
bookmarks, links in e-mails and saved searches working. The view itself
checks nothing: the page it redirects to does.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.urls import re_path

# old app label -> {model name: new app label}
MOVED: dict[str, dict[str, str]] = {
    "vouchers": {
        "program": "programs",
        "phasestep": "programs",
        "application": "applications",
        "applicationdocument": "applications",
        "applicationevent": "applications",
        "bulkissuance": "applications",
    },
    "audit": {
        "anomalyflag": "oversight",
        "detectorsettings": "oversight",
    },
}


def redirect_moved(
    request: HttpRequest, old_app: str, model: str, rest: str
) -> HttpResponsePermanentRedirect:
    new_app = MOVED[old_app][model]
    old_prefix, new_prefix = f"/admin/{old_app}/{model}/", f"/admin/{new_app}/{model}/"
    # request.path keeps a deployment's script prefix; only the app label changes.
    target = request.path.replace(old_prefix, new_prefix, 1)
    query = request.META.get("QUERY_STRING", "")
    return HttpResponsePermanentRedirect(target + (f"?{query}" if query else ""))


urlpatterns = [
    re_path(
        rf"^admin/(?P<old_app>{old_app})/(?P<model>{'|'.join(models)})/(?P<rest>.*)$",
        redirect_moved,
    )
    for old_app, models in MOVED.items()
]
