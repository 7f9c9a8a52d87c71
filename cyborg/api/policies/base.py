"""Base rules the resource rules are built from (role and scope checks).

The legacy rules are still registered, deprecated for removal, because
operators' policy.yaml files may reference them.
"""

from oslo_policy import policy

ADMIN_API = 'rule:admin_api'
PROJECT_READER_OR_ADMIN = 'rule:project_reader_or_admin'
PROJECT_MEMBER_OR_ADMIN = 'rule:project_member_or_admin'
PROJECT_MANAGER_OR_ADMIN = 'rule:project_manager_or_admin'
PROJECT_MEMBER_OR_SERVICE = 'rule:project_member_or_service'

# Legacy names the deprecated fallbacks point at.
LEGACY_ADMIN_OR_OWNER = 'rule:admin_or_owner'
LEGACY_IS_ADMIN = 'rule:is_admin'

DEPRECATED_REASON = ('Cyborg API policies now default to project-scoped '
                     'reader/member/manager and admin roles.')
DEPRECATED_SINCE = '2023.1'

rules = [
    policy.RuleDefault('admin_api', 'role:admin',
                       description='Admin of any project.'),
    policy.RuleDefault('project_admin_api',
                       'role:admin and project_id:%(project_id)s',
                       description='Admin of the target project.'),
    policy.RuleDefault('project_member_api',
                       'role:member and project_id:%(project_id)s',
                       description='Member of the target project.'),
    policy.RuleDefault('project_reader_api',
                       'role:reader and project_id:%(project_id)s',
                       description='Reader of the target project.'),
    policy.RuleDefault('project_member_or_admin',
                       'rule:project_member_api or rule:admin_api',
                       description='Project member or any admin.'),
    policy.RuleDefault('project_reader_or_admin',
                       'rule:project_reader_api or rule:admin_api',
                       description='Project reader or any admin.'),
    policy.RuleDefault('service_api', 'role:service',
                       description='A service user, such as Nova.'),
    policy.RuleDefault('project_manager_api',
                       'role:manager and project_id:%(project_id)s',
                       description='Manager of the target project.'),
    policy.RuleDefault('project_manager_or_admin',
                       'rule:project_manager_api or rule:admin_api',
                       description='Project manager or any admin.'),
    policy.RuleDefault('project_member_or_service',
                       'rule:project_member_api or rule:service_api',
                       description='Project member or a service user.'),
]

_LEGACY = [
    ('public_api', 'is_public_api:True', 'Internal flag for public API.'),
    ('allow', '@', 'Any access.'),
    ('deny', '!', 'No access.'),
    ('default', 'rule:admin_or_owner', 'Default rule.'),
    ('is_admin', 'rule:admin_api', 'Legacy admin check.'),
    ('admin_or_owner', 'is_admin:True or project_id:%(project_id)s',
     'Legacy admin-or-owner check.'),
    ('admin_or_user', 'is_admin:True or user_id:%(user_id)s',
     'Legacy admin-or-user check.'),
]

rules += [
    policy.RuleDefault(name, check_str, description=description,
                       deprecated_for_removal=True,
                       deprecated_reason=DEPRECATED_REASON,
                       deprecated_since=DEPRECATED_SINCE)
    for name, check_str, description in _LEGACY
]


def deprecated(name, check_str):
    """The pre-RBAC default of rule ``name``, OR-ed in unless
    [oslo_policy] enforce_new_defaults is set."""
    return policy.DeprecatedRule(name=name, check_str=check_str,
                                 deprecated_reason=DEPRECATED_REASON,
                                 deprecated_since=DEPRECATED_SINCE)


def api_rule(name, check_str, description, method, path,
             deprecated_check=None):
    """A documented, project-scoped rule of one API operation."""
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': method, 'path': path}],
        scope_types=['project'],
        deprecated_rule=(deprecated(name, deprecated_check)
                         if deprecated_check else None))


def list_rules():
    return rules
