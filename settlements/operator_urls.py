"""The operators' settlement pages, mounted at ``/operator/`` before the
platform's own pages (``platforms.operator_urls``)."""

from django.urls import path

from . import operator_views as views

urlpatterns = [
    path("<slug:slug>/settlements/", views.settlement_list, name="operator_settlements"),
    path(
        "<slug:slug>/settlements/<int:pk>/",
        views.settlement_detail,
        name="operator_settlement_detail",
    ),
    path(
        "<slug:slug>/settlements/<int:pk>/statement.pdf",
        views.settlement_statement_pdf,
        name="operator_settlement_statement_pdf",
    ),
    path(
        "<slug:slug>/settlements/<int:pk>/payments/<int:payment_id>/notice.pdf",
        views.payment_notice,
        name="operator_payment_notice_pdf",
    ),
]
