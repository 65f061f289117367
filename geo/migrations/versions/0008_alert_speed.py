"""Alert speed: subdivided zone pieces for indexable containment and distance.

Revision ID: 0008
Revises: 0007

- ``zone_piece`` holds ``ST_Subdivide(zone.geom_utm, 64)`` of every *active* zone with the
  zone's kind. A point-in-polygon test then touches one small piece through a GiST index
  instead of detoasting and walking a multi-thousand-vertex polygon (the PLB area is the union
  of two kecamatan) for every sighting. The pieces cover exactly the zone, so containment and
  the minimum distance over a zone's pieces are those of the zone.
- A row trigger on ``zone`` keeps the pieces in step on insert, update (geometry, kind or
  active) and delete; pieces of an inactive zone are removed.
- GiST on the pieces' ``geom_utm``, plus a partial one for the ``plb_area`` kind so the
  true-distance KNN (``<->``) of the PLB rule walks PLB pieces only.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE_SQL = """
CREATE TABLE zone_piece (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone_id integer NOT NULL REFERENCES zone (id) ON DELETE CASCADE,
    kind text NOT NULL,
    geom_utm geometry(Geometry, 32649) NOT NULL
);
CREATE INDEX ix_zone_piece_zone_id ON zone_piece (zone_id);
CREATE INDEX ix_zone_piece_geom_utm ON zone_piece USING gist (geom_utm);
CREATE INDEX ix_zone_piece_plb_area_geom_utm ON zone_piece USING gist (geom_utm)
    WHERE kind = 'plb_area';

CREATE FUNCTION timpora_zone_pieces_trg() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.geom_utm IS NOT DISTINCT FROM OLD.geom_utm
       AND NEW.kind = OLD.kind AND NEW.active = OLD.active THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM zone_piece WHERE zone_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.active AND NEW.geom_utm IS NOT NULL THEN
        INSERT INTO zone_piece (zone_id, kind, geom_utm)
        SELECT NEW.id, NEW.kind, ST_Subdivide(NEW.geom_utm, 64);
    END IF;
    RETURN NULL;
END;
$$;

-- AFTER ... FOR EACH ROW: geom_utm is a stored generated column, final only after the write.
CREATE TRIGGER trg_zone_pieces AFTER INSERT OR UPDATE OR DELETE ON zone
    FOR EACH ROW EXECUTE FUNCTION timpora_zone_pieces_trg();

INSERT INTO zone_piece (zone_id, kind, geom_utm)
SELECT z.id, z.kind, ST_Subdivide(z.geom_utm, 64) FROM zone z WHERE z.active;
ANALYZE zone_piece;
"""

DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS trg_zone_pieces ON zone;
DROP FUNCTION IF EXISTS timpora_zone_pieces_trg();
DROP TABLE IF EXISTS zone_piece;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
