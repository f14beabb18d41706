"""The operators' pages, mounted at ``/operator/``."""

from django.urls import path

from . import operator_views as views

urlpatterns = [
    path("", views.operator_home, name="operator_home"),
    path("<slug:slug>/", views.operator_platform, name="operator_platform"),
    path(
        "<slug:slug>/settlements/<str:month>.<str:fmt>",
        views.operator_settlement,
        name="operator_settlement",
    ),
]
