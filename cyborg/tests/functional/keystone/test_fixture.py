"""A Keystone that cannot start says why (the reason tests skip with, or
fail with under CI), and leaves no process behind."""

import pytest

from cyborg.tests.fixtures import keystone as keystone_fixture


def test_a_keystone_that_cannot_start_says_why(tmp_path):
    keystone = keystone_fixture.Keystone(
        tmp_path, database_url='sqlite:///%s' % (tmp_path / 'no' / 'ks.db'))
    with pytest.raises(keystone_fixture.KeystoneUnavailable) as raised:
        keystone.start()
    reason = str(raised.value)
    assert reason.startswith('keystone-manage db_sync exited 1: ')
    assert reason.endswith('unable to open database file')
    assert not keystone.running
