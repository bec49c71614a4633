-- The inbox is channel-neutral: `body` holds the event as the bot understands it (JSON of what the
-- participant did), `context` the channel's own way to answer it (LINE: the reply token; Telegram:
-- the tapped message), both cleared once processed. Rows stored before this migration keep the
-- LINE event itself in `body` and the bare reply token in `context`; the LINE channel reads those.
ALTER TABLE inbox RENAME COLUMN reply_token TO context;
