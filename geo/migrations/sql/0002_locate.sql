-- Location derivation (DESIGN §5: derived columns are filled on write).
--
-- locate_piece holds subdivided copies of the reference layers (<= 64 vertices a piece) so
-- point-in-polygon and nearest-border queries touch a few small pieces through the GiST index
-- instead of the 2,220-vertex border line or the 46 KB regency outline.

CREATE TABLE locate_piece (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('desa', 'kabupaten', 'border', 'land')),
    code text,
    name text,
    parent_code text,
    parent_name text,
    country text,
    geom geometry(Geometry, 4326) NOT NULL,
    geom_utm geometry(Geometry, 32649) GENERATED ALWAYS AS (ST_Transform(geom, 32649)) STORED
);
CREATE INDEX ix_locate_piece_geom ON locate_piece USING gist (geom);
CREATE INDEX ix_locate_piece_geom_utm ON locate_piece USING gist (geom_utm);
CREATE INDEX ix_locate_piece_kind ON locate_piece (kind);

CREATE TYPE timpora_location AS (
    kecamatan_code text,
    kecamatan_name text,
    desa_code text,
    desa_name text,
    distance_to_border_m double precision,
    border_side text
);

-- Rebuild the lookup pieces from admin_area and reference_feature (after a boundary load).
CREATE FUNCTION timpora_refresh_locate_pieces() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    DELETE FROM locate_piece;
    INSERT INTO locate_piece (kind, code, name, parent_code, parent_name, geom)
    SELECT 'desa', d.code, d.name, k.code, k.name, ST_Subdivide(d.geom, 64)
    FROM admin_area d
    LEFT JOIN admin_area k ON k.code = d.parent_code AND k.level = 'kecamatan'
    WHERE d.level = 'desa';
    INSERT INTO locate_piece (kind, code, name, geom)
    SELECT 'kabupaten', a.code, a.name, ST_Subdivide(a.geom, 64)
    FROM admin_area a WHERE a.level = 'kabupaten';
    INSERT INTO locate_piece (kind, name, geom)
    SELECT 'border', r.name, ST_Subdivide(r.geom, 32)
    FROM reference_feature r WHERE r.kind = 'border';
    INSERT INTO locate_piece (kind, name, country, geom)
    SELECT 'land', r.name, r.country, ST_Subdivide(r.geom, 64)
    FROM reference_feature r WHERE r.kind = 'land';
    SELECT count(*) INTO n FROM locate_piece;
    ANALYZE locate_piece;
    RETURN n;
END;
$$;

-- Where a point is: desa and kecamatan containing it, metres to the international border
-- (EPSG:32649), and on which side of the border it lies.
CREATE FUNCTION timpora_locate(p geometry) RETURNS timpora_location
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    loc timpora_location;
    p_utm geometry := ST_Transform(p, 32649);
BEGIN
    IF p IS NULL THEN
        RETURN loc;
    END IF;
    SELECT lp.parent_code, lp.parent_name, lp.code, lp.name
      INTO loc.kecamatan_code, loc.kecamatan_name, loc.desa_code, loc.desa_name
      FROM locate_piece lp
     WHERE lp.kind = 'desa' AND ST_Intersects(lp.geom, p)
     ORDER BY lp.code
     LIMIT 1;
    -- Box-ordered KNN, then the exact minimum over the nearest candidates: with pieces of at
    -- most 32 vertices the true nearest segment is always among them.
    SELECT min(ST_Distance(c.geom_utm, p_utm)) INTO loc.distance_to_border_m
      FROM (SELECT lp.geom_utm FROM locate_piece lp
             WHERE lp.kind = 'border'
             ORDER BY lp.geom_utm <-> p_utm
             LIMIT 8) c;
    IF loc.desa_code IS NOT NULL THEN
        loc.border_side := 'ID';
    ELSE
        SELECT CASE lp.country WHEN 'MYS' THEN 'MY' WHEN 'IDN' THEN 'ID' END
          INTO loc.border_side
          FROM locate_piece lp
         WHERE lp.kind = 'land' AND ST_DWithin(lp.geom_utm, p_utm, 50000)
         ORDER BY ST_Distance(lp.geom_utm, p_utm), lp.country
         LIMIT 1;
    END IF;
    RETURN loc;
END;
$$;

-- Fill the derived columns on every write of a point. Bulk paths may set
-- timpora.defer_locate = 'on' for their transaction and fill the columns set-based instead.
CREATE FUNCTION timpora_locate_trg() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    loc timpora_location;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.geom IS NOT DISTINCT FROM OLD.geom THEN
        RETURN NEW;
    END IF;
    IF coalesce(current_setting('timpora.defer_locate', true), '') = 'on' THEN
        RETURN NEW;
    END IF;
    loc := timpora_locate(NEW.geom);
    NEW.kecamatan_code := loc.kecamatan_code;
    NEW.kecamatan_name := loc.kecamatan_name;
    NEW.desa_code := loc.desa_code;
    NEW.desa_name := loc.desa_name;
    NEW.distance_to_border_m := loc.distance_to_border_m;
    NEW.border_side := loc.border_side;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_workplace_locate BEFORE INSERT OR UPDATE OF geom ON workplace
    FOR EACH ROW EXECUTE FUNCTION timpora_locate_trg();
CREATE TRIGGER trg_foreigner_locate BEFORE INSERT OR UPDATE OF geom ON foreigner
    FOR EACH ROW EXECUTE FUNCTION timpora_locate_trg();
CREATE TRIGGER trg_sighting_locate BEFORE INSERT OR UPDATE OF geom ON sighting
    FOR EACH ROW EXECUTE FUNCTION timpora_locate_trg();
CREATE TRIGGER trg_incident_locate BEFORE INSERT OR UPDATE OF geom ON incident
    FOR EACH ROW EXECUTE FUNCTION timpora_locate_trg();
