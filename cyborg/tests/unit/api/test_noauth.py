"""The noauth middleware builds identity like Keystone would."""

from cyborg.api import app as api_app


def _environ_after(environ):
    seen = {}

    def inner(env, start_response):
        seen.update(env)
        return []

    api_app.NoAuthMiddleware(inner)(environ, None)
    return seen


def test_no_roles_header_means_admin_with_implied_roles():
    env = _environ_after({})
    assert env['HTTP_X_ROLES'].split(',') == ['admin', 'member', 'manager',
                                              'reader']


def test_member_implies_reader_only():
    env = _environ_after({'HTTP_X_ROLES': 'member'})
    assert env['HTTP_X_ROLES'] == 'member,reader'


def test_tenant_id_names_the_project():
    env = _environ_after({'HTTP_X_TENANT_ID': 'p1', 'HTTP_X_ROLES': 'reader'})
    assert env['HTTP_X_PROJECT_ID'] == 'p1'


def test_no_identity_at_all_is_an_admin_with_a_service_token():
    # What lets Nova, openstacksdk and the CLI bind against the
    # all-in-one service without sending any identity.
    env = _environ_after({})
    assert env['HTTP_X_PROJECT_ID'] == 'admin'
    assert env['HTTP_X_SERVICE_ROLES'] == 'service'


def test_sent_identity_is_honoured_without_a_service_token():
    env = _environ_after({'HTTP_X_ROLES': 'admin'})
    assert 'HTTP_X_SERVICE_ROLES' not in env
    env = _environ_after({'HTTP_X_PROJECT_ID': 'p1'})
    assert 'HTTP_X_SERVICE_ROLES' not in env


def test_sent_service_roles_are_kept():
    env = _environ_after({'HTTP_X_SERVICE_ROLES': 'other',
                          'HTTP_X_ROLES': 'member'})
    assert env['HTTP_X_SERVICE_ROLES'] == 'other'
