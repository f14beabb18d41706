"""The enterprise portal's contract and claim pages, and the assessor's
pages (``assess/``), mounted at ``/claims/``."""

from django.urls import path

from . import assessor_views, claim_views

urlpatterns = [
    path("", claim_views.claim_list, name="claim_list"),
    path("new/", claim_views.claim_start, name="claim_start"),
    path("<int:pk>/", claim_views.claim_detail, name="claim_detail"),
    path("<int:pk>/withdraw/", claim_views.claim_withdraw_view, name="claim_withdraw"),
    path(
        "<int:pk>/payments/<int:payment_id>/notice.pdf",
        claim_views.claim_payment_notice,
        name="claim_payment_notice",
    ),
    path("contracts/new/", claim_views.contract_new, name="contract_new"),
    path("contracts/<int:pk>/", claim_views.contract_detail, name="contract_detail"),
    path(
        "contracts/<int:pk>/invoices/",
        claim_views.contract_invoice_add,
        name="contract_invoice_add",
    ),
    path(
        "contracts/<int:pk>/documents/",
        claim_views.contract_document_upload,
        name="contract_document_upload",
    ),
    path(
        "contracts/<int:pk>/documents/<int:document_id>/",
        claim_views.contract_document,
        name="contract_document",
    ),
    # The assessor's pages: only what is assigned to them.
    path("assess/", assessor_views.assess_list, name="assess_list"),
    path("assess/claims/<int:pk>/", assessor_views.assess_claim, name="assess_claim"),
    path(
        "assess/claims/<int:pk>/documents/<int:document_id>/",
        assessor_views.assess_claim_document,
        name="assess_claim_document",
    ),
    path(
        "assess/agreements/<int:pk>/",
        assessor_views.assess_agreement,
        name="assess_agreement",
    ),
]
