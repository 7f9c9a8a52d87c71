"""Fixtures of the os_acc tests: the whole service in-process (see cloud)."""

from cyborg.tests.fixtures import binding as binding_fixtures
from cyborg.tests.fixtures import cloud as cloud_fixture

bind_conf = binding_fixtures.bind_conf
stub_glance = binding_fixtures.stub_glance
stub_nova = binding_fixtures.stub_nova
transport = binding_fixtures.transport
cloud = cloud_fixture.cloud
