-- A moved session notifies its registrants once per new time; broadcasts resume after a restart.
ALTER TABLE sessions ADD COLUMN moved_at TEXT;

CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    audience TEXT NOT NULL,            -- 'all' | 'area:<id>' | 'session:<id>'
    text_th TEXT NOT NULL,
    text_en TEXT NOT NULL,
    requested_by TEXT,                 -- '<channel>:<user id>' of the admin who gets the report
    created_at TEXT NOT NULL,
    finished_at TEXT,
    sent INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX progress_open ON progress (area) WHERE completed_at IS NULL;
