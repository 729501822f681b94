-- The fleet database: what every load-balancer host pushes (derived facts and the observation
-- rows that changed), read by `lbtopo fleet serve`. Migrations are additive only (new tables,
-- new nullable columns, CREATE OR REPLACE of the push function keeping its signature), so hosts
-- of two versions push side by side while a fleet upgrades.
--
-- Security: every host logs in with its own role, a member of lbtopo_host; row-level security
-- lets it write (and read) only rows whose host is its role name. The fleet service logs in with
-- a member of lbtopo_reader, which can only SELECT. Roles: `lbtopo fleet add-host NAME`.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lbtopo_host') THEN CREATE ROLE lbtopo_host NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lbtopo_reader') THEN CREATE ROLE lbtopo_reader NOLOGIN; END IF;
END $$;

CREATE SCHEMA lbtopo;
REVOKE ALL ON SCHEMA lbtopo FROM PUBLIC;
GRANT USAGE ON SCHEMA lbtopo TO lbtopo_host, lbtopo_reader;

-- One row per host: who it is, and its push sequence (idempotency: a push whose seq the
-- database has already applied is not applied again; outbox_id changes when the host's SQLite
-- outbox is recreated, restarting its sequence).
CREATE TABLE lbtopo.host (
  name        text        PRIMARY KEY DEFAULT current_user,
  kind        text        NOT NULL,
  version     text        NOT NULL,
  started_at  timestamptz NOT NULL,
  interval_ms integer     NOT NULL,
  last_push   timestamptz NOT NULL DEFAULT now(),
  outbox_id   text        NOT NULL,
  last_seq    bigint      NOT NULL DEFAULT 0,
  facts_at    timestamptz            -- when the facts last changed (null: never pushed facts)
);

-- A pool as its host last derived it.
CREATE TABLE lbtopo.pool_fact (
  host              text        NOT NULL DEFAULT current_user REFERENCES lbtopo.host (name) ON DELETE CASCADE,
  pool_id           text        NOT NULL,
  layout            text        NOT NULL,   -- v1, v2, octavia
  load_balancer_id  text,
  namespace         text        NOT NULL,
  namespace_present boolean,                -- null: the namespace list could not be read
  haproxy           text,                   -- RUNNING, MISSING; null: /proc could not be read
  haproxy_pid       integer,
  vip_address       text,
  vip_port          integer,
  members_total     integer     NOT NULL,
  members_up        integer,                -- null: the stats socket did not answer
  observed_at       timestamptz NOT NULL,
  PRIMARY KEY (host, pool_id)
);
CREATE INDEX pool_fact_by_pool ON lbtopo.pool_fact (pool_id);
CREATE INDEX pool_fact_haproxy_missing ON lbtopo.pool_fact (host, pool_id) WHERE haproxy = 'MISSING';

-- A problem as its host last diagnosed it (the same fields as the Problem type).
CREATE TABLE lbtopo.problem_fact (
  host           text        NOT NULL DEFAULT current_user REFERENCES lbtopo.host (name) ON DELETE CASCADE,
  key            text        NOT NULL,
  code           text        NOT NULL,
  severity       text        NOT NULL,
  message        text        NOT NULL,
  pool_id        text,
  namespace      text,
  pid            integer,
  ovs_port       text,
  interface_name text,
  member_id      text,
  file           text,
  probe          text,
  observed_at    timestamptz NOT NULL,
  PRIMARY KEY (host, key)
);
CREATE INDEX problem_fact_by_code ON lbtopo.problem_fact (code);

-- The observation log rows that changed, for the probes without counters (lbaas, netns, ovs,
-- haproxy-by-config): the fleet's history ("when did haproxy disappear on host X?").
CREATE TABLE lbtopo.observation (
  host       text        NOT NULL DEFAULT current_user REFERENCES lbtopo.host (name) ON DELETE CASCADE,
  probe      text        NOT NULL,
  scope      text        NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen  timestamptz NOT NULL,
  hash       text        NOT NULL,
  payload    jsonb       NOT NULL,
  PRIMARY KEY (host, probe, scope, first_seen, hash)
);

ALTER TABLE lbtopo.host         ENABLE ROW LEVEL SECURITY;
ALTER TABLE lbtopo.pool_fact    ENABLE ROW LEVEL SECURITY;
ALTER TABLE lbtopo.problem_fact ENABLE ROW LEVEL SECURITY;
ALTER TABLE lbtopo.observation  ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_row ON lbtopo.host         TO lbtopo_host USING (name = current_user) WITH CHECK (name = current_user);
CREATE POLICY own_row ON lbtopo.pool_fact    TO lbtopo_host USING (host = current_user) WITH CHECK (host = current_user);
CREATE POLICY own_row ON lbtopo.problem_fact TO lbtopo_host USING (host = current_user) WITH CHECK (host = current_user);
CREATE POLICY own_row ON lbtopo.observation  TO lbtopo_host USING (host = current_user) WITH CHECK (host = current_user);
CREATE POLICY read_all ON lbtopo.host         FOR SELECT TO lbtopo_reader USING (true);
CREATE POLICY read_all ON lbtopo.pool_fact    FOR SELECT TO lbtopo_reader USING (true);
CREATE POLICY read_all ON lbtopo.problem_fact FOR SELECT TO lbtopo_reader USING (true);
CREATE POLICY read_all ON lbtopo.observation  FOR SELECT TO lbtopo_reader USING (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON lbtopo.host, lbtopo.pool_fact, lbtopo.problem_fact, lbtopo.observation TO lbtopo_host;
GRANT SELECT ON lbtopo.host, lbtopo.pool_fact, lbtopo.problem_fact, lbtopo.observation TO lbtopo_reader;

-- One push in one statement (one round trip). SECURITY INVOKER: row-level security applies to
-- every row it writes, so a host cannot write another's rows through it either. A push without
-- `seq` is a heartbeat: it only says the host is alive. A push whose seq was already applied
-- (a replay after a lost acknowledgement) changes nothing but the heartbeat: nothing doubled.
-- Returns 'applied', 'duplicate' or 'heartbeat'. Unknown keys are ignored (newer hosts).
CREATE FUNCTION lbtopo.push(p jsonb) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER SET search_path = lbtopo, pg_temp AS $$
DECLARE
  h lbtopo.host;
  seq bigint := (p ->> 'seq')::bigint;
  seen_at timestamptz := to_timestamp(coalesce((p ->> 'observedAt')::double precision, extract(epoch FROM now()) * 1000) / 1000.0);
  result text;
BEGIN
  IF p ->> 'host' IS DISTINCT FROM current_user THEN
    RAISE EXCEPTION 'a push for host "%" came from role "%": each host pushes as the role of its own name (LBTOPO_HOST)', p ->> 'host', current_user
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO lbtopo.host AS t (name, kind, version, started_at, interval_ms, outbox_id)
  VALUES (current_user, p ->> 'kind', p ->> 'version', to_timestamp((p ->> 'startedAt')::double precision / 1000.0), (p ->> 'intervalMs')::integer, p ->> 'outboxId')
  ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, version = EXCLUDED.version, started_at = EXCLUDED.started_at,
    interval_ms = EXCLUDED.interval_ms, last_push = now(),
    -- A new outbox (the host's SQLite was recreated) restarts the sequence.
    last_seq = CASE WHEN t.outbox_id = EXCLUDED.outbox_id THEN t.last_seq ELSE 0 END,
    outbox_id = EXCLUDED.outbox_id
  RETURNING * INTO h;

  IF seq IS NULL THEN
    result := 'heartbeat';
  ELSIF seq <= h.last_seq THEN
    result := 'duplicate';
  ELSE
    IF p -> 'pools' IS NOT NULL AND jsonb_typeof(p -> 'pools') = 'array' THEN
      DELETE FROM lbtopo.pool_fact WHERE host = current_user;
      INSERT INTO lbtopo.pool_fact (host, pool_id, layout, load_balancer_id, namespace, namespace_present, haproxy, haproxy_pid,
                                    vip_address, vip_port, members_total, members_up, observed_at)
      SELECT current_user, e ->> 'id', e ->> 'layout', e ->> 'loadBalancerId', e ->> 'namespace', (e ->> 'namespacePresent')::boolean,
             e ->> 'haproxy', (e ->> 'haproxyPid')::integer, e ->> 'vipAddress', (e ->> 'vipPort')::integer,
             (e ->> 'membersTotal')::integer, (e ->> 'membersUp')::integer, seen_at
      FROM jsonb_array_elements(p -> 'pools') e;
    END IF;
    IF p -> 'problems' IS NOT NULL AND jsonb_typeof(p -> 'problems') = 'array' THEN
      DELETE FROM lbtopo.problem_fact WHERE host = current_user;
      INSERT INTO lbtopo.problem_fact (host, key, code, severity, message, pool_id, namespace, pid, ovs_port, interface_name, member_id, file, probe, observed_at)
      SELECT DISTINCT ON (e ->> 'key') current_user, e ->> 'key', e ->> 'code', e ->> 'severity', e ->> 'message', e ->> 'poolId', e ->> 'namespace',
             (e ->> 'pid')::integer, e ->> 'ovsPort', e ->> 'interfaceName', e ->> 'memberId', e ->> 'file', e ->> 'probe', seen_at
      FROM jsonb_array_elements(p -> 'problems') e;
    END IF;
    INSERT INTO lbtopo.observation AS o (host, probe, scope, first_seen, last_seen, hash, payload)
    SELECT current_user, e ->> 'probe', e ->> 'scope', to_timestamp((e ->> 'firstSeen')::double precision / 1000.0),
           to_timestamp((e ->> 'lastSeen')::double precision / 1000.0), e ->> 'hash', e -> 'payload'
    FROM jsonb_array_elements(coalesce(p -> 'observations', '[]'::jsonb)) e
    ON CONFLICT (host, probe, scope, first_seen, hash) DO UPDATE SET last_seen = greatest(o.last_seen, EXCLUDED.last_seen);
    UPDATE lbtopo.host SET last_seq = seq, facts_at = now() WHERE name = current_user;
    result := 'applied';
  END IF;
  -- The fleet service LISTENs: facts=true reloads this host's facts, otherwise only its heartbeat moves.
  PERFORM pg_notify('lbtopo_fleet', json_build_object('host', current_user, 'facts', result = 'applied',
    'lastPush', (extract(epoch FROM now()) * 1000)::bigint)::text);
  RETURN result;
END $$;
REVOKE ALL ON FUNCTION lbtopo.push(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lbtopo.push(jsonb) TO lbtopo_host;
