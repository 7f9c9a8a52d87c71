"""Fixtures of the device context tests: the whole service in-process
(see cloud), with the contexts' lifetimes short enough to watch."""

import pytest

from cyborg.tests.fixtures import binding as binding_fixtures
from cyborg.tests.fixtures import cloud as cloud_fixture

bind_conf = binding_fixtures.bind_conf
stub_glance = binding_fixtures.stub_glance
stub_nova = binding_fixtures.stub_nova
transport = binding_fixtures.transport
cloud = cloud_fixture.cloud

# Seconds: long enough for the steps of a test, short enough to wait out.
RELEASE_GRACE = 2
UNUSED_EXPIRY = 1


@pytest.fixture
def short_grace(bind_conf):
    """A short [device_contexts] release_grace, and a purge every second.

    Ask for it before ``cloud``, so the services start with it.
    """
    bind_conf.set_override('release_grace', RELEASE_GRACE,
                           group='device_contexts')
    bind_conf.set_override('purge_interval', 1, group='device_contexts')
    return bind_conf


@pytest.fixture
def short_expiry(short_grace):
    """As short_grace, and unused contexts expire within a second too."""
    short_grace.set_override('unused_expiry', UNUSED_EXPIRY,
                             group='device_contexts')
    return short_grace
