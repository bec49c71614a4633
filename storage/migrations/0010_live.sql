-- Live focus-group sessions (issue 16). A session an organizer runs live has a short code to
-- check in with; the facilitator opens its capabilities one at a time, and the room answers them
-- on its phones (answers with source 'live' and the session id, migration 0008).
CREATE TABLE live_sessions (
    session_id INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,          -- what a participant sends (or a deep link carries) to check in
    started_at TEXT NOT NULL,
    stopped_at TEXT,                    -- set by `live stop`: the session is over
    open_item TEXT,                     -- the capability open now ('area.item'), NULL between capabilities
    opened_at TEXT,                     -- when it was opened: its push wave goes to those checked in by then
    requested_by TEXT                   -- the organizer driving it (`channel:user`), told how each wave went
);
CREATE TABLE live_items (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    item TEXT NOT NULL,                 -- 'area.item'
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    PRIMARY KEY (session_id, item)
);
CREATE TABLE checkins (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    participant_id INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    checked_in_at TEXT NOT NULL,
    PRIMARY KEY (session_id, participant_id)
);
CREATE INDEX answers_by_session ON answers (session_id, source) WHERE session_id IS NOT NULL;
