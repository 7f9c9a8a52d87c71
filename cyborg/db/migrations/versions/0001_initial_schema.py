"""Initial schema: devices, deployables, ARQs, device profiles, bind work.

Revision ID: 70946673ce55
Revises:
Create Date: 2026-11-21 11:58:50.980919
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by alembic.
revision = '70946673ce55'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agent_hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('rpc_host', sa.String(length=255), nullable=False),
    sa.Column('compute_rp_uuid', sa.String(length=36), nullable=True),
    sa.Column('report_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hostname', name='uniq_agent_hosts0hostname'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_table('device_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('profile_json', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uniq_device_profiles0name'),
    sa.UniqueConstraint('uuid', name='uniq_device_profiles0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('type', sa.Enum('GPU', 'FPGA', 'AICHIP', 'QAT', 'NIC', 'SSD', name='device_type'), nullable=False),
    sa.Column('vendor', sa.String(length=255), nullable=False),
    sa.Column('model', sa.String(length=255), nullable=False),
    sa.Column('std_board_info', sa.Text(), nullable=True),
    sa.Column('vendor_board_info', sa.Text(), nullable=True),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('status', sa.Enum('enabled', 'maintaining', name='device_status'), server_default='enabled', nullable=False),
    sa.Column('missing_since', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid', name='uniq_devices0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('devices_hostname_idx', 'devices', ['hostname'])
    op.create_index('devices_type_idx', 'devices', ['type'])
    op.create_index('devices_vendor_idx', 'devices', ['vendor'])

    op.create_table('nova_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('arq_uuid', sa.String(length=36), nullable=False),
    sa.Column('bind_seq', sa.Integer(), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('status', sa.Enum('completed', 'failed', name='nova_event_status'), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('abandoned_at', sa.DateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arq_uuid', 'bind_seq', name='uniq_nova_events0arq_uuid0bind_seq'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('nova_events_instance_uuid_idx', 'nova_events', ['instance_uuid'])
    op.create_index('nova_events_sent_at_next_attempt_at_idx', 'nova_events', ['sent_at', 'next_attempt_at'])

    op.create_table('controlpath_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('cpid_type', sa.Enum('PCI', name='cpid_type'), nullable=False),
    sa.Column('cpid_info', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid', name='uniq_controlpath_ids0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('controlpath_ids_device_id_idx', 'controlpath_ids', ['device_id'])

    op.create_table('deployables',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('root_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('num_accelerators', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('rp_uuid', sa.String(length=36), nullable=True),
    sa.Column('driver_name', sa.String(length=100), nullable=True),
    sa.Column('bitstream_id', sa.String(length=36), nullable=True),
    sa.Column('resource_class', sa.String(length=255), nullable=True),
    sa.Column('placement_digest', sa.String(length=64), nullable=True),
    sa.Column('missing_since', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['parent_id'], ['deployables.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['root_id'], ['deployables.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uniq_deployables0name'),
    sa.UniqueConstraint('uuid', name='uniq_deployables0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('deployables_device_id_idx', 'deployables', ['device_id'])
    op.create_index('deployables_parent_id_idx', 'deployables', ['parent_id'])
    op.create_index('deployables_root_id_idx', 'deployables', ['root_id'])
    op.create_index('deployables_rp_uuid_idx', 'deployables', ['rp_uuid'])

    op.create_table('attach_handles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('deployable_id', sa.Integer(), nullable=False),
    sa.Column('cpid_id', sa.Integer(), nullable=False),
    sa.Column('in_use', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('attach_type', sa.Enum('PCI', 'MDEV', 'TEST_PCI', name='attach_type'), nullable=False),
    sa.Column('attach_info', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['cpid_id'], ['controlpath_ids.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['deployable_id'], ['deployables.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('deployable_id', 'attach_info', name='uniq_attach_handles0deployable_id0info'),
    sa.UniqueConstraint('uuid', name='uniq_attach_handles0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('attach_handles_cpid_id_idx', 'attach_handles', ['cpid_id'])
    op.create_index('attach_handles_deployable_id_in_use_idx', 'attach_handles', ['deployable_id', 'in_use'])

    op.create_table('attributes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('deployable_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['deployable_id'], ['deployables.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('deployable_id', 'key', name='uniq_attributes0deployable_id0key'),
    sa.UniqueConstraint('uuid', name='uniq_attributes0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('attributes_key_idx', 'attributes', ['key'])

    op.create_table('deployable_traits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deployable_id', sa.Integer(), nullable=False),
    sa.Column('trait', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['deployable_id'], ['deployables.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('deployable_id', 'trait', name='uniq_deployable_traits0deployable_id0trait'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_table('extended_accelerator_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('state', sa.Enum('Initial', 'BindStarted', 'Bound', 'Unbound', 'BindFailed', 'UnbindFailed', 'Deleting', name='arq_state'), server_default='Initial', nullable=False),
    sa.Column('substate', sa.Enum('Initial', name='arq_substate'), server_default='Initial', nullable=False),
    sa.Column('device_profile_id', sa.Integer(), nullable=False),
    sa.Column('device_profile_group_id', sa.Integer(), server_default='0', nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=True),
    sa.Column('device_rp_uuid', sa.String(length=36), nullable=True),
    sa.Column('instance_uuid', sa.String(length=36), nullable=True),
    sa.Column('attach_handle_id', sa.Integer(), nullable=True),
    sa.Column('deployable_id', sa.Integer(), nullable=True),
    sa.Column('bind_seq', sa.Integer(), server_default='0', nullable=False),
    sa.Column('bind_started_at', sa.DateTime(), nullable=True),
    sa.Column('bind_lease_owner', sa.String(length=255), nullable=True),
    sa.Column('bind_lease_expires_at', sa.DateTime(), nullable=True),
    sa.Column('bind_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['attach_handle_id'], ['attach_handles.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['deployable_id'], ['deployables.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['device_profile_id'], ['device_profiles.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('attach_handle_id', name='uniq_extended_accelerator_requests0attach_handle_id'),
    sa.UniqueConstraint('uuid', name='uniq_extended_accelerator_requests0uuid'),
    mysql_charset='utf8mb4',
    mysql_engine='InnoDB'
    )
    op.create_index('extended_accelerator_requests_deployable_id_idx', 'extended_accelerator_requests', ['deployable_id'])
    op.create_index('extended_accelerator_requests_device_profile_id_idx', 'extended_accelerator_requests', ['device_profile_id'])
    op.create_index('extended_accelerator_requests_device_rp_uuid_idx', 'extended_accelerator_requests', ['device_rp_uuid'])
    op.create_index('extended_accelerator_requests_instance_uuid_idx', 'extended_accelerator_requests', ['instance_uuid'])
    op.create_index('extended_accelerator_requests_project_id_idx', 'extended_accelerator_requests', ['project_id'])
    op.create_index('extended_accelerator_requests_state_idx', 'extended_accelerator_requests', ['state'])
    op.create_index('extended_accelerator_requests_state_lease_idx', 'extended_accelerator_requests', ['state', 'bind_lease_expires_at'])

