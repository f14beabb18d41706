"""The settlement endpoints of the platform API, mounted at ``/api/v1/`` by
``config/urls.py`` before :mod:`platforms.urls` (whose last pattern answers
every other path with the contract's 404)."""

from django.urls import path

from .api import SettlementLinesView, SettlementSubmitView, SettlementsView

app_name = "settlement_api"

urlpatterns = [
    path("settlements", SettlementsView.as_view(), name="settlements"),
    # Ids are matched loosely and checked by the view, so that a bad id gets
    # the contract's settlement_not_found, not a bare 404.
    path(
        "settlements/<str:settlement_id>/lines",
        SettlementLinesView.as_view(),
        name="settlement-lines",
    ),
    path(
        "settlements/<str:settlement_id>/submit",
        SettlementSubmitView.as_view(),
        name="settlement-submit",
    ),
]
