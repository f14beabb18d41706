"""The real URLs plus signed test endpoints that write to the database.

The endpoints are real views on the real base class, decorated with the real
idempotency helper; they write audit events (a real table), so a test can
count what was done, and one of them refuses after writing, to prove the
write and the stored answer roll back together.
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import Actor, audit_record
from common.errors import BusinessError, Code
from platforms.api import PlatformAPIView
from platforms.fields import CNYAmountField, PointsAmountField
from platforms.idempotency import idempotent

EVENT = "test.write"


class WriteSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100)
    amount = CNYAmountField()
    points = PointsAmountField(required=False)
    refuse = serializers.BooleanField(default=False)


class WriteView(PlatformAPIView):
    @idempotent
    def post(self, request: Request) -> Response:
        verified = self.verified(request)
        data = WriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = audit_record(
            actor=Actor.platform_key(verified.key_id, evidence=verified.evidence()),
            event_type=EVENT,
            obj=None,
            object_type="test.write",
            object_id=data.validated_data["reference"],
            platform_id=verified.platform.pk,
            note=str(data.validated_data["amount"]),
        )
        if data.validated_data["refuse"]:
            raise BusinessError(Code.INSUFFICIENT_BALANCE, "refused after writing")
        return Response(
            {
                "id": event.pk,
                "reference": data.validated_data["reference"],
                "amount": str(data.validated_data["amount"]),
                "written_at": event.occurred_at.isoformat(),
            },
            status=201,
        )


urlpatterns = [
    path("api/v1/test-writes", WriteView.as_view()),
    path("", include("config.urls")),
]
