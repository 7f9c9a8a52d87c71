"""Sphinx configuration of the v2 API reference (``tox -e api-ref``).

The pages use os-api-ref's directives: ``rest_method`` (one per route of
``cyborg/api/routes.py``; a test keeps the two equal), ``rest_parameters``
(from ``parameters.yaml``) and ``rest_status_code`` (from
``status.yaml``). The samples under ``samples/`` are checked against the
live API by ``cyborg/tests/functional/docs/test_api_samples.py``.
"""

extensions = [
    'os_api_ref',
    'openstackdocstheme',
]

project = 'Acceleration API v2 (cyborg)'
copyright = 'The cyborg developers'
master_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['build']
pygments_style = 'native'

html_theme = 'openstackdocs'
html_theme_options = {'sidebar_mode': 'toc'}
openstackdocs_repo_name = 'openstack/cyborg'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
openstackdocs_projects = []

# The microversion selector of os-api-ref; the range is the one of
# cyborg/api/microversion.py (a test checks).
os_api_ref_min_microversion = '2.0'
os_api_ref_max_microversion = '2.7'
