-- Each distinct survey content the bot has loaded, by its hash (bot.surveys.Catalog.version), with
-- the content itself, so an analyst can see what exactly was asked. Every answer keeps the version
-- it was given under; NULL for answers stored before versions were recorded.
CREATE TABLE survey_versions (
    version TEXT PRIMARY KEY,
    first_loaded_at TEXT NOT NULL,
    content TEXT NOT NULL              -- the surveys as canonical JSON
);
ALTER TABLE answers ADD COLUMN survey_version TEXT;
