-- The fleet outbox: pushes to the fleet PostgreSQL (LBTOPO_FLEET_DB) wait here, in order, until
-- the database acknowledges them; after an outage the host replays them. seq is AUTOINCREMENT
-- so a number is never reused after its row is deleted: the fleet applies each seq once.
CREATE TABLE fleet_outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,   -- epoch ms
  payload    TEXT    NOT NULL    -- JSON: derived facts and the observation rows that changed
);

-- What has been put into the outbox so far. outbox_id names this outbox to the fleet database:
-- a recreated SQLite file starts a new sequence under a new id.
CREATE TABLE fleet_cursor (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  outbox_id      TEXT    NOT NULL,
  observation_id INTEGER NOT NULL,   -- highest observation id already considered
  facts_hash     TEXT,               -- hash of the facts last put into the outbox
  pushed_seq     INTEGER NOT NULL    -- highest seq the fleet database acknowledged
);
INSERT INTO fleet_cursor (id, outbox_id, observation_id, facts_hash, pushed_seq)
VALUES (1, lower(hex(randomblob(16))), 0, NULL, 0);
