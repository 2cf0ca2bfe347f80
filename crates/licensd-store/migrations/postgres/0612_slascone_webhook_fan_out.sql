-- SLASCONE webhooks (registered with POST /api/v2/isv/{isv_id}/webhooks, stored as
-- slascone_entries of kind 'webhook': name = the URL, detail = the webhook's name) hear about
-- every event, like the /v1/webhooks fan-out (0611): a trigger on `events` queues one outbox
-- delivery (kind 'slascone.webhook') per registered webhook in the inserting transaction. The
-- body is SLASCONE-shaped: snake_case names, ids as the dialect's GUIDs
-- (00000000-0000-8000-8000-<12 hex digits>, as `id_guid` renders them), UTC times.
-- Keep in step with migrations/sqlite/0612_slascone_webhook_fan_out.sql.
CREATE FUNCTION slascone_guid(id BIGINT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS
$$ SELECT '00000000-0000-8000-8000-' || lpad(to_hex(GREATEST(id, 0)), 12, '0') $$;

CREATE FUNCTION events_slascone_webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $fan_out$
BEGIN
    INSERT INTO outbox_deliveries (kind, target_url, body, headers, status, attempts, next_attempt_at,
                                   created_at)
    SELECT 'slascone.webhook', w.name,
           json_build_object(
               'id', slascone_guid(NEW.id),
               'webhook_id', slascone_guid(w.id),
               'webhook_name', w.detail,
               'event', NEW.action,
               'created_date_utc', to_char(to_timestamp(NEW.at / 1000.0) AT TIME ZONE 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               'entity_type', NEW.subject_type,
               'entity_id', CASE WHEN NEW.subject_id IS NULL THEN NULL ELSE slascone_guid(NEW.subject_id) END,
               'created_by', NEW.actor,
               'data', NEW.data::json)::text,
           '[["content-type","application/json"]]', 'pending', 0, NEW.at, NEW.at
    FROM slascone_entries w
    WHERE w.kind = 'webhook';
    RETURN NULL;
END
$fan_out$;

CREATE TRIGGER events_slascone_webhook_fan_out AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_slascone_webhook_fan_out();
