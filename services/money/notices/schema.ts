/**
 * Every notice recorded: the event (what happened, from which audit entry, once per entry) and
 * each delivery of it (channel, recipient, status, tries, last error). The cursor is the last
 * audit entry read, so that a restart reads on from there and says nothing twice.
 */
export const NOTICES_SCHEMA = `
CREATE TABLE IF NOT EXISTS notice_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notice_events (
  id INTEGER PRIMARY KEY,
  source_seq INTEGER NOT NULL UNIQUE,
  at INTEGER NOT NULL,
  account_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('low-balance', 'cutoff-ahead', 'restored')),
  level INTEGER,
  facts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notice_events_account ON notice_events (account_id, id);
CREATE TABLE IF NOT EXISTS notices (
  id INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL REFERENCES notice_events (id),
  channel TEXT NOT NULL,
  recipient TEXT NOT NULL,
  language TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER,
  UNIQUE (event_id, channel, recipient)
);
CREATE INDEX IF NOT EXISTS notices_pending ON notices (status, next_at);
`;
