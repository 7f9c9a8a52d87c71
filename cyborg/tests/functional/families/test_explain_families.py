"""Explain on a host discovered from a fake sysfs tree: a QAT 4xxx host
whose PFs offer different services (crypto, compression, both), reported
by the real agent, asked of the real conductor over RPC 1.4, answered
against the real Placement.
"""

from cyborg import context as cyborg_context
from cyborg.tests.fixtures import sysfs_families as families


def test_explain_a_qat_4xxx_host(family_host, sysfs_tree):
    qat = families.build_4xxx_host(sysfs_tree)
    crypto, compression, whole, _down = qat.pfs
    family_host.start_agent(['intel_qat_driver'])
    ctx = cyborg_context.get_admin_context()

    dc, asym, no_dc, whole_two = family_host.conductor_api.explain_groups(
        ctx, [{'resources:CUSTOM_QAT': '1', 'trait:CUSTOM_QAT_DC': 'required'},
              {'resources:CUSTOM_QAT': '1',
               'trait:CUSTOM_QAT_ASYM': 'required',
               'trait:CUSTOM_QAT_SYM': 'forbidden'},
              {'resources:CUSTOM_QAT': '1', 'trait:CUSTOM_QAT_DC': 'forbidden',
               'trait:CUSTOM_QAT_SYM': 'forbidden'},
              {'resources:CUSTOM_QAT': '2', 'trait:CUSTOM_QAT_DC': 'required',
               'trait:CUSTOM_QAT_SYM': 'required'}])

    # Compression: the compression PF's 16 VFs and the whole PF.
    assert dc['summary'] == 'schedulable: 2 of 2 matching providers have room'
    assert sorted(p['provider_uuid'] for p in dc['providers']) == sorted(
        family_host.provider_uuid(pf) for pf in (compression, whole))
    assert dc['placement'] == {'candidates': 2, 'error': None}
    assert {p['capacity'] for p in dc['providers']} == {16, 1}
    # Asymmetric crypto is only on the crypto PF, which also does sym.
    assert asym['summary'] == ('every provider of resource class CUSTOM_QAT '
                               'has forbidden trait CUSTOM_QAT_SYM')
    # No PF offers neither service: each forbidden trait alone leaves one.
    assert no_dc['summary'] == (
        'every provider of resource class CUSTOM_QAT has one of the '
        'forbidden traits CUSTOM_QAT_DC, CUSTOM_QAT_SYM')
    # The whole PF is one accelerator: two do not fit on it.
    assert whole_two['summary'] == 'all 1 matching providers are full'
    assert whole_two['providers'][0]['provider_uuid'] == (
        family_host.provider_uuid(whole))

    # Its one accelerator bound: one group's provider fills up.
    family_host.bind(whole, [{'resources:CUSTOM_QAT': '1'}])
    [dc] = family_host.conductor_api.explain_groups(ctx, [
        {'resources:CUSTOM_QAT': '1', 'trait:CUSTOM_QAT_DC': 'required'}])
    assert dc['summary'] == 'schedulable: 1 of 2 matching providers have room'
    [full] = [p for p in dc['providers'] if not p['has_room']]
    assert (full['provider_uuid'], full['used'], full['cause']) == (
        family_host.provider_uuid(whole), 1, 'full')
