"""Sphinx configuration of cyborg's documentation (``tox -e docs``).

The configuration and policy references are generated from the code by
oslo.config's and oslo.policy's Sphinx extensions, so they cannot drift
from the options and rules the services register; the sample files they
link to are the committed ``etc/cyborg/*.sample``, which a test keeps
equal to what ``tox -e genconfig`` / ``tox -e genpolicy`` write.
"""

extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxext',
    'oslo_policy.sphinxext',
]

project = 'cyborg'
copyright = 'The cyborg developers'
master_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['_build']
pygments_style = 'native'

html_theme = 'openstackdocs'
html_static_path = []
# openstackdocstheme: where "report a bug" and the source links point.
openstackdocs_repo_name = 'openstack/cyborg'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
# Our own pages only; no links into other projects' docs are needed.
openstackdocs_projects = []
