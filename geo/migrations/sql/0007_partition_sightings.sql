-- Sightings partitioned by month (PostgreSQL native range partitioning on observed_at).
--
-- The table keeps its name, columns, keys and indexes, so every query, rule and import path
-- works unchanged. Monthly partitions sighting_yYYYYmMM are made ahead by
-- timpora_ensure_sighting_partitions(); a DEFAULT partition catches anything outside them and
-- the same function moves such rows into their month when that month's partition is made.

CREATE TABLE sighting_partitioned (LIKE sighting INCLUDING DEFAULTS INCLUDING GENERATED
    INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)
    PARTITION BY RANGE (observed_at);

CREATE TABLE sighting_default PARTITION OF sighting_partitioned DEFAULT;

CREATE FUNCTION timpora_ensure_sighting_partitions(from_month date, to_month date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    last date := date_trunc('month', to_month)::date;
    part text;
    cols text;
    made integer := 0;
    parent regclass := 'sighting'::regclass;
BEGIN
    IF last - m > 366 * 30 THEN
        RAISE EXCEPTION 'refusing to create more than 30 years of sighting partitions';
    END IF;
    -- Serialise concurrent callers (service start-up, imports) on one advisory lock.
    PERFORM pg_advisory_xact_lock(hashtext('timpora_ensure_sighting_partitions'));
    WHILE m <= last LOOP
        part := format('sighting_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
        IF to_regclass(part) IS NULL THEN
            IF EXISTS (SELECT 1 FROM sighting_default
                       WHERE observed_at >= m AND observed_at < (m + interval '1 month')) THEN
                -- Rows of this month wait in the default partition: move them in.
                SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
                  FROM pg_attribute
                 WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped
                   AND attgenerated = '';
                EXECUTE format('CREATE TABLE %I (LIKE sighting INCLUDING DEFAULTS '
                               'INCLUDING GENERATED INCLUDING CONSTRAINTS)', part);
                EXECUTE format(
                    'WITH moved AS (DELETE FROM sighting_default WHERE observed_at >= %L
                       AND observed_at < %L RETURNING %s) INSERT INTO %I (%s) SELECT * FROM moved',
                    m, m + interval '1 month', cols, part, cols);
                EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               parent, part, m, m + interval '1 month');
            ELSE
                EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                               part, parent, m, m + interval '1 month');
            END IF;
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END;
$$;

-- Partitions wholly older than the cutoff, for retention by DETACH + DROP.
CREATE FUNCTION timpora_sighting_partitions_before(cutoff timestamptz)
RETURNS TABLE (partition_name text, range_end timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'sighting'::regclass
       AND c.relname ~ '^sighting_y[0-9]{4}m[0-9]{2}$'
       AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
           <= cutoff
     ORDER BY 2
$$;
