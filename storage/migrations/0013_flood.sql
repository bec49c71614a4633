-- Flood control's counts, where every worker sees them (bot/service.py FloodGate): per sender, the
-- platform times of the messages counted in the last window and when they were last told to slow
-- down. Read and written in the event's own unit of work, under the participant's lock, so one
-- sender has one limit whichever worker receives their messages. A row is useful for one window
-- only; retention purges the old ones (storage/retention.py) and erasure takes theirs.
CREATE TABLE flood (
    channel TEXT NOT NULL,
    user_ref TEXT NOT NULL,
    seen TEXT NOT NULL,                -- JSON list of ISO 8601 times (the platform's sent_at)
    noticed_at TEXT,                   -- when they were told "too fast"
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, user_ref)
) WITHOUT ROWID;
CREATE INDEX flood_by_update ON flood (updated_at);
