"""A small world for the tests of who may see and do what: two districts X
(Jianghan, under Wuhan) and Y (Guiyang) with enterprises, platforms, programs
and one person per role. It spans accounts, programs and the audit log, so it
lives beside the apps' factories rather than in one of them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.models import ComputePlatform, District, Enterprise, User
from audit.services import Actor, audit_record
from programs.models import PhaseStep, Program
from tests.accounts.factories import (
    ComputePlatformFactory,
    DistrictFactory,
    EnterpriseFactory,
    Role,
    UserFactory,
    enterprise_user,
    membership,
    official,
    platform_operator,
)
from tests.programs.factories import ProgramFactory

YEAR = datetime.timedelta(days=365)


@dataclass
class World:
    wuhan: District
    jianghan: District
    guiyang: District
    ent_jianghan: Enterprise
    ent_jiangan: Enterprise
    ent_guiyang: Enterprise
    platform_x: ComputePlatform
    platform_y: ComputePlatform
    platform_national: ComputePlatform
    prog_jianghan: Program
    prog_wuhan: Program
    prog_guiyang: Program
    official_x: User
    official_wuhan: User
    official_y: User
    ent_admin_x: User
    ent_member_x: User
    ent_admin_y: User
    operator_x: User
    operator_y: User
    superuser: User
    finance_x: User


def build_world() -> World:
    """Two districts X (Jianghan, under Wuhan) and Y (Guiyang), with enterprises
    registered in each, platforms, programs and one person per role."""
    wuhan = DistrictFactory(code="420100", name="武汉市", name_en="Wuhan")
    jianghan = DistrictFactory(code="420103", name="江汉区", name_en="Jianghan", parent=wuhan)
    guiyang = DistrictFactory(code="520100", name="贵阳市", name_en="Guiyang")
    # Awaiting verification: the admin tests verify and suspend them.
    pending = Enterprise.Status.PENDING
    ent_jianghan = EnterpriseFactory(division="420103", name="江汉企业", status=pending)
    # Jiang'an District (420102): inside Wuhan, not inside Jianghan.
    ent_jiangan = EnterpriseFactory(division="420102", name="江岸企业", status=pending)
    ent_guiyang = EnterpriseFactory(division="520115", name="贵阳企业", status=pending)
    platform_x = ComputePlatformFactory(slug="x-platform")
    platform_x.districts_served.set([jianghan])
    platform_y = ComputePlatformFactory(slug="y-platform")
    platform_y.districts_served.set([guiyang])
    platform_national = ComputePlatformFactory(slug="national", on_national_list=True)
    w = World(
        wuhan=wuhan,
        jianghan=jianghan,
        guiyang=guiyang,
        ent_jianghan=ent_jianghan,
        ent_jiangan=ent_jiangan,
        ent_guiyang=ent_guiyang,
        platform_x=platform_x,
        platform_y=platform_y,
        platform_national=platform_national,
        prog_jianghan=ProgramFactory(district=jianghan, total_budget=Decimal("10000000.00")),
        prog_wuhan=ProgramFactory(district=wuhan, total_budget=Decimal("10000000.00")),
        prog_guiyang=ProgramFactory(district=guiyang, total_budget=Decimal("10000000.00")),
        official_x=official(jianghan, email="official@jianghan.test"),
        official_wuhan=official(wuhan, email="official@wuhan.test"),
        official_y=official(guiyang, role=Role.AUDITOR, email="official@guiyang.test"),
        ent_admin_x=enterprise_user(ent_jianghan, email="admin@ent-x.test"),
        ent_member_x=enterprise_user(
            ent_jianghan, role=Role.ENTERPRISE_MEMBER, email="member@ent-x.test"
        ),
        ent_admin_y=enterprise_user(ent_guiyang, email="admin@ent-y.test"),
        operator_x=platform_operator(platform_x, email="operator@x.test"),
        operator_y=platform_operator(platform_y, email="operator@y.test"),
        superuser=UserFactory(email="root@platform.test", is_superuser=True),
        finance_x=official(jianghan, role=Role.FINANCE_OFFICER, email="finance@jianghan.test"),
    )
    membership(w.official_x, Role.REVIEWER, jianghan)
    for program in (w.prog_jianghan, w.prog_guiyang):
        PhaseStep.objects.create(
            program=program, starts_on=timezone.localdate() + 4 * YEAR, rate=Decimal("0")
        )
    audit_record(
        actor=Actor.system("test"), event_type="test.event", obj=None, district_id=jianghan.pk
    )
    return w
