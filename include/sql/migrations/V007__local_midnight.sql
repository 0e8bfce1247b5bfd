-- V007: argo_local_to_utc(local, zone), the first instant at which a site's wall clock shows `local`.
--
-- The views bound a site-local day or month with `local::timestamp AT TIME ZONE zone`. PostgreSQL
-- reads an ambiguous wall-clock time (one that a DST change repeats) as the LATER of its two
-- instants. Where a zone falls back across midnight (America/Havana: 01:00 CDT -> 00:00 CST on the
-- first Sunday of November), that puts the day's start an hour late, and the first hour of the day
-- would be counted in the day before. This function returns the earlier instant in that case and
-- agrees with AT TIME ZONE everywhere else (a nonexistent time keeps PostgreSQL's reading, which
-- for a midnight in a spring-forward gap is the first instant of the day).
--
-- How: x = AT TIME ZONE's answer; d = the zone's UTC offset 3 hours before x minus its offset at x
-- (every DST change in tzdata is at most 2 hours). When d > 0 and x - d still shows `local`, the
-- clock showed it first at x - d.

CREATE OR REPLACE FUNCTION argo_local_to_utc(p_local timestamp, p_zone text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN b.d > interval '0' AND ((b.x - b.d) AT TIME ZONE p_zone) = p_local
                THEN b.x - b.d
                ELSE b.x
           END
      FROM (SELECT a.x,
                   ((a.x - interval '3 hours') AT TIME ZONE p_zone) - ((a.x - interval '3 hours') AT TIME ZONE 'UTC')
                   - ((a.x AT TIME ZONE p_zone) - (a.x AT TIME ZONE 'UTC')) AS d
              FROM (SELECT p_local AT TIME ZONE p_zone AS x) a) b
$fn$;

COMMENT ON FUNCTION argo_local_to_utc(timestamp, text) IS
    'First instant at which the zone''s wall clock shows the given local time (AT TIME ZONE picks the later one of a repeated time).';
