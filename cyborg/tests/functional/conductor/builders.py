"""Builders of discovery reports and DB rows for the conductor's tests."""

import uuid

import sqlalchemy as sa

from cyborg.accelerator import discovery
from cyborg.db import models


def pci_device(host, address, num=1, rc='FPGA', traits=('CUSTOM_FAKE',),
               attributes=None, device_type='FPGA', handles=None,
               name=None, stub=False):
    """One device with one deployable named ``<host>_<address>``.

    ``handles`` defaults to ``num`` TEST_PCI functions of the device.
    """
    cpid = discovery.pci_address_dict(address)
    if handles is None:
        handles = [discovery.AttachHandle(
            'TEST_PCI', dict(cpid, function=str(fn))) for fn in range(num)]
    deployable = discovery.Deployable(
        name=name or '%s_%s' % (host, address), num_accelerators=num,
        driver_name='fake', resource_class=rc, traits=list(traits),
        attributes=dict(attributes or {}), attach_handles=handles)
    return discovery.Device(
        type=device_type, vendor='0xabcd', model='model-1',
        controlpath=discovery.ControlPath('PCI', cpid),
        deployables=[deployable], stub=stub)


def table_count(engine, model, **where):
    table = model.__table__
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def rows(engine, model, **where):
    table = model.__table__
    query = sa.select(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with engine.connect() as conn:
        return list(conn.execute(query))


def add_arq(engine, deployable_id=None, attach_handle_id=None,
            state='Bound'):
    """Insert a device profile and an ARQ holding a deployable/handle."""
    with engine.begin() as conn:
        profile = str(uuid.uuid4())
        conn.execute(sa.insert(models.DeviceProfile.__table__).values(
            uuid=profile, name='dp-%s' % profile, profile_json='{}'))
        profile_id = conn.execute(
            sa.select(models.DeviceProfile.__table__.c.id).where(
                models.DeviceProfile.__table__.c.uuid == profile)).scalar()
        arq_uuid = str(uuid.uuid4())
        conn.execute(sa.insert(
            models.ExtendedAcceleratorRequest.__table__).values(
            uuid=arq_uuid, state=state, device_profile_id=profile_id,
            deployable_id=deployable_id, attach_handle_id=attach_handle_id))
    return arq_uuid


def delete_arq(engine, arq_uuid):
    table = models.ExtendedAcceleratorRequest.__table__
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.uuid == arq_uuid))


def deployable_row(engine, name):
    found = rows(engine, models.Deployable, name=name)
    return found[0] if found else None
