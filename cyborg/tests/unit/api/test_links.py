"""Hrefs resolve where the API is mounted (cyborg.api.links)."""

import webob

from cyborg.api import links


def test_base_url_keeps_the_script_name():
    # Mounted under /accelerator by uwsgi or Apache, as devstack does.
    req = webob.Request.blank('/v2/devices', base_url='http://ctl/accelerator')
    assert links.base_url(req) == 'http://ctl/accelerator'
    assert links.self_links(links.base_url(req), 'devices', 'u1') == [
        {'href': 'http://ctl/accelerator/v2/devices/u1', 'rel': 'self'}]


def test_base_url_at_the_root_of_a_port():
    req = webob.Request.blank('/v2', base_url='http://ctl:6666')
    assert links.base_url(req) == 'http://ctl:6666'


def test_public_endpoint_wins_and_loses_its_trailing_slash():
    req = webob.Request.blank('/v2', base_url='http://internal:6666')
    assert links.base_url(req, 'https://cloud/accel/') == 'https://cloud/accel'


def test_bookmark_link_has_no_version():
    assert links.self_and_bookmark_links('http://h', 'deployables', 'u')[1] == {
        'href': 'http://h/deployables/u', 'rel': 'bookmark'}


def test_next_href_carries_the_query():
    href = links.next_href('http://h', 'devices', {'type': 'GPU'}, 'm', 2)
    assert href == 'http://h/v2/devices?limit=2&marker=m&type=GPU'
