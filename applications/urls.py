"""The enterprise portal's program and application pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("programs/", views.program_list, name="program_list"),
    path("programs/<int:program_id>/", views.program_detail, name="program_detail"),
    path("programs/<int:program_id>/apply/", views.application_apply, name="application_apply"),
    path("applications/", views.application_list, name="application_list"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("applications/<int:pk>/edit/", views.application_edit, name="application_edit"),
    path(
        "applications/<int:pk>/withdraw/",
        views.application_withdraw_view,
        name="application_withdraw",
    ),
    path(
        "applications/<int:pk>/documents/<int:document_id>/",
        views.application_document,
        name="application_document",
    ),
    path(
        "applications/<int:pk>/documents/<int:document_id>/remove/",
        views.application_document_remove_view,
        name="application_document_remove",
    ),
]
