"""Who sees what, and who may change what: the one place where tenancy is applied.

An official sees only their districts' data, an enterprise member only their
enterprise's, a platform operator only their platform's. Each scoped model
declares how its rows relate to those organisations with a ``scope_q(scope)``
class method; :func:`scoped` applies it. A model without ``scope_q`` shows
nothing to anyone but a superuser, so a new model is closed until it says
otherwise.

Roles count only in the district where they are held (DESIGN.md, Tenancy):

- every object belongs to one district, its *owner* (:func:`owner_district_id`):
  a program's district, a voucher's program's district, an enterprise's
  registration district (USCC characters 3–8, the most specific district of
  the platform that covers them);
- a permission on an object (:func:`has_object_perm`, which
  ``user.has_perm(perm, obj)`` answers through :class:`~accounts.backends.RoleBackend`)
  is granted only by the roles the user holds in the object's owner district;
- reading is wider: an auditor of a parent district reads (never changes) its
  child districts' data, and a district reads (never changes) an enterprise
  registered elsewhere while it has business there (an application or a
  voucher of one of its programs).

``user.has_perm(perm)`` without an object still answers "somewhere" (the
admin uses it to show a menu entry or an "add" button); whatever acts on an
object asks with the object, and whatever offers a choice of district
(:func:`districts_with_perm`) offers only the districts where the role is held.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from django.db.models import BigIntegerField, CharField, ForeignKey, Model, Q, QuerySet, Value

from .divisions import locality_code, within_q
from .models import District, Enterprise, Membership
from .roles import permissions_for_roles

M = TypeVar("M", bound=Model)

Role = Membership.Role


@dataclass(frozen=True)
class Scope:
    """The organisations a user belongs to, by kind and role."""

    user_id: int | None
    is_superuser: bool
    #: The roles held, district by district (memberships).
    district_roles: dict[int, frozenset[str]]
    district_prefixes: tuple[str, ...]
    enterprise_roles: dict[int, frozenset[str]]
    platform_ids: frozenset[int]
    #: Districts under a district where the user is an auditor: read, never changed.
    audited_district_ids: frozenset[int] = field(default_factory=frozenset)
    #: Districts that engaged the user as an assessor. This grants no reading of
    #: the district's data: an assessor sees only what is assigned to them.
    assessor_district_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def district_ids(self) -> frozenset[int]:
        """Every district whose data the user reads: where they hold a role,
        and the child districts of those where they are an auditor."""
        return frozenset(self.district_roles) | self.audited_district_ids

    @property
    def held_district_ids(self) -> frozenset[int]:
        """The districts where the user holds a role themselves."""
        return frozenset(self.district_roles)

    @property
    def enterprise_ids(self) -> frozenset[int]:
        return frozenset(self.enterprise_roles)

    @property
    def admin_enterprise_ids(self) -> frozenset[int]:
        return frozenset(
            pk
            for pk, roles in self.enterprise_roles.items()
            if Membership.Role.ENTERPRISE_ADMIN in roles
        )

    def districts_with_role(self, *roles: str) -> frozenset[int]:
        """District ids where the user holds any of ``roles``."""
        return frozenset(pk for pk, held in self.district_roles.items() if held & set(roles))

    def has_district_role(self, district_id: int | None, *roles: str) -> bool:
        """True when the user holds one of ``roles`` in that very district."""
        if self.is_superuser:
            return True
        if district_id is None:
            return False
        return bool(self.district_roles.get(district_id, frozenset()) & set(roles))

    def roles_in(self, district_id: int | None, *, reading: bool = False) -> frozenset[str]:
        """The roles that count in ``district_id``: those held there, and, for
        reading only, the auditor's role of a parent district."""
        if district_id is None:
            return frozenset()
        roles = self.district_roles.get(district_id, frozenset())
        if reading and district_id in self.audited_district_ids:
            roles = roles | {Role.AUDITOR}
        return roles


EMPTY_SCOPE = Scope(
    user_id=None,
    is_superuser=False,
    district_roles={},
    district_prefixes=(),
    enterprise_roles={},
    platform_ids=frozenset(),
)


#: The marker of a district read as a parent district's auditor (no membership).
_INHERITED = "~inherited_auditor"


def _rows(user: Any) -> QuerySet[Any]:
    """The user's memberships as (role, district, district code, enterprise,
    platform), and, in the same query, the districts under those where the
    user is an auditor (up to three levels: province, city, county)."""
    memberships = (
        Membership.objects.filter(user=user)
        .order_by()
        .values_list("role", "district_id", "district__code", "enterprise_id", "platform_id")
    )
    under_audit = Q(pk__in=[])
    for depth in (1, 2, 3):
        via = "__".join(["parent"] * depth)
        under_audit |= Q(
            **{f"{via}__memberships__user": user, f"{via}__memberships__role": Role.AUDITOR}
        )
    inherited = (
        District.objects.filter(under_audit)
        .annotate(
            m_role=Value(_INHERITED, output_field=CharField()),
            m_enterprise=Value(None, output_field=BigIntegerField()),
            m_platform=Value(None, output_field=BigIntegerField()),
        )
        .order_by()
        .values_list("m_role", "pk", "code", "m_enterprise", "m_platform")
    )
    return memberships.union(inherited, all=True)


def scope_for(user: Any) -> Scope:
    """Return the user's scope, computed once per user object (one query)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY_SCOPE
    cached = getattr(user, "_scope_cache", None)
    if cached is not None:
        return cached
    district_roles: dict[int, set[str]] = {}
    prefixes: list[str] = []
    enterprise_roles: dict[int, set[str]] = {}
    platform_ids: set[int] = set()
    audited: set[int] = set()
    assessing: set[int] = set()
    for role, district_id, code, enterprise_id, platform_id in _rows(user):
        if role == _INHERITED:
            audited.add(district_id)
        elif role == Role.ASSESSOR:
            assessing.add(district_id)
        elif district_id is not None:
            district_roles.setdefault(district_id, set()).add(role)
            prefixes.append(District(code=code).division_prefix)
        elif enterprise_id is not None:
            enterprise_roles.setdefault(enterprise_id, set()).add(role)
        elif platform_id is not None:
            platform_ids.add(platform_id)
    scope = Scope(
        user_id=user.pk,
        is_superuser=bool(user.is_superuser),
        district_roles={k: frozenset(v) for k, v in district_roles.items()},
        district_prefixes=tuple(sorted(set(prefixes))),
        enterprise_roles={k: frozenset(v) for k, v in enterprise_roles.items()},
        platform_ids=frozenset(platform_ids),
        audited_district_ids=frozenset(audited),
        assessor_district_ids=frozenset(assessing),
    )
    user._scope_cache = scope
    return scope


def scoped(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Restrict ``queryset`` to the rows ``user`` may see."""
    scope = scope_for(user)
    if scope.is_superuser:
        return queryset
    if scope.user_id is None:
        return queryset.none()
    scope_q = getattr(queryset.model, "scope_q", None)
    if scope_q is None:
        return queryset.none()
    return queryset.filter(scope_q(scope))


def scoped_for_perms(queryset: QuerySet[M], user: Any, *perms: str) -> QuerySet[M]:
    """The rows of ``queryset`` that the user sees through the districts where
    they hold a role granting one of ``perms`` (what a form may offer for
    that work: Wuhan's programs and rule sets, the enterprises registered or
    doing business in Wuhan, the platforms serving Wuhan), not through roles
    held elsewhere nor through enterprise or platform memberships."""
    scope = scope_for(user)
    if scope.is_superuser:
        return queryset
    if scope.user_id is None:
        return queryset.none()
    districts = districts_with_perm(user, *perms)
    narrowed = replace(
        scope,
        district_roles={k: v for k, v in scope.district_roles.items() if k in districts},
        audited_district_ids=frozenset(d for d in scope.audited_district_ids if d in districts),
        enterprise_roles={},
        platform_ids=frozenset(),
    )
    scope_q = getattr(queryset.model, "scope_q", None)
    if scope_q is None or not districts:
        return queryset.none()
    return queryset.filter(scope_q(narrowed))


# --- Which district an object belongs to --------------------------------------


def _candidates(division_code: str) -> list[str]:
    """The district codes that could cover ``division_code``, most specific first."""
    code = (division_code or "")[:6]
    if len(code) != 6 or not code.isdigit():
        return []
    # A code abolished or renumbered since registration counts where its
    # successor lies (GB/T 2260, accounts.divisions).
    code = locality_code(code)
    return list(dict.fromkeys([code, code[:4] + "00", code[:2] + "0000"]))


def home_district_id(division_code: str) -> int | None:
    """The district an enterprise registered under ``division_code`` belongs to:
    the most specific district of the platform whose code covers it (Jianghan
    for 420103, Wuhan for 420102 while Jiang'an has no district of its own)."""
    candidates = _candidates(division_code)
    found = dict(District.objects.filter(code__in=candidates).values_list("code", "pk"))
    for code in candidates:
        if code in found:
            return found[code]
    return None


def enterprise_home_q(district_ids: frozenset[int] | set[int], prefix: str = "") -> Q:
    """Enterprises (reached through ``prefix``) whose registration district is
    one of ``district_ids``: inside the district's division, and not inside a
    more specific district of the platform."""
    if not district_ids:
        return Q(pk__in=[])
    owners = list(District.objects.filter(pk__in=district_ids).values_list("code", flat=True))
    prefixes = [District(code=code).division_prefix for code in owners]
    inside = Q()
    for p in prefixes:
        inside |= Q(code__startswith=p)
    nested = [
        District(code=code).division_prefix
        for code in District.objects.filter(inside)
        .exclude(pk__in=district_ids)
        .values_list("code", flat=True)
    ]
    q = Q(pk__in=[])
    code_field = f"{prefix}division_code"
    for p in prefixes:
        # within_q: a historical code counts where its successor lies.
        term = within_q(p, field=code_field)
        for n in nested:
            if n.startswith(p) and n != p:
                term &= ~within_q(n, field=code_field)
        q |= term
    return q


def enterprise_business_q(district_ids: frozenset[int] | set[int]) -> Q:
    """Enterprises with business in ``district_ids``: an application past its
    draft, or a voucher, under one of their programs. (The relations are
    named by string: accounts imports no other app.)"""
    if not district_ids:
        return Q(pk__in=[])
    applications = Enterprise._meta.get_field("applications").related_model
    vouchers = Enterprise._meta.get_field("vouchers").related_model
    return Q(
        pk__in=applications._default_manager.filter(program__district__in=district_ids)
        .exclude(status="draft")
        .values("enterprise_id")
    ) | Q(
        pk__in=vouchers._default_manager.filter(program__district__in=district_ids).values(
            "enterprise_id"
        )
    )


#: Relations followed, in this order, to find an object's district.
_SKIPPED = {"enterprise", "platform", "user", "actor", "actor_user"}


@functools.cache
def district_path(model: type[Model]) -> str | None:
    """The lookup from ``model`` to its owner district's id ("district",
    "program__district", …), or None when its rows belong to no district.

    A model may say it itself with a ``tenancy_district_path`` attribute;
    otherwise a ``district`` field, else the first foreign key that leads to
    one (a voucher's program, a ledger entry's voucher) is followed.
    """
    explicit = getattr(model, "tenancy_district_path", None)
    if explicit is not None:
        return str(explicit) or None
    if model is District:
        return "pk"
    if model is Enterprise:
        return None
    names = {f.name: f for f in model._meta.concrete_fields}
    district = names.get("district")
    if isinstance(district, ForeignKey) and district.related_model is District:
        return "district"
    if "district_id" in names and not isinstance(names["district_id"], ForeignKey):
        return "district_id"
    for f in model._meta.concrete_fields:
        if not isinstance(f, ForeignKey) or f.name in _SKIPPED or f.related_model is model:
            continue
        related = f.related_model
        if not isinstance(related, type) or related in (Enterprise,):
            continue
        sub = district_path(related)
        if sub is None:
            continue
        return f.name if sub == "pk" else f"{f.name}__{sub}"
    return None


def owner_district_id(obj: Any) -> int | None:
    """The id of the district ``obj`` belongs to (None: no district's)."""
    if obj is None:
        return None
    if isinstance(obj, District):
        return obj.pk
    if isinstance(obj, Enterprise):
        return home_district_id(obj.uscc[2:8] if obj.uscc else "")
    path = district_path(type(obj))  # type: ignore[arg-type]  # a model class is hashable
    if path is None:
        return None
    if path == "pk":
        return obj.pk
    value: Any = obj
    *via, last = path.split("__")
    for name in via:
        value = getattr(value, name, None)
        if value is None:
            return None
    if last == "district_id" or last == "pk":
        result = getattr(value, last, None)
    else:
        result = getattr(value, f"{last}_id", None)
    return result if isinstance(result, int) else None


def reader_district_ids(obj: Any) -> frozenset[int]:
    """Districts that read ``obj`` besides its owner: those an enterprise has
    business with (an application or a voucher there)."""
    if isinstance(obj, Enterprise) and obj.pk is not None:
        applications = Enterprise._meta.get_field("applications").related_model
        vouchers = Enterprise._meta.get_field("vouchers").related_model
        ids = set(
            applications._default_manager.filter(enterprise=obj)
            .exclude(status="draft")
            .values_list("program__district_id", flat=True)
        )
        ids |= set(
            vouchers._default_manager.filter(enterprise=obj).values_list(
                "program__district_id", flat=True
            )
        )
        return frozenset(ids)
    return frozenset()


def owned_by(queryset: QuerySet[M], district_ids: frozenset[int] | set[int]) -> QuerySet[M]:
    """The rows of ``queryset`` whose owner district is one of ``district_ids``."""
    model = queryset.model
    if model is Enterprise:
        return queryset.filter(enterprise_home_q(district_ids))
    path = district_path(model)
    if path is None:
        return queryset.none()
    return queryset.filter(**{f"{path}__in": list(district_ids)})


# --- Permissions, district by district ------------------------------------------


def _is_reading(perm: str) -> bool:
    return perm.partition(".")[2].startswith("view_")


def has_district_perm(user: Any, perm: str, district_id: int | None) -> bool:
    """True when a role ``user`` holds in ``district_id`` grants ``perm``
    ("app_label.codename"); a view permission also comes from the auditor's
    role in a parent district. Superusers always; nobody in no district."""
    if user is None or not getattr(user, "is_active", False):
        return False
    scope = scope_for(user)
    if scope.is_superuser:
        return True
    roles = scope.roles_in(district_id, reading=_is_reading(perm))
    return perm in permissions_for_roles(set(roles))


def districts_with_perm(user: Any, *perms: str) -> frozenset[int]:
    """The districts where ``user`` holds a role granting any of ``perms``
    (what a form may offer: a district, or a program of it)."""
    scope = scope_for(user)
    return frozenset(
        pk for pk in scope.district_ids if any(has_district_perm(user, perm, pk) for perm in perms)
    )


def has_object_perm(user: Any, perm: str, obj: Any) -> bool:
    """True when ``user`` may ``perm`` on ``obj``: the role must be held in
    the object's own district (for reading also: a parent's auditor, or a
    district the enterprise has business with). An object of no district
    (a platform, a user) is the superusers' to change; reading it is decided
    by its scope alone."""
    if user is None or not getattr(user, "is_active", False):
        return False
    scope = scope_for(user)
    if scope.is_superuser:
        return True
    owner = owner_district_id(obj)
    reading = _is_reading(perm)
    if owner is None and not isinstance(obj, Enterprise):
        if not reading or scope.user_id is None:
            return False
        model = type(obj)
        return (
            perm
            in permissions_for_roles({r for roles in scope.district_roles.values() for r in roles})
            and scoped(model._default_manager.filter(pk=obj.pk), user).exists()
        )
    if has_district_perm(user, perm, owner):
        return True
    if reading:
        return any(has_district_perm(user, perm, d) for d in reader_district_ids(obj))
    return False
