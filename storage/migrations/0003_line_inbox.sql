-- Webhook events written durably before the platform gets its 200, processed right after.
-- A replayed or redelivered event hits the (channel, event_id) key and enters nothing.
-- `seq` is arrival order; each chat's rows are processed in that order. Once processed, the body
-- and reply token are cleared: the row stays only as a dedupe key.
CREATE TABLE inbox (
    seq INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    event_id TEXT NOT NULL,              -- LINE: webhookEventId
    user_ref TEXT NOT NULL,              -- the chat the event came from (a user, group or room id)
    body TEXT,                           -- the raw event JSON; NULL once processed
    reply_token TEXT,                    -- NULL when the event has none, and once processed
    retry_key TEXT NOT NULL,             -- a UUID, so a retried push of this event's replies is delivered once
    received_at TEXT NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    processed_at TEXT,
    UNIQUE (channel, event_id)
);
CREATE INDEX inbox_pending ON inbox (channel, user_ref, seq) WHERE processed = 0;
CREATE INDEX inbox_by_user ON inbox (channel, user_ref);
