"""The audit event log: an append-only record of every change.

Events are written inside the transaction of the change they record, so an
event exists exactly when its change committed. The database refuses UPDATE,
DELETE and TRUNCATE on the table (PostgreSQL triggers). Sealing the events
into a hash chain happens after commit, so writing an event never waits on a
global lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.fields import BulkJSONField

if TYPE_CHECKING:
    from accounts.scoping import Scope


class AuditEvent(models.Model):
    """One recorded fact: who did what to which object, when and from where."""

    class ActorKind(models.TextChoices):
        USER = "user", _("User")
        PLATFORM_KEY = "platform_key", _("Platform key")
        SYSTEM = "system", _("System task")
        ANONYMOUS = "anonymous", _("Anonymous")

    occurred_at = models.DateTimeField(_("occurred at"), auto_now_add=True, db_index=True)
    event_type = models.CharField(_("event type"), max_length=60)
    actor_kind = models.CharField(_("actor kind"), max_length=20, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acting user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # a partial index below: most events have no user
    )
    actor_label = models.CharField(
        _("actor"),
        max_length=200,
        help_text=_("The user's e-mail, the platform key id or the task name, as it was then."),
    )
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    # Looked up together (an object's history): the composite index below.
    object_type = models.CharField(_("object type"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=300, blank=True)
    # Organisation columns make events scopable (an auditor sees their
    # district's events) without joining to objects that may be archived.
    district_id = models.BigIntegerField(_("district id"), null=True, blank=True, db_index=True)
    enterprise_id = models.BigIntegerField(_("enterprise id"), null=True, blank=True, db_index=True)
    platform_id = models.BigIntegerField(_("platform id"), null=True, blank=True, db_index=True)
    # BulkJSONField: a usage batch inserts its events in bulk (see the field).
    before = BulkJSONField(_("before"), null=True, blank=True)
    after = BulkJSONField(_("after"), null=True, blank=True)
    evidence = BulkJSONField(
        _("request evidence"),
        null=True,
        blank=True,
        help_text=_("For platform calls: the RFC 9421 signature input, signature and body digest."),
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["id"]
        # Every index costs each insert, and a usage batch inserts 1,000
        # events: no varchar_pattern_ops twins (nothing filters by prefix),
        # no single-column object_type / object_id (the composite serves an
        # object's history), and the user index only where there is a user.
        indexes = [
            models.Index(fields=["object_type", "object_id", "id"]),
            models.Index(fields=["event_type"], name="audit_event_type"),
            models.Index(
                fields=["actor_user"],
                condition=Q(actor_user__isnull=False),
                name="audit_event_actor_user",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_event_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            ),
            pgtrigger.Trigger(
                name="audit_event_no_truncate",
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                func="RAISE EXCEPTION 'audit events cannot be truncated'; RETURN NULL;",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_label}"

    @property
    def event_label(self) -> str:
        """What happened, as an official reads it ("Voucher issued")."""
        from .event_labels import event_label

        return event_label(self.event_type)

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        """Officials (auditors included) read their districts' events; nobody
        else reads the log through the admin.

        Events that name no district but concern an enterprise registered in
        one of the official's districts, or a platform serving one of them,
        are theirs too (an enterprise's own edits carry no district).
        """
        from accounts.models import ComputePlatform, Enterprise
        from accounts.scoping import enterprise_home_q

        if not scope.district_ids:
            return Q(pk__in=[])
        q = Q(district_id__in=scope.district_ids)
        # An enterprise's own events belong to its registration district.
        q |= Q(
            district_id__isnull=True,
            enterprise_id__in=Enterprise.objects.filter(
                enterprise_home_q(scope.district_ids)
            ).values("pk"),
        )
        q |= Q(
            district_id__isnull=True,
            enterprise_id__isnull=True,
            platform_id__in=ComputePlatform.districts_served.through.objects.filter(
                district_id__in=scope.district_ids
            ).values("computeplatform_id"),
        )
        return q


def _append_only(table: str) -> list[pgtrigger.Trigger]:
    """Triggers that refuse UPDATE, DELETE and TRUNCATE on ``table``."""
    return [
        pgtrigger.Protect(
            name=f"{table}_append_only",
            operation=pgtrigger.Update | pgtrigger.Delete,
        ),
        pgtrigger.Trigger(
            name=f"{table}_no_truncate",
            operation=pgtrigger.Truncate,
            level=pgtrigger.Statement,
            when=pgtrigger.Before,
            func=f"RAISE EXCEPTION '{table} rows cannot be truncated'; RETURN NULL;",
        ),
    ]


class AuditSeal(models.Model):
    """An event's place in the hash chain, written after the event committed.

    ``seq`` numbers the chain from 1 without gaps, in the order the sealer
    saw committed events. ``entry_hash`` is the hash of the event's
    canonical serialisation (``audit.canonical``), which is also the event's
    leaf in the RFC 9162 Merkle tree; ``chain_hash`` links it to the seal
    before it, whose ``chain_hash`` is repeated in ``prev_hash``.
    """

    seq = models.BigIntegerField(_("sequence number"), unique=True)
    # No database constraint: the seal must outlive a (forbidden) deletion
    # of its event, so the verifier can name the event that went missing.
    event = models.OneToOneField(
        AuditEvent,
        verbose_name=_("event"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="seal",
    )
    algorithm = models.CharField(_("hash algorithm"), max_length=10)
    format_version = models.PositiveSmallIntegerField(_("serialisation version"), default=1)
    entry_hash = models.CharField(_("entry hash"), max_length=128)
    prev_hash = models.CharField(_("previous chain hash"), max_length=128)
    chain_hash = models.CharField(_("chain hash"), max_length=128)
    sealed_at = models.DateTimeField(_("sealed at"), default=timezone.now)

    class Meta:
        verbose_name = _("audit seal")
        verbose_name_plural = _("audit seals")
        ordering = ["seq"]
        triggers = _append_only("audit_seal")

    def __str__(self) -> str:
        return f"seal {self.seq} → event #{self.event_id}"


class AuditCheckpoint(models.Model):
    """A signed tree head: the chain's size, head and Merkle root at a time.

    Checkpoints are exported and published off-system; a later change to the
    log, even one that recomputes every seal, no longer matches them.
    """

    tree_size = models.BigIntegerField(_("tree size"))
    algorithm = models.CharField(_("hash algorithm"), max_length=10)
    root_hash = models.CharField(_("Merkle root"), max_length=128)
    chain_head = models.CharField(_("chain head"), max_length=128)
    # The compact range of the Merkle tree (roots of its perfect subtrees,
    # largest first), so the next checkpoint hashes only the new leaves.
    frontier = models.JSONField(_("Merkle frontier"), default=list)
    created_at = models.DateTimeField(_("created at"))
    key_id = models.CharField(_("signing key id"), max_length=64)
    signature = models.TextField(_("Ed25519 signature (base64)"))

    class Meta:
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        ordering = ["tree_size", "id"]
        triggers = _append_only("audit_checkpoint")

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root_hash[:12]}…"


class AuditArchive(models.Model):
    """A range of sealed events moved off-line: the chain resumes after it.

    The archive file holds the events, their seals and the checkpoint that
    covers them; this row keeps the head the remaining chain continues from.
    """

    last_seq = models.BigIntegerField(_("last archived sequence number"), unique=True)
    last_event_id = models.BigIntegerField(_("last archived event"))
    before = models.DateTimeField(_("events before"))
    algorithm = models.CharField(_("hash algorithm"), max_length=10)
    chain_head = models.CharField(_("chain head at the end of the range"), max_length=128)
    frontier = models.JSONField(_("Merkle frontier at the end of the range"), default=list)
    file_name = models.CharField(_("archive file"), max_length=300)
    file_sha256 = models.CharField(_("archive file SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("archived at"), default=timezone.now)

    class Meta:
        verbose_name = _("audit archive")
        verbose_name_plural = _("audit archives")
        ordering = ["last_seq"]
        triggers = _append_only("audit_archive")

    def __str__(self) -> str:
        return f"archive up to seal {self.last_seq}"
