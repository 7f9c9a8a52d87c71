"""The one oslo.db enginefacade transaction context of the process.

Data-access functions take a request context first and are decorated with
``@reader`` or ``@writer``; nested calls join the caller's transaction.
"""

from oslo_db.sqlalchemy import enginefacade

context_manager = enginefacade.transaction_context()
reader = context_manager.reader
writer = context_manager.writer

_configured = False


def configure(conf):
    """Point the transaction context at conf's [database] options, once."""
    configure_options(_database_options(conf))


def configure_options(options):
    """Configure the transaction context from enginefacade keyword options.

    The context can be configured once per process; later calls are no-ops
    (tests then swap engines in with ``context_manager.patch_engine``).
    """
    global _configured
    if _configured:
        return
    context_manager.configure(**options)
    _configured = True


def _database_options(conf):
    opts = dict(conf.database.items())
    # Options oslo.db accepts in its config group but not as keyword
    # arguments of configure().
    for name in ('backend', 'use_tpool', 'db_inc_retry_interval',
                 'db_max_retries', 'db_max_retry_interval',
                 'db_retry_interval', 'use_db_reconnect', 'mysql_engine'):
        opts.pop(name, None)
    return opts


def get_engine():
    return context_manager.writer.get_engine()
