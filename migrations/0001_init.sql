-- The observation log: one row per distinct payload a probe saw for a scope. A new row is added
-- only when the payload changes; otherwise the latest row's last_seen moves. The latest row of a
-- (probe, scope) is the cache; older rows are the history ("when did this haproxy disappear?").
CREATE TABLE observation (
  id         INTEGER PRIMARY KEY,
  probe      TEXT    NOT NULL,   -- lbaas, netns, proc, ip, ovs, stats
  scope      TEXT    NOT NULL,   -- '' for host-wide probes, else a namespace, OVSDB target, socket path
  first_seen INTEGER NOT NULL,   -- epoch ms this payload was first observed
  last_seen  INTEGER NOT NULL,   -- epoch ms of the latest observation with the same payload
  hash       TEXT    NOT NULL,   -- sha256 of payload
  payload    TEXT    NOT NULL    -- JSON
);
CREATE INDEX observation_by_scope ON observation (probe, scope, id);

-- Failed looks, kept apart from observations so a failure never replaces the last good payload.
CREATE TABLE probe_failure (
  id        INTEGER PRIMARY KEY,
  probe     TEXT    NOT NULL,
  scope     TEXT    NOT NULL,
  failed_at INTEGER NOT NULL,
  kind      TEXT    NOT NULL,   -- DiscoveryError kind: timeout, not-found, exit, parse, gone, ...
  message   TEXT    NOT NULL
);
CREATE INDEX probe_failure_by_scope ON probe_failure (probe, scope, id);
