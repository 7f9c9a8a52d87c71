"""Fixtures of the binding tests (defined in cyborg.tests.fixtures.binding)."""

from cyborg.tests.fixtures import binding as binding_fixtures

# The shared fixtures, made visible to the tests of this directory.
bind_conf = binding_fixtures.bind_conf
rpc_servers = binding_fixtures.rpc_servers
stub_glance = binding_fixtures.stub_glance
stub_nova = binding_fixtures.stub_nova
transport = binding_fixtures.transport
