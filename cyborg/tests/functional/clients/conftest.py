"""Fixtures of the client tests: the whole service in-process (see cloud),
driven by the clients operators and Nova use."""

from cyborg.tests.fixtures import binding as binding_fixtures
from cyborg.tests.fixtures import cloud as cloud_fixture

bind_conf = binding_fixtures.bind_conf
stub_glance = binding_fixtures.stub_glance
stub_nova = binding_fixtures.stub_nova
transport = binding_fixtures.transport
cloud = cloud_fixture.cloud
