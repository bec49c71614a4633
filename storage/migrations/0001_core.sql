-- Participants, their answers and progress, processed event ids, the deletion log.
CREATE TABLE participants (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    user_ref TEXT NOT NULL,            -- the platform's user id; never exported
    pseudonym TEXT NOT NULL UNIQUE,    -- keyed HMAC of (channel, user_ref); what exports show
    lang TEXT,
    consent TEXT,                      -- 'given' | 'declined' | NULL
    consent_at TEXT,
    consent_version TEXT,
    stakeholder TEXT,
    region TEXT,
    age_band TEXT,
    cursor TEXT NOT NULL DEFAULT '{}', -- the engine's place in the conversation (JSON)
    active INTEGER NOT NULL DEFAULT 1, -- 0 once they block or unfollow the bot
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (channel, user_ref)
);

CREATE TABLE answers (
    participant_id INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    area TEXT NOT NULL,
    item TEXT NOT NULL,                -- '' for an area's closing questions
    question TEXT NOT NULL,
    option TEXT,
    value INTEGER,
    text TEXT,
    skipped INTEGER NOT NULL DEFAULT 0,
    lang TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (participant_id, area, item, question)
) WITHOUT ROWID;
CREATE INDEX answers_by_time ON answers (answered_at);

CREATE TABLE progress (
    participant_id INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    area TEXT NOT NULL,
    started_at TEXT NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (participant_id, area)
) WITHOUT ROWID;

-- One row per inbound event id per channel: a repeated event finds its id here and changes nothing.
CREATE TABLE events (
    channel TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
) WITHOUT ROWID;

-- What is left after an erasure: a count, no identity.
CREATE TABLE deletions (
    id INTEGER PRIMARY KEY,
    deleted_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    answers INTEGER NOT NULL
);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
