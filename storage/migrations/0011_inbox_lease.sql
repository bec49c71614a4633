-- Several workers share one inbox on PostgreSQL: a worker leases a chat's unprocessed rows while
-- it processes them (storage/inbox.py `claim`), so a chat is worked on by one worker at a time,
-- in arrival order. A lease that runs out (its worker died) lets another worker take the chat.
-- On SQLite one process owns the file and the columns stay empty.
ALTER TABLE inbox ADD COLUMN leased_by TEXT;
ALTER TABLE inbox ADD COLUMN leased_until TEXT;
