"""Parsing of OpenStack-API-Version values (cyborg.api.microversion)."""

import pytest

from cyborg.api import errors
from cyborg.api import microversion


@pytest.mark.parametrize('header, expected', [
    (None, (2, 0)),
    ('accelerator 2.1', (2, 1)),
    ('accelerator latest', (2, 8)),
    ('accelerator 2.4', (2, 4)),
    ('accelerator 2.5', (2, 5)),
    ('accelerator 2.6', (2, 6)),
    ('accelerator 2.7', (2, 7)),
    ('accelerator 2.8', (2, 8)),
    ('compute 2.90, accelerator 2.2', (2, 2)),
    ('2.3', (2, 3)),
    ('compute 2.1', (2, 0)),
])
def test_accepted_versions(header, expected):
    assert tuple(microversion.parse(header)) == expected


@pytest.mark.parametrize('header', [
    'accelerator 2.9', 'accelerator 3.0', 'accelerator 1.0',
    'accelerator two', 'banana', '2.99'])
def test_unacceptable_versions_are_406(header):
    with pytest.raises(errors.NotAcceptable):
        microversion.parse(header)


def test_matches_is_inclusive_from_the_minimum():
    assert microversion.parse('accelerator 2.2').matches((2, 2))
    assert not microversion.parse('accelerator 2.1').matches((2, 2))


def test_versions_list_is_ordered_and_contiguous():
    minors = [int(v.split('.')[1]) for v in microversion.VERSIONS]
    assert minors == list(range(len(minors)))
