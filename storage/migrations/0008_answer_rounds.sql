-- A question can be answered more than once without losing an answer: in the survey in chat
-- (round 1, source 'chat'), again in a Delphi round 2 of the area, and in the room during a live
-- focus-group session (source 'live', with the session it was given in). The primary key gains
-- round and source; the table is rebuilt to change it (SQLite cannot alter a primary key).
CREATE TABLE answers_new (
    participant_id INTEGER NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
    area TEXT NOT NULL,
    item TEXT NOT NULL,                -- '' for an area's closing questions
    question TEXT NOT NULL,
    round INTEGER NOT NULL DEFAULT 1,  -- the Delphi round (1: the survey itself)
    source TEXT NOT NULL DEFAULT 'chat', -- 'chat' | 'live' (given in the room during a live session)
    option TEXT,
    value INTEGER,
    text TEXT,
    skipped INTEGER NOT NULL DEFAULT 0,
    lang TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    survey_version TEXT,
    ref TEXT,
    session_id INTEGER REFERENCES sessions (id) ON DELETE SET NULL, -- the live session, for source 'live'
    PRIMARY KEY (participant_id, area, item, question, round, source)
) WITHOUT ROWID;
INSERT INTO answers_new (participant_id, area, item, question, option, value, text, skipped, lang, answered_at,
                         survey_version, ref)
    SELECT participant_id, area, item, question, option, value, text, skipped, lang, answered_at, survey_version, ref
    FROM answers;
DROP TABLE answers;
ALTER TABLE answers_new RENAME TO answers;
CREATE INDEX answers_by_time ON answers (answered_at);
CREATE INDEX answers_by_ref ON answers (participant_id, ref) WHERE ref IS NOT NULL;
