"""Which released handles are scrubbed: [agent] scrub_on_release."""

import pytest

from cyborg.accelerator import scrub_policy


def test_fpga_and_gpu_are_scrubbed_by_default(conf):
    policy = scrub_policy.ScrubPolicy.from_conf(conf)
    assert policy.listed == frozenset({'fpga', 'gpu'})
    # The fake driver (an FPGA) can scrub; it is installed here.
    assert 'fake' in policy.scrubbable
    assert policy.applies('fake', 'FPGA')
    assert not policy.applies('fake', 'QAT')


@pytest.mark.parametrize('listed, driver, device_type, applies', [
    (['fake'], 'FAKE', 'QAT', True),      # by driver name, any case
    (['qat'], 'fake', 'QAT', True),       # by device type
    ([], 'fake', 'FPGA', False),          # empty: never scrub
    (['FPGA'], 'plain', 'FPGA', False),   # listed, but cannot scrub
    (['plain'], 'plain', 'FPGA', False),
])
def test_listed_and_able_to_scrub(conf, listed, driver, device_type,
                                  applies):
    conf.set_override('scrub_on_release', listed, group='agent')
    policy = scrub_policy.ScrubPolicy.from_conf(conf)
    assert policy.applies(driver, device_type) is applies


def test_only_drivers_with_the_capability_can_scrub():
    import importlib.metadata

    from cyborg.accelerator.drivers import base
    names = scrub_policy.scrubbable_driver_names()
    assert 'fake' in names
    for entry_point in importlib.metadata.entry_points(group=base.NAMESPACE):
        driver_class = entry_point.load()
        if not issubclass(driver_class, base.Scrubbable):
            # Unless another driver of that name scrubs (several share
            # "intel", "INSPUR").
            assert str(driver_class.driver_name).lower() not in names or any(
                issubclass(other.load(), base.Scrubbable)
                and str(other.load().driver_name).lower()
                == str(driver_class.driver_name).lower()
                for other in importlib.metadata.entry_points(
                    group=base.NAMESPACE))
