-- The platform's id of the message that gave a typed answer (LINE: message.id), so that taking the
-- message back (unsend) erases the answer and editing it replaces the answer while it is the one
-- stored. Not a user id, but it is theirs: it goes with the participant (cascade) and with retention.
ALTER TABLE answers ADD COLUMN ref TEXT;
CREATE INDEX answers_by_ref ON answers (participant_id, ref) WHERE ref IS NOT NULL;
