-- Additive: where Prometheus scrapes each host (the fleet's http_sd target list). Hosts that do
-- not send scrapeUrl (older builds) keep pushing; their column stays as it was.
ALTER TABLE lbtopo.host ADD COLUMN scrape_url text;

-- The 0001 push keeps working under its new name; push() wraps it.
ALTER FUNCTION lbtopo.push(jsonb) RENAME TO push_v1;

CREATE OR REPLACE FUNCTION lbtopo.push(p jsonb) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER SET search_path = lbtopo, pg_temp AS $$
DECLARE
  result text := lbtopo.push_v1(p);
BEGIN
  IF p ->> 'scrapeUrl' IS NOT NULL THEN
    UPDATE lbtopo.host SET scrape_url = p ->> 'scrapeUrl' WHERE name = current_user AND scrape_url IS DISTINCT FROM p ->> 'scrapeUrl';
  END IF;
  RETURN result;
END $$;
REVOKE ALL ON FUNCTION lbtopo.push(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lbtopo.push(jsonb) TO lbtopo_host;
