"""links between copies of mail: a forward to its inbound mail, a bounce notice to our letter

``outboundmessage.inbound_id``: a forward to customer service carries the customer's whole mail
(``original.eml``) and her subject; retention and erasure find it from the mail it copies.
Filled for existing forwards from their unique key ``forward:<inbound id>``.

``inboundmessage.bounce_of``: the letter a matched bounce returns (the notice quotes her
address), so an erasure that redacts the letter reaches the notice too. Filled for existing
bounces from the reason the pipeline wrote ("bounce of our letter (outbox #N, ...)").

Revision ID: 0017_mail_copy_links
Revises: 0016_on_behalf_of
Create Date: 2026-12-07 13:00:00
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0017_mail_copy_links'
down_revision = '0016_on_behalf_of'
branch_labels = None
depends_on = None

_outbound = sa.table('outboundmessage', sa.column('id', sa.Integer),
                     sa.column('dedupe_key', sa.String), sa.column('inbound_id', sa.Integer))
_inbound = sa.table('inboundmessage', sa.column('id', sa.Integer), sa.column('state', sa.String),
                    sa.column('reasons', sa.JSON), sa.column('bounce_of', sa.Integer))
_BOUNCE = re.compile(r"^bounce of our letter \(outbox #(\d+),")


def upgrade() -> None:
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounce_of', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_inboundmessage_bounce_of'), ['bounce_of'],
                              unique=False)
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inbound_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outboundmessage_inbound_id'), ['inbound_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_outboundmessage_inbound_id', 'inboundmessage',
                                    ['inbound_id'], ['id'])
    conn = op.get_bind()
    forwards = conn.execute(sa.select(_outbound.c.id, _outbound.c.dedupe_key)
                            .where(_outbound.c.dedupe_key.like('forward:%'))).all()
    for row in forwards:
        number = row.dedupe_key.partition(':')[2]
        if number.isdigit():
            conn.execute(_outbound.update().where(_outbound.c.id == row.id)
                         .values(inbound_id=int(number)))
    for row in conn.execute(sa.select(_inbound.c.id, _inbound.c.reasons)
                            .where(_inbound.c.state == 'ignored')).all():
        found = [m for m in (_BOUNCE.match(str(r)) for r in (row.reasons or ())) if m]
        if found:
            conn.execute(_inbound.update().where(_inbound.c.id == row.id)
                         .values(bounce_of=int(found[0].group(1))))


def downgrade() -> None:
    with op.batch_alter_table('outboundmessage', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outboundmessage_inbound_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outboundmessage_inbound_id'))
        batch_op.drop_column('inbound_id')
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inboundmessage_bounce_of'))
        batch_op.drop_column('bounce_of')
