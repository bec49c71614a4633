-- Focus-group sessions, registrations, and a record of every reminder or notice sent.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    area TEXT NOT NULL,
    title_th TEXT NOT NULL,
    title_en TEXT NOT NULL,
    starts_at TEXT NOT NULL,           -- UTC, ISO 8601
    ends_at TEXT,
    place TEXT,                        -- a place or an online link
    capacity INTEGER,                  -- NULL: unlimited
    status TEXT NOT NULL DEFAULT 'scheduled', -- 'scheduled' | 'cancelled'
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sessions_by_start ON sessions (starts_at);

CREATE TABLE registrations (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    participant_id INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (session_id, participant_id)
) WITHOUT ROWID;

-- Exactly-once delivery of reminders and notices: a send is recorded before it is acknowledged.
CREATE TABLE deliveries (
    kind TEXT NOT NULL,                -- 'reminder:24h', 'cancelled', 'moved:<starts_at>', 'nudge', 'broadcast'
    ref TEXT NOT NULL,                 -- session id, area, or broadcast id
    participant_id INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    status TEXT NOT NULL,              -- 'sent' | 'failed' | 'blocked'
    at TEXT NOT NULL,
    PRIMARY KEY (kind, ref, participant_id)
) WITHOUT ROWID;
