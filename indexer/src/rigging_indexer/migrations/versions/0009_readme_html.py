"""Each version's README as safe HTML, rendered when it is indexed (rigging_indexer.markdown_html),
and the renderer that made it. Versions indexed before stay NULL: the portal renders those when
shown, as it did, and `rigging-indexer render-readmes` fills them in."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    # 0001 creates the versions table from today's models, so a new index has them already
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("versions")}
    if "readme_html" not in present:
        op.add_column("versions", sa.Column("readme_html", sa.Text, nullable=True))
    if "readme_renderer" not in present:
        op.add_column("versions", sa.Column("readme_renderer", sa.String(120), nullable=True))


def downgrade() -> None:
    op.drop_column("versions", "readme_renderer")
    op.drop_column("versions", "readme_html")
