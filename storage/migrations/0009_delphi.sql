-- Delphi rounds beyond the first: an organizer opens round 2 of an area (and closes it, or it
-- closes by itself at closes_at). `feedback` is round 1's anonymised group result by question
-- (JSON: {"area.item.question": {"n", "median", "q1", "q3"}}), computed once when the round
-- opens so that every panelist is shown the same figures. Aggregates only: no personal data.
CREATE TABLE delphi_rounds (
    area TEXT NOT NULL,
    round INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    closes_at TEXT,                    -- closes by itself then (NULL: when an organizer closes it)
    closed_at TEXT,                    -- NULL while open
    feedback TEXT NOT NULL,
    PRIMARY KEY (area, round)
);
-- at most one open round per area
CREATE UNIQUE INDEX delphi_rounds_open ON delphi_rounds (area) WHERE closed_at IS NULL;
