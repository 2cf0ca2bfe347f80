-- SLASCONE webhooks (registered with POST /api/v2/isv/{isv_id}/webhooks, stored as
-- slascone_entries of kind 'webhook': name = the URL, detail = the webhook's name) hear about
-- every event, like the /v1/webhooks fan-out (0611): a trigger on `events` queues one outbox
-- delivery (kind 'slascone.webhook') per registered webhook in the inserting transaction. The
-- body is SLASCONE-shaped: snake_case names, ids as the dialect's GUIDs
-- (00000000-0000-8000-8000-<12 hex digits>, as `id_guid` renders them), UTC times.
-- Keep in step with migrations/postgres/0612_slascone_webhook_fan_out.sql.
CREATE TRIGGER events_slascone_webhook_fan_out AFTER INSERT ON events
BEGIN
    INSERT INTO outbox_deliveries (kind, target_url, body, headers, status, attempts, next_attempt_at,
                                   created_at)
    SELECT 'slascone.webhook', w.name,
           json_object(
               'id', printf('00000000-0000-8000-8000-%012x', max(NEW.id, 0)),
               'webhook_id', printf('00000000-0000-8000-8000-%012x', max(w.id, 0)),
               'webhook_name', w.detail,
               'event', NEW.action,
               'created_date_utc', strftime('%Y-%m-%dT%H:%M:%fZ', NEW.at / 1000.0, 'unixepoch'),
               'entity_type', NEW.subject_type,
               'entity_id', CASE WHEN NEW.subject_id IS NULL THEN NULL
                                 ELSE printf('00000000-0000-8000-8000-%012x', max(NEW.subject_id, 0)) END,
               'created_by', NEW.actor,
               'data', json(NEW.data)),
           '[["content-type","application/json"]]', 'pending', 0, NEW.at, NEW.at
    FROM slascone_entries w
    WHERE w.kind = 'webhook';
END;
