"""OpenAPI links between the API's operations: which answer feeds which call.

A link says how a value in one operation's response fills a parameter (or a
body field) of the next call: the id of a new hold is the ``hold_id`` of its
capture and release, the id of a charge is the ``redemption_id`` of its
reversals, a voucher's code is the ``voucher`` of a charge or a hold.
Clients' code generators and stateful test tools (schemathesis) follow
them. drf-spectacular has no per-response ``links`` in ``extend_schema``,
so :func:`add_operation_links`, a ``POSTPROCESSING_HOOKS`` entry, adds them
to the finished document, naming operations by their ``operationId``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Link:
    """One OpenAPI link: from a response of ``source`` to a call of ``target``."""

    source: str
    status: str
    name: str
    target: str
    description: str
    parameters: dict[str, str] = field(default_factory=dict)
    request_body: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        link: dict[str, Any] = {"operationId": self.target, "description": self.description}
        if self.parameters:
            link["parameters"] = dict(self.parameters)
        if self.request_body is not None:
            link["requestBody"] = dict(self.request_body)
        return link


RESPONSE_ID = "$response.body#/id"
VOUCHER_CODE_OF_CHARGE = "$response.body#/voucher"

LINKS: tuple[Link, ...] = (
    Link(
        "hold_create",
        "201",
        "CaptureHold",
        "hold_capture",
        "Charge the hold just made.",
        parameters={"hold_id": RESPONSE_ID},
    ),
    Link(
        "hold_create",
        "201",
        "ReleaseHold",
        "hold_release",
        "Release the hold just made.",
        parameters={"hold_id": RESPONSE_ID},
    ),
    Link(
        "redemption_create",
        "201",
        "ReverseRedemption",
        "reversal_create",
        "Refund all or part of the charge just made.",
        parameters={"redemption_id": RESPONSE_ID},
    ),
    Link(
        "redemption_create",
        "201",
        "LookUpVoucher",
        "voucher_lookup",
        "The charged voucher's balance after the charge.",
        parameters={"code": VOUCHER_CODE_OF_CHARGE},
    ),
    Link(
        "hold_capture",
        "201",
        "ReverseRedemption",
        "reversal_create",
        "Refund all or part of the charge the capture made.",
        parameters={"redemption_id": RESPONSE_ID},
    ),
    Link(
        "hold_capture",
        "201",
        "LookUpVoucher",
        "voucher_lookup",
        "The charged voucher's balance after the capture.",
        parameters={"code": VOUCHER_CODE_OF_CHARGE},
    ),
    Link(
        "voucher_lookup",
        "200",
        "RedeemVoucher",
        "redemption_create",
        "Charge this voucher.",
        request_body={"voucher": "$response.body#/code"},
    ),
    Link(
        "voucher_lookup",
        "200",
        "HoldVoucher",
        "hold_create",
        "Reserve part of this voucher.",
        request_body={"voucher": "$response.body#/code"},
    ),
)


def _operations_by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    operations: dict[str, dict[str, Any]] = {}
    for path_item in (result.get("paths") or {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if isinstance(operation, dict) and "operationId" in operation:
                operations[operation["operationId"]] = operation
    return operations


def add_operation_links(result: dict[str, Any], generator: Any, request: Any, public: Any) -> Any:
    """Add :data:`LINKS` to the responses of a generated document (a postprocessing hook).

    A link is added only when its source response and its target operation
    are both in the document, so a partial document (one filtered by
    permissions or path prefix) never names an operation it lacks.
    """
    operations = _operations_by_id(result)
    for link in LINKS:
        source = operations.get(link.source)
        if source is None or link.target not in operations:
            continue
        response = source.get("responses", {}).get(link.status)
        if response is None:
            continue
        response.setdefault("links", {})[link.name] = link.as_dict()
    return result
