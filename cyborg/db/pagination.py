"""Keyset pagination shared by every list: marker lookup, ORDER BY, LIMIT."""

from oslo_db.sqlalchemy import utils as db_utils
import sqlalchemy as sa

from cyborg import exception


def paginate(context, query, model, limit=None, marker=None, sort_key=None,
             sort_dir=None, default_keys=('id',), default_dir='asc',
             marker_filter=None):
    """``query`` ordered (and paged after ``marker``) in SQL.

    ``marker`` is the uuid of the last row of the previous page; an unknown
    one is Invalid. ``marker_filter`` narrows the marker lookup the way the
    list is narrowed (e.g. to the caller's project). The sort always ends
    with ``id`` so pages never overlap.
    """
    table = model.__table__
    keys = [sort_key, 'id'] if sort_key else list(default_keys)
    if not (limit or marker or sort_key or sort_dir) and keys == ['id'] \
            and default_dir == 'asc':
        # What paginate_query would build, without the ORM attributes that
        # would send every row through the ORM.
        return query.order_by(table.c.id)
    marker_row = None
    if marker:
        lookup = sa.select(table).where(table.c.uuid == marker)
        if marker_filter is not None:
            lookup = marker_filter(lookup)
        marker_row = context.session.execute(lookup).first()
        if marker_row is None:
            raise exception.Invalid(reason='marker %s not found' % marker)
    return db_utils.paginate_query(query, model, limit, keys,
                                   marker=marker_row,
                                   sort_dir=sort_dir or default_dir)
