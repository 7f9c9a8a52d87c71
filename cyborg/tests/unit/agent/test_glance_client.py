"""The Glance client against a stub Image API v2 on loopback."""

import uuid

import pytest

from cyborg.clients import glance
from cyborg import exception
from cyborg.tests.fixtures import glance as glance_fixture


@pytest.fixture
def client(conf, stub_glance):
    return glance.GlanceClient.from_conf(conf)


def test_get_image_separates_custom_properties(client, stub_glance):
    image = stub_glance.add_image(
        b'data', properties={'accel:function_id': 'f00d', 'vendor': 'acme'})

    assert client.get_image(image['id']) == {
        'id': image['id'], 'name': image['name'], 'status': 'active',
        'checksum': image['checksum'], 'os_hash_algo': 'sha512',
        'os_hash_value': image['os_hash_value'],
        'properties': {'accel:function_id': 'f00d', 'vendor': 'acme'}}


def test_get_image_of_an_unknown_id_is_not_found(client):
    missing = str(uuid.uuid4())

    with pytest.raises(exception.ImageNotFound, match=missing):
        client.get_image(missing)


def test_find_by_function_id_follows_every_page(client, stub_glance):
    stub_glance.page_size = 1
    wanted = {stub_glance.add_image(b'a', {'accel:function_id': 'f1'})['id'],
              stub_glance.add_image(b'b', {'accel:function_id': 'f1'})['id']}
    stub_glance.add_image(b'c', {'accel:function_id': 'f2'})

    images = client.find_images_by_function_id('f1')

    assert {image['id'] for image in images} == wanted
    assert all(image['properties'] == {'accel:function_id': 'f1'}
               for image in images)
    assert client.find_images_by_function_id('nope') == []


def test_download_writes_the_data(client, stub_glance, tmp_path):
    image = stub_glance.add_image(b'\x00bitstream\xff' * 1000)
    path = tmp_path / 'image.gbs'

    client.download(image['id'], str(path))

    assert path.read_bytes() == b'\x00bitstream\xff' * 1000


def test_download_of_an_image_without_data_is_not_found(client, stub_glance,
                                                        tmp_path):
    image = stub_glance.add_image(b'')

    with pytest.raises(exception.ImageNotFound, match='has no data'):
        client.download(image['id'], str(tmp_path / 'image.gbs'))


def test_download_gives_up_after_its_retries(client, stub_glance, tmp_path):
    image = stub_glance.add_image(b'data')
    stub_glance.failing_downloads = 2

    with pytest.raises(exception.ServiceUnavailable, match='HTTP 503'):
        client.download(image['id'], str(tmp_path / 'image.gbs'),
                        num_retries=1)

    assert stub_glance.downloads_of(image['id']) == 2


def test_a_versioned_catalog_endpoint_is_used_without_its_version(
        conf, stub_glance):
    glance_fixture.configure(conf, stub_glance.endpoint + '/v2/')
    image = stub_glance.add_image(b'data')

    client = glance.GlanceClient.from_conf(conf)

    assert client.get_image(image['id'])['id'] == image['id']
    assert stub_glance.requests[-1] == ('GET', '/v2/images/%s' % image['id'])


def test_an_unreachable_glance_is_unavailable(conf, stub_glance):
    stub_glance.stop()
    client = glance.GlanceClient.from_conf(conf)

    with pytest.raises(exception.ServiceUnavailable,
                       match='the image service could not be reached'):
        client.get_image(str(uuid.uuid4()))


def test_no_image_service_configured_is_unavailable(tmp_path):
    # [glance] with neither an endpoint nor credentials (the all-in-one
    # service): a clear ServiceUnavailable, not keystoneauth's error.
    from cyborg.tests.fixtures import config as config_fixture
    client = glance.GlanceClient.from_conf(config_fixture.make_conf(tmp_path))

    with pytest.raises(exception.ServiceUnavailable,
                       match='no image service is configured'):
        client.get_image(str(uuid.uuid4()))
