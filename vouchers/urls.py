"""The enterprise portal's voucher pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("vouchers/", views.voucher_list, name="voucher_list"),
    path("vouchers/<int:pk>/", views.voucher_detail, name="voucher_detail"),
    path(
        "vouchers/<int:pk>/ledger.csv",
        views.voucher_ledger_csv,
        name="voucher_ledger_csv",
    ),
    path(
        "vouchers/<int:pk>/certificate.pdf",
        views.voucher_certificate,
        name="voucher_certificate",
    ),
]
