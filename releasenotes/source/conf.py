"""Sphinx configuration of cyborg's release notes (``tox -e releasenotes``).

reno collects the notes under ``releasenotes/notes`` from the git history
(and the working tree), so the build needs a git checkout.
"""

extensions = [
    'openstackdocstheme',
    'reno.sphinxext',
]

project = 'cyborg release notes'
copyright = 'The cyborg developers'
master_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['_build']
pygments_style = 'native'

html_theme = 'openstackdocs'
openstackdocs_repo_name = 'openstack/cyborg'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
openstackdocs_projects = []
